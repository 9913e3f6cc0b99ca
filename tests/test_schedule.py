"""One schedule for the whole build (issue 19): outputs are made side by side, the layouts of all of them
on one pool of workers, and committed in registry order; the printable cards are laid out in parts."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from pipeline.build import Options, build
from pipeline.diagnostics import ContentError
from pipeline.pdf import cards

from .conftest import FIXTURES, REPO

EPOCH = 1_700_000_000
ALL = ("html", "pdf", "epub", "anki", "cards")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    if (REPO / ".cache" / "fonts").is_dir():
        (folder / "fonts").symlink_to(REPO / ".cache" / "fonts")  # derived fonts are slow to make
    return folder


def _content(tmp_path: Path) -> Path:
    """The small fixture handbook, with a second chapter of three questions."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", content)
    questions = "".join(f"\n## 第{n}题 {{#later-{n}}}\n\n第{n}题的答案。\n" for n in range(1, 4))
    (content / "02-later.md").write_text(f"---\nid: later\ntitle: 后面的章\n---\n{questions}", encoding="utf-8")
    return content


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _build(content: Path, out: Path, cache: Path | None, jobs: int = 2) -> list[str]:
    lines: list[str] = []
    options = Options(out_dir=out, cache_dir=cache, source_date_epoch=EPOCH, jobs=jobs)
    build(content, ALL, options, progress=lines.append)
    return lines


def test_a_failing_pdf_commits_none_of_the_outputs_after_it(tmp_path: Path, cache: Path) -> None:
    """The deck and the cards are made while the PDF is laid out; when the PDF then fails (a character no
    font has), they are not put in place: the build writes what one output after another would have."""
    content = _content(tmp_path)
    out = tmp_path / "out"
    _build(content, out, cache)
    before = _digests(out)
    chapter = next(iter(sorted(content.glob("*.md"))))
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n私用区字符 \ue000。\n", encoding="utf-8")
    with pytest.raises(ContentError, match="error"):
        _build(content, out, cache)
    after = _digests(out)
    assert {k: v for k, v in after.items() if not k.startswith("html/")} == {
        k: v for k, v in before.items() if not k.startswith("html/")
    }
    assert after != before  # the HTML, before the PDF in the registry, was committed, as it would have been
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_cards_are_laid_out_in_parts_and_an_edit_lays_out_one(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cards, "ROWS", 1)  # two cards a sheet, a sheet a part: five questions, three parts
    monkeypatch.setattr(cards, "SHEETS_PER_PART", 1)
    content = _content(tmp_path)
    out = tmp_path / "out"
    lines = _build(content, out, cache)
    assert "cards: 3 of 3 parts laid out, the rest from the cache" in lines
    # The deck and the cards wait for the book's page numbers, not for both editions (the EPUB waits for
    # the HTML too, which may take longer than this small PDF).
    practice = next(line for line in lines if line.startswith("pdf: assembling the practice"))
    for name in ("building anki", "building cards"):
        assert lines.index(name) < lines.index(practice), lines
    later = content / "02-later.md"
    later.write_text(later.read_text(encoding="utf-8").replace("第3题 {", "改过的第3题 {"), encoding="utf-8")
    lines = _build(content, out, cache, jobs=1)  # the last card, on the last sheet
    assert "cards: 1 of 3 parts laid out, the rest from the cache" in lines
    fresh = tmp_path / "fresh"
    _build(content, fresh, None, jobs=1)
    # Every output but the deck, whose note times grow with each build that changes a note (anki_state).
    deck = ("handbook.apkg", "anki-state.json")
    assert {k: v for k, v in _digests(out).items() if k not in deck} == {
        k: v for k, v in _digests(fresh).items() if k not in deck
    }
