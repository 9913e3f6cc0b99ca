"""Reading with the cache: each chapter file's scan and chapter are stored, so a re-read after an edit
parses only the file that changed, and the handbook and its diagnostics are those of a fresh read."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline import cache as cache_module
from pipeline.cache import Cache, FileDigests
from pipeline.diagnostics import ContentError, Diagnostic
from pipeline.model import Handbook
from pipeline.parser import load_handbook, stored

CONTENT = Path(__file__).resolve().parent.parent / "content"


def _content(tmp_path: Path) -> Path:
    """content/ with warnings in two files, from both passes (scan: a question without an id; chapter:
    a skipped heading level, a link to an unknown question, a lone dollar sign)."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    files = sorted(root.glob("*.md"))
    for path in (files[0], files[2]):
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text + "\n## 没有编号的问题\n\n#### 跳级标题\n\n见 [别处](#no-such-question)，价格 $5。\n", encoding="utf-8"
        )
    return root


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the two passes run (not counting files replayed from the cache)."""
    counts = {"scan": 0, "chapter": 0}

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return run

    monkeypatch.setattr(stored, "scan_chapter", counted("scan", stored.scan_chapter))
    monkeypatch.setattr(stored.ChapterBuilder, "chapter", counted("chapter", stored.ChapterBuilder.chapter))
    return counts


def _read(root: Path, cache: Path | None) -> tuple[Handbook, tuple[Diagnostic, ...]]:
    return load_handbook(root, Cache(cache) if cache is not None else None)


def test_a_stored_reading_is_the_fresh_one_with_the_same_diagnostics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _content(tmp_path)
    fresh, warnings = _read(root, None)
    assert len({d.path for d in warnings}) == 2 and len(warnings) >= 6
    counts = _counting(monkeypatch)
    cold = _read(root, tmp_path / "cache")
    files = len(fresh.chapters)
    assert counts == {"scan": files, "chapter": files}
    warm = _read(root, tmp_path / "cache")
    assert counts == {"scan": files, "chapter": files}  # nothing parsed again
    assert cold == warm == (fresh, warnings)


def test_an_edit_to_one_answer_reads_only_that_file_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _content(tmp_path)
    _read(root, tmp_path / "cache")
    path = sorted(root.glob("*.md"))[1]
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[9] += "又补充了一句。"
    path.write_text("\n".join(lines), encoding="utf-8")

    counts = _counting(monkeypatch)
    with_cache = _read(root, tmp_path / "cache")
    assert counts == {"scan": 1, "chapter": 1}
    assert with_cache == _read(root, None)


def test_an_edit_to_a_question_id_builds_every_chapter_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Links resolve against the whole id table: a changed id changes every chapter's key."""
    root = _content(tmp_path)
    _read(root, tmp_path / "cache")
    path = sorted(root.glob("*.md"))[1]
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n## 新问题 {#a-new-question}\n\n答案。\n", encoding="utf-8")

    counts = _counting(monkeypatch)
    with_cache = _read(root, tmp_path / "cache")
    # The unchanged files are scanned again too, for the syntax trees their chapters are built from.
    assert counts["scan"] == counts["chapter"] == len(with_cache[0].chapters)
    assert with_cache == _read(root, None)


def test_an_image_replaced_by_a_refused_one_is_checked_again(tmp_path: Path) -> None:
    root = _content(tmp_path)
    _read(root, tmp_path / "cache")
    image = next(root.joinpath("images").glob("*.svg"))
    image.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<image xlink:href="file:///etc/passwd"/></svg>', encoding="utf-8"
    )
    with pytest.raises(ContentError) as cached:
        _read(root, tmp_path / "cache")
    with pytest.raises(ContentError) as fresh:
        _read(root, None)
    assert cached.value.diagnostics == fresh.value.diagnostics
    assert any("refused" in d.message for d in cached.value.diagnostics)


def test_a_damaged_entry_is_read_again(tmp_path: Path) -> None:
    root = _content(tmp_path)
    expected = _read(root, tmp_path / "cache")
    for entry in (tmp_path / "cache" / "reading").rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes()[:-1] + b"!")
    assert _read(root, tmp_path / "cache") == expected


def test_file_digests_are_remembered_by_status_and_follow_the_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_SETTLED_NS", 0)  # files written just now count as settled
    path = tmp_path / "file.txt"
    path.write_bytes(b"one")
    cache = Cache(tmp_path / "cache")
    digests = FileDigests(cache, tmp_path)
    first = digests.digest(path)
    digests.save()
    again = FileDigests(cache, tmp_path)
    reads: list[Path] = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or b"one")
    assert again.digest(path) == first and reads == []  # remembered, not read
    monkeypatch.undo()
    monkeypatch.setattr(cache_module, "_SETTLED_NS", 0)
    path.write_bytes(b"two")
    assert FileDigests(cache, tmp_path).digest(path) != first
    assert FileDigests(cache, tmp_path).digest(tmp_path / "gone") is None
