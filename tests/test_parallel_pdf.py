"""The PDF laid out per chapter in worker processes, then assembled: the same bytes as one process
without a cache, links and page numbers that cross chapters, and rebuilds that lay out only what changed.

(tests/test_pdf.py judges the assembled book itself: outline, contents, running heads, fonts, text.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pypdf
import pytest

from pipeline.build import Options, build
from pipeline.pdf import OUTPUT_NAME, PRACTICE_NAME
from pipeline.pdf import engine
from pipeline.pdf.edition import Edition
from pipeline.writers import FORMATS
from tests.test_pdf import EPOCH, MINI, outline, page_text, squeeze

CHAPTER_TWO = """\
---
id: second-chapter
title: 第二章的标题
---

## 跨章引用 {#cross tags="basics"}

见[第一章的问题](#what-is-x)。

## 长答案 {#long}

""" + "\n\n".join(f"第 {i} 段：为了让本章跨过好几页，这里写上一段足够长的中文文字。" * 6 for i in range(1, 30))

CHAPTER_THREE = """\
---
id: third-chapter
title: 第三章
---

## 回指 {#back-ref}

回到[跨章引用](#cross)。
"""


@pytest.fixture(scope="module")
def fonts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Derived fonts are tool resources, not build results: reuse the repository's when it has them.
    shared = Path(__file__).resolve().parent.parent / ".cache"
    return shared if (shared / "fonts").is_dir() else tmp_path_factory.mktemp("fonts")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(MINI, root)
    (root / "02-second.md").write_text(CHAPTER_TWO, encoding="utf-8")
    (root / "03-third.md").write_text(CHAPTER_THREE, encoding="utf-8")
    return root


def _build(content: Path, out: Path, formats: tuple[str, ...] = ("pdf",), **options: Any) -> list[str]:
    lines: list[str] = []
    build(content, formats, Options(out_dir=out, source_date_epoch=EPOCH, **options), progress=lines.append)
    return lines


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_parallel_cached_build_equals_one_process_without_cache(
    content: Path, tmp_path: Path
) -> None:
    # Without a cache the fonts are derived again, into a temporary folder (2 s): the same bytes too.
    _build(content, tmp_path / "serial", FORMATS, jobs=1, cache_dir=None)
    _build(content, tmp_path / "parallel", FORMATS, jobs=2, cache_dir=tmp_path / "cache")
    again = _build(content, tmp_path / "again", FORMATS, jobs=2, cache_dir=tmp_path / "cache")
    serial = _files(tmp_path / "serial")
    assert OUTPUT_NAME in serial and PRACTICE_NAME in serial
    assert _files(tmp_path / "parallel") == serial
    assert _files(tmp_path / "again") == serial
    assert "unchanged: outputs from the cache" in again


def test_links_and_page_numbers_cross_chapters(content: Path, tmp_path: Path, fonts_dir: Path) -> None:
    _build(content, tmp_path / "out", jobs=2, cache_dir=fonts_dir)
    book = tmp_path / "out" / OUTPUT_NAME
    reader = pypdf.PdfReader(book)
    heading = {q.title.split(" ", 1)[0]: q.page for c in outline(book) for q in c.children}
    # 2.1 refers to 1.1 (an earlier chapter), 3.1 to 2.1: the printed number is the heading's page
    assert f"（第{heading['1.1']}页）" in squeeze(page_text(book, heading["2.1"]))
    assert f"（第{heading['2.1']}页）" in squeeze(page_text(book, heading["3.1"]))
    targets: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        for annotation in page.get("/Annots", ()):
            dest = annotation.get_object().get("/Dest")
            assert not isinstance(dest, str), f"page {number}: link to a named destination {dest!r} left over"
            if dest is not None:
                targets.append(reader.get_page_number(dest[0].get_object()) + 1)
    # the contents, the tag index and the cross-references all land on headings' pages
    assert set(heading.values()) <= set(targets)


def test_editing_one_answer_lays_out_only_its_chapter(content: Path, tmp_path: Path, fonts_dir: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "fonts").parent.mkdir(parents=True)
    (cache / "fonts").symlink_to(fonts_dir / "fonts")
    first = _build(content, tmp_path / "out", jobs=2, cache_dir=cache)
    assert "pdf: book: 3 of 3 chapters laid out, the rest from the cache" in first

    chapter = content / "03-third.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n再补一句。\n", encoding="utf-8")
    second = _build(content, tmp_path / "out2", jobs=2, cache_dir=cache)
    assert "pdf: book: 1 of 3 chapters laid out, the rest from the cache" in second
    # no answer there; its chapters run on in one part
    assert "pdf: practice: 0 of 1 chapters laid out, the rest from the cache" in second
    assert any(line.startswith("pdf: assembling the book") for line in second)
    assert any(line.startswith("pdf: the practice") and line.endswith("from the cache") for line in second)
    book = tmp_path / "out2" / OUTPUT_NAME
    assert "再补一句" in squeeze(page_text(book, outline(book)[-1].page))


def _laid_out(content: Path, out: Path, cache: Path) -> list[str]:
    """Build the PDF with one job and a cache; the parts WeasyPrint laid out, by name (stamps left out)."""
    names: list[str] = []
    real = engine.lay_out

    def counting(job: engine.Job, destination: str) -> engine.Part:
        if "stamp-folio" not in job.css:
            names.append(next(n for n, i in identifiers.items() if i == job.identifier))
        return real(job, destination)

    meta = SimpleNamespace(meta=SimpleNamespace(id="mini"))
    identifiers = {
        f"{edition}/{part}": Edition._identifier(SimpleNamespace(handbook=meta, name=edition), part)  # type: ignore[arg-type]
        for edition in ("book", "practice")
        for part in ("front", "back", "basics", "second-chapter", "third-chapter",
                     "basics+second-chapter+third-chapter")
    }
    with mock.patch.object(engine, "lay_out", counting):
        _build(content, out, jobs=1, cache_dir=cache)
    return names


def test_every_part_is_laid_out_once_and_moved_page_numbers_only_restamp(content: Path, tmp_path: Path) -> None:
    chapter = content / "01-basics.md"

    def lengthen_first_answer(by: str) -> None:  # by two pages; its ruled lines in the practice edition are
        # already at their most after the first time
        more = "\n\n".join(f"{by}第 {i} 段：这一段只为让第一章多出两页，写得足够长，足够长。" * 5 for i in range(40))
        text = chapter.read_text(encoding="utf-8")
        chapter.write_text(text.replace("## 第二题", more + "\n\n## 第二题"), encoding="utf-8")

    lengthen_first_answer("甲")
    cache = tmp_path / "cache"
    cold = _laid_out(content, tmp_path / "cold", cache)
    # The contents, the tag index and the practice edition print page numbers in boxes the stamps fill:
    # each laid out once. A cross-reference's number runs in its text: the chapters that print one (all
    # three; the practice edition shows no answers, so none) are laid out once more when the numbers turn
    # out not to be 0.
    assert sorted(cold) == sorted([
        "book/front", "book/back", "book/basics", "book/basics", "book/second-chapter", "book/second-chapter",
        "book/third-chapter", "book/third-chapter", "practice/front",
        "practice/basics+second-chapter+third-chapter",
    ])

    # Two more pages in the first chapter: every later page number moves. The chapters that print a
    # cross-reference's number start from the numbers of the last build (a guess): the first chapter (its
    # own reference moved) and the third (it points into the second) are laid out again, the second (it
    # points at the first question, which did not move), the contents, the index and the practice
    # edition are not: their numbers are only stamped.
    lengthen_first_answer("乙")
    edited = _laid_out(content, tmp_path / "edited", cache)
    assert sorted(edited) == ["book/basics", "book/basics", "book/third-chapter"]
    _build(content, tmp_path / "reference", jobs=1, cache_dir=None)
    assert _files(tmp_path / "edited") == _files(tmp_path / "reference")

    # A word more in a chapter that prints a cross-reference's number, which does not move: once.
    third = content / "03-third.md"
    third.write_text(third.read_text(encoding="utf-8").replace("回到", "再回到"), encoding="utf-8")
    assert _laid_out(content, tmp_path / "word", cache) == ["book/third-chapter"]
