"""The deck's per-chapter cache: an edit renders only the edited chapter's note fields, and the deck and
its state file are byte for byte those of a build without any cache from the same state."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from pipeline.anki import DECK_FILE, STATE_FILE
from pipeline.build import Options, build
from pipeline.pages import PAGES_FILE

from .conftest import FIXTURES

EPOCH = 1_700_000_000
# A second chapter with a cloze, so that cloze notes go through the cache too.
SECOND_CHAPTER = """\
---
id: more
title: 进阶
---

## 第三题 {#third tags="x deep"}

第三题的==答案==。
"""


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", root)
    (root / "02-more.md").write_text(SECOND_CHAPTER, encoding="utf-8")
    return root


def build_anki(content: Path, out: Path, cache: Path | None, **selection: tuple[str, ...]) -> str:
    """Build the deck; the progress line that says how many chapters' fields were rendered."""
    lines: list[str] = []
    options = Options(out_dir=out, cache_dir=cache, source_date_epoch=EPOCH, **selection)
    build(content, ["anki"], options, progress=lines.append)
    [line] = [line for line in lines if line.startswith("anki: note fields")]
    return line


def rendered(count: int, of: int) -> str:
    return f"anki: note fields of {count} of {of} chapters rendered, the others from the cache"


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (DECK_FILE, STATE_FILE)}


def note_fields(deck: Path) -> list[str]:
    with zipfile.ZipFile(deck) as archive:
        db = sqlite3.connect(":memory:")
        db.deserialize(archive.read("collection.anki2"))
    try:
        return [row[0] for row in db.execute("select flds from notes")]
    finally:
        db.close()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_edit_renders_one_chapter_and_gives_the_bytes_of_a_build_without_cache(content: Path, tmp_path: Path) -> None:
    out, cache, uncached = tmp_path / "out", tmp_path / "cache", tmp_path / "uncached"
    assert build_anki(content, out, cache) == rendered(2, 2)
    shutil.copytree(out, uncached)  # the same state file for the build without cache
    edit(content / "02-more.md", "第三题的", "改过的第三题的")
    assert build_anki(content, out, cache) == rendered(1, 2)
    assert build_anki(content, uncached, None) == rendered(2, 2)
    assert outputs(out) == outputs(uncached)
    assert any("改过的第三题的" in fields for fields in note_fields(out / DECK_FILE))


def test_a_new_printed_page_renders_that_chapter_again(content: Path, tmp_path: Path) -> None:
    out, cache, uncached = tmp_path / "out", tmp_path / "cache", tmp_path / "uncached"
    build_anki(content, out, cache)
    shutil.copytree(out, uncached)
    for folder in (out, uncached):
        (folder / PAGES_FILE).write_text('{"format": 1, "handbook": "mini", "pages": {"third": 9}}', encoding="utf-8")
    assert build_anki(content, out, cache) == rendered(1, 2)
    build_anki(content, uncached, None)
    assert outputs(out) == outputs(uncached)


def test_settings_render_every_chapter_again(content: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build_anki(content, out, cache)
    config = content / "handbook.toml"
    config.write_text(config.read_text(encoding="utf-8") + 'html_url = "https://example.org/h/"\n', encoding="utf-8")
    assert build_anki(content, out, cache) == rendered(2, 2)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"chapters": ("more",)}, rendered(0, 1)),  # the chapter's fields as the full deck had them
        ({"tags": ("x",)}, rendered(1, 2)),  # 'basics' with one question of two: other fields
    ],
)
def test_subset_build_after_a_full_one(
    content: Path, tmp_path: Path, selection: dict[str, tuple[str, ...]], expected: str,
) -> None:
    out, cache, uncached = tmp_path / "out", tmp_path / "cache", tmp_path / "uncached"
    build_anki(content, out, cache)
    shutil.copytree(out, uncached)
    assert build_anki(content, out, cache, **selection) == expected
    build_anki(content, uncached, None, **selection)
    assert outputs(out) == outputs(uncached)


def test_damaged_entries_are_rendered_again(content: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build_anki(content, out, cache)
    cold = outputs(out)
    shutil.rmtree(cache / "outputs")  # so that the deck is made, not copied whole
    entries = [p for p in (cache / "anki-fields").rglob("*") if p.is_file()]
    assert len(entries) == 2
    entries[0].write_bytes(entries[0].read_bytes()[:-5] + b"xxxxx")
    assert build_anki(content, out, cache) == rendered(1, 2)
    assert outputs(out) == cold
