"""The build cache: entries that verify themselves, and builds that reuse outputs only when nothing
they depend on changed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.build import Options, build
from pipeline.cache import Cache, key
from pipeline.diagnostics import ContentError, Diagnostic
from pipeline.pdf import OUTPUT_NAME
from tests.test_pdf import EPOCH, MINI

UNCHANGED = "unchanged: outputs from the cache"


def test_entries_round_trip_and_a_damaged_one_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put("ns", "ab" * 32, b"payload")
    assert cache.get("ns", "ab" * 32) == b"payload"
    cache.put_record("ns", "cd" * 32, {"pages": 3}, b"%PDF")
    assert cache.get_record("ns", "cd" * 32) == ({"pages": 3}, b"%PDF")

    entry = tmp_path / "ns" / "ab" / ("ab" * 32)
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert cache.get("ns", "ab" * 32) is None
    assert not entry.exists()  # not trusted, not kept
    (tmp_path / "ns" / "cd" / ("cd" * 32)).write_bytes(b"short")
    assert cache.get_record("ns", "cd" * 32) is None


def test_no_folder_never_hits_and_never_writes(tmp_path: Path) -> None:
    cache = Cache(None)
    cache.put("ns", "ef" * 32, b"x")
    assert cache.get("ns", "ef" * 32) is None


def test_keys_separate_their_parts() -> None:
    assert key("ab", "c") != key("a", "bc")
    assert key("a", b"b") == key("a", "b")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    shared = Path(__file__).resolve().parent.parent / ".cache" / "fonts"
    if shared.is_dir():  # deriving the fonts takes a minute: they are tool resources, not build results
        (folder / "fonts").symlink_to(shared)
    return folder


def _build(content: Path, out: Path, cache: Path, formats: tuple[str, ...] = ("pdf",)) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    diagnostics: list[Diagnostic] = []
    options = Options(out_dir=out, cache_dir=cache, source_date_epoch=EPOCH, jobs=1)
    build(content, formats, options, progress=lines.append, on_diagnostic=diagnostics.append)
    return lines, [str(d) for d in diagnostics]


def test_a_rebuild_without_change_copies_outputs_and_repeats_the_warnings(tmp_path: Path, cache: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(MINI, content)
    (content / "01-basics.md").write_text(
        (content / "01-basics.md").read_text(encoding="utf-8") + "\n坏公式 $\\frac{a$。\n", encoding="utf-8"
    )
    formats = ("html", "epub", "anki", "pdf")
    first, warned = _build(content, tmp_path / "a", cache, formats)
    second, warned_again = _build(content, tmp_path / "b", cache, formats)
    assert UNCHANGED not in first and UNCHANGED in second
    assert warned and warned_again == warned
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes() == path.read_bytes()


def test_a_changed_setting_or_damaged_blob_builds_again(tmp_path: Path, cache: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(MINI, content)
    _build(content, tmp_path / "a", cache)
    original = (tmp_path / "a" / OUTPUT_NAME).read_bytes()

    toml = content / "handbook.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('version = "', 'version = "9'), encoding="utf-8")
    changed, _ = _build(content, tmp_path / "b", cache)
    assert UNCHANGED not in changed
    assert (tmp_path / "b" / OUTPUT_NAME).read_bytes() != original

    for blob in (cache / "blobs").rglob("*"):
        if blob.is_file():
            blob.write_bytes(blob.read_bytes()[:-1] + b"?")
    rebuilt, _ = _build(content, tmp_path / "c", cache)
    assert UNCHANGED not in rebuilt  # the damaged copy is not trusted
    assert (tmp_path / "c" / OUTPUT_NAME).read_bytes() == (tmp_path / "b" / OUTPUT_NAME).read_bytes()


def _truncate_every_file(parts: Path) -> None:
    for entry in parts.rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes()[:100])


def _flip_a_byte_of_each_pdf(parts: Path) -> None:
    pdfs = list(parts.rglob("*.pdf"))
    assert pdfs  # the parts' PDFs are plain files the assembly opens in place, beside intact entries
    for pdf in pdfs:
        data = bytearray(pdf.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, one byte off
        pdf.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate_every_file, _flip_a_byte_of_each_pdf])
def test_damaged_chapter_layouts_are_laid_out_again(
    tmp_path: Path, cache: Path, damage: Callable[[Path], None]
) -> None:
    content = tmp_path / "content"
    shutil.copytree(MINI, content)
    _build(content, tmp_path / "a", cache)
    damage(cache / "pdf-parts")
    shutil.rmtree(cache / "outputs")
    lines, _ = _build(content, tmp_path / "b", cache)
    assert "pdf: book: 1 of 1 chapters laid out, the rest from the cache" in lines
    assert (tmp_path / "b" / OUTPUT_NAME).read_bytes() == (tmp_path / "a" / OUTPUT_NAME).read_bytes()


def test_a_rebuild_leaves_intact_outputs_alone_and_repairs_touched_ones(tmp_path: Path, cache: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(MINI, content)
    out = tmp_path / "out"
    formats = ("html", "pdf")
    _build(content, out, cache, formats)
    pdf, page = out / OUTPUT_NAME, out / "html" / "index.xhtml"
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (pdf, page)}
    good = {p: p.read_bytes() for p in (pdf, page)}

    lines, _ = _build(content, out, cache, formats)
    assert UNCHANGED in lines
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (pdf, page)} == before  # not even rewritten

    pdf.write_bytes(b"%PDF- scribbled over")
    page.write_bytes(good[page].replace(b"<body", b"<body data-edited='yes'"))
    (out / "html" / "stray.txt").write_text("left by someone", encoding="utf-8")
    lines, _ = _build(content, out, cache, formats)
    assert UNCHANGED in lines  # still nothing to make: the outputs are copied back from the cache
    assert pdf.read_bytes() == good[pdf] and page.read_bytes() == good[page]
    assert not (out / "html" / "stray.txt").exists()


def test_prune_removes_the_least_recently_used_and_keeps_the_fonts(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for number, entry in enumerate(["aa" * 32, "bb" * 32, "cc" * 32]):
        cache.put("blobs", entry, bytes(1000))
        os.utime(tmp_path / "blobs" / entry[:2] / entry, ns=(number * 10**9, number * 10**9))
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "NotoSansSC.ttf").write_bytes(bytes(5000))
    assert cache.get("blobs", "aa" * 32) is not None  # a use: now the most recent

    removed = cache.prune(limit=2100)
    assert removed == 1032
    assert cache.has("blobs", "aa" * 32) and cache.has("blobs", "cc" * 32)
    assert not cache.has("blobs", "bb" * 32)
    assert (tmp_path / "fonts" / "NotoSansSC.ttf").exists()
    assert cache.prune(limit=2100) == 0
    assert cache.prune(limit=0) == 0  # files used in the last minutes stay (a build beside this one)


def test_strict_fails_on_cached_warnings_before_writing_anything(tmp_path: Path, cache: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(MINI, content)
    chapter = content / "01-basics.md"
    text = chapter.read_text(encoding="utf-8")
    for warning in ("\n坏公式 $\\frac{a$。\n", ""):  # a renderer's warning, then a reader's
        chapter.write_text(text + warning, encoding="utf-8")
        if not warning:
            chapter.write_text(text.replace("---\n", "---\nextra: 1\n", 1), encoding="utf-8")
        _build(content, tmp_path / "a", cache, ("html",))
        options = Options(out_dir=tmp_path / "b", cache_dir=cache, source_date_epoch=EPOCH, jobs=1)
        with pytest.raises(ContentError):
            build(content, ("html",), options, strict=True)
        assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
