"""The EPUB: epubcheck finds nothing, the package says what it holds, and rebuilds are byte-identical."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest

from pipeline import epub
from pipeline.archive import build_time, compress_type, zip_bytes
from pipeline.build import Options, build
from pipeline.model import Handbook
from pipeline.pages import PAGES_FILE, dumps_pages
from pipeline.parser import load_handbook

from .test_html import EPUBCHECK_JAR, PROJECT, SOURCE_DATE_EPOCH, Built, build_outputs, with_fonts, write_content

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
XHTML = "{http://www.w3.org/1999/xhtml}"
NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
EPUB_NS = "{http://www.idpf.org/2007/ops}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("epub")
    return build_outputs(write_content(root), root / "out", root / "cache")


@pytest.fixture(scope="module")
def book(built: Built) -> zipfile.ZipFile:
    return zipfile.ZipFile(built.out / epub.OUTPUT_NAME)


def read_xml(book: zipfile.ZipFile, name: str) -> ET.Element:
    return ET.fromstring(book.read(name))


def epubcheck(path: Path) -> list[str]:
    process = subprocess.run(
        ["java", "-jar", str(EPUBCHECK_JAR), str(path), "-q", "--json", "-"],
        capture_output=True, timeout=300, check=False,
    )
    report = json.loads(process.stdout)
    return [
        f"{m['severity']} {m['ID']} {m['message']} {m['locations'][:1]}"
        for m in report["messages"]
        if m["severity"] in ("FATAL", "ERROR", "WARNING")
    ]


def test_epubcheck_finds_no_errors_and_no_warnings(built: Built) -> None:
    assert epubcheck(built.out / epub.OUTPUT_NAME) == []


def test_zip_layout_mimetype_first_and_stored(built: Built, book: zipfile.ZipFile) -> None:
    data = (built.out / epub.OUTPUT_NAME).read_bytes()
    assert data[30:38] == b"mimetype" and data[38:58] == b"application/epub+zip"
    first = book.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and first.extra == b""
    names = book.namelist()
    assert names[1:] == sorted(names[1:])
    assert {i.date_time for i in book.infolist()} == {(2026, 1, 1, 0, 0, 0)}
    # Compressed formats are stored as they are (deflating them again only costs time); text is deflated.
    methods = {i.filename: i.compress_type for i in book.infolist()}
    assert methods["EPUB/assets/images/pixel.png"] == zipfile.ZIP_STORED
    assert {methods[n] for n in names if n.endswith((".xhtml", ".css", ".opf", ".ncx"))} == {zipfile.ZIP_DEFLATED}


def zipfile_bytes(entries: list[tuple[str, bytes]], when: datetime, stored: frozenset[str]) -> bytes:
    """What ``zipfile`` writes for the entries with the settings of ``pipeline.archive`` (the reference)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED if name in stored else compress_type(name)
            archive.writestr(info, data, compresslevel=9 if info.compress_type == zipfile.ZIP_DEFLATED else None)
    return buffer.getvalue()


def test_zip_from_compressed_members_is_what_zipfile_writes(book: zipfile.ZipFile) -> None:
    entries = [(info.filename, book.read(info)) for info in book.infolist()]
    entries += [("empty.txt", b""), ("图 1/中文.svg", b"<svg/>"), ("z.woff2", bytes(range(256)) * 9)]
    for when in (build_time(SOURCE_DATE_EPOCH), build_time(SOURCE_DATE_EPOCH + 1), build_time(None)):
        assert zip_bytes(entries, when, stored=frozenset({"mimetype"})) == zipfile_bytes(
            entries, when, frozenset({"mimetype"})
        )
    assert zip_bytes([], build_time(None)) == zipfile_bytes([], build_time(None), frozenset())


def test_metadata(book: zipfile.ZipFile) -> None:
    opf = read_xml(book, "EPUB/package.opf")
    meta = opf.find(f"{OPF}metadata")
    assert meta is not None
    identifier = meta.find(f"{DC}identifier")
    assert identifier is not None and identifier.text == uuid.uuid5(epub.IDENTIFIER_NAMESPACE, "mini").urn
    assert opf.attrib["unique-identifier"] == identifier.attrib["id"]
    assert [t.text for t in meta.findall(f"{DC}title")] == ["迷你手册", "测试用"]
    assert [c.text for c in meta.findall(f"{DC}creator")] == ["测试"]
    assert [c.text for c in meta.findall(f"{DC}language")] == ["zh-CN"]
    modified = [m.text for m in meta.findall(f"{OPF}meta") if m.attrib.get("property") == "dcterms:modified"]
    assert modified == ["2026-01-01T00:00:00Z"]


def test_manifest_media_types_and_properties(book: zipfile.ZipFile) -> None:
    opf = read_xml(book, "EPUB/package.opf")
    items = {i.attrib["href"]: i.attrib for i in opf.iter(f"{OPF}item")}
    assert items["cover.png"]["properties"] == "cover-image"
    assert items["cover.png"]["media-type"] == "image/png"
    fonts = {href: item["media-type"] for href, item in items.items() if href.startswith("fonts/")}
    assert set(fonts) >= {"fonts/NotoSansSC-400.woff2", "fonts/NotoSansSC-700.woff2"}
    assert set(fonts.values()) == {"font/woff2"}
    assert items["assets/images/dot.svg"]["media-type"] == "image/svg+xml"
    assert items["assets/images/pixel.png"]["media-type"] == "image/png"
    assert items["handbook.css"]["media-type"] == "text/css"
    assert items["toc.ncx"]["media-type"] == "application/x-dtbncx+xml"
    assert items["assets/images/%E5%9B%BE_1_%2850_%29.png"]["media-type"] == "image/png"
    assert items["nav.xhtml"]["properties"] == "nav"
    assert items["chapter-basics.xhtml"].get("properties") == "mathml"
    assert items["chapter-more.xhtml"].get("properties") == "mathml"
    assert "properties" not in items["chapter-plain.xhtml"]
    # Every file of the package is in the manifest, and the other way round.
    package_files = {n.removeprefix("EPUB/") for n in book.namelist() if n.startswith("EPUB/")}
    assert package_files - {"package.opf"} == {unquote(href) for href in items}
    spine = [items_by_id["href"] for items_by_id in _spine(opf)]
    assert spine == [
        "index.xhtml", "nav.xhtml", "chapter-basics.xhtml", "chapter-more.xhtml", "chapter-plain.xhtml", "tags.xhtml"
    ]


def test_a_book_not_a_website_no_web_navigation_no_scripts_the_cover_once(book: zipfile.ZipFile) -> None:
    pages = [n for n in book.namelist() if n.endswith(".xhtml")]
    assert "EPUB/search.xhtml" not in pages
    for name in pages:
        root = read_xml(book, name)
        classes = {c for e in root.iter() for c in e.attrib.get("class", "").split()}
        assert not classes & {"pager", "site-header", "button", "self-test-toggle", "cover"}, name
        assert not list(root.iter(f"{XHTML}script")) and not list(root.iter(f"{XHTML}form")), name
        assert "cover.png" not in book.read(name).decode("utf-8"), name
    opf = read_xml(book, "EPUB/package.opf")
    assert [i.attrib["href"] for i in opf.iter(f"{OPF}item") if "cover-image" in i.attrib.get("properties", "")] == [
        "cover.png"
    ]


def test_tags_link_to_the_tag_page(book: zipfile.ZipFile) -> None:
    chapter = read_xml(book, "EPUB/chapter-basics.xhtml")
    tag_links = [a.attrib["href"] for a in chapter.iter(f"{XHTML}a") if a.attrib.get("class") == "tag"]
    assert tag_links and all(href.startswith("tags.xhtml#tag-") for href in tag_links)
    tags = read_xml(book, "EPUB/tags.xhtml")
    anchors = {e.attrib["id"] for e in tags.iter() if "id" in e.attrib}
    assert {href.split("#")[1] for href in tag_links} <= anchors


def test_accessibility_metadata(book: zipfile.ZipFile) -> None:
    opf = read_xml(book, "EPUB/package.opf")
    meta = {m.attrib.get("property"): (m.text or "") for m in opf.iter(f"{OPF}meta")}
    assert meta["dcterms:conformsTo"] == "EPUB Accessibility 1.1 - WCAG 2.1 Level AA"
    assert len(meta["schema:accessibilitySummary"]) > 20


def _spine(opf: ET.Element) -> list[dict[str, str]]:
    by_id = {i.attrib["id"]: i.attrib for i in opf.iter(f"{OPF}item")}
    return [by_id[ref.attrib["idref"]] for ref in opf.iter(f"{OPF}itemref")]


def test_nav_lists_chapters_then_questions(book: zipfile.ZipFile) -> None:
    nav = read_xml(book, "EPUB/nav.xhtml")
    toc = next(n for n in nav.iter(f"{XHTML}nav") if n.attrib.get(f"{EPUB_NS}type") == "toc")
    top = toc.find(f"{XHTML}ol")
    assert top is not None
    outline = [
        (li.find(f"{XHTML}a").attrib["href"], [a.attrib["href"] for a in li.iter(f"{XHTML}a")][1:])  # type: ignore[union-attr]
        for li in top.findall(f"{XHTML}li")
    ]
    assert outline == [
        ("chapter-basics.xhtml", ["chapter-basics.xhtml#q-what-is-x", "chapter-basics.xhtml#q-second"]),
        ("chapter-more.xhtml", ["chapter-more.xhtml#q-remote", "chapter-more.xhtml#q-inline-math"]),
        ("chapter-plain.xhtml", ["chapter-plain.xhtml#q-plain-question"]),
    ]
    labels = [a.text for a in toc.iter(f"{XHTML}a")]
    assert "2.2 标题里有 \\alpha 公式" in labels  # formulas in titles become bare TeX, not $…$


def test_ncx_for_older_readers(book: zipfile.ZipFile) -> None:
    ncx = read_xml(book, "EPUB/toc.ncx")
    uid = next(m.attrib["content"] for m in ncx.iter(f"{NCX}meta") if m.attrib["name"] == "dtb:uid")
    assert uid == uuid.uuid5(epub.IDENTIFIER_NAMESPACE, "mini").urn
    points = list(ncx.iter(f"{NCX}navPoint"))
    assert [int(p.attrib["playOrder"]) for p in points] == list(range(1, len(points) + 1))
    assert len(points) == 3 + 5


def test_math_as_mathml_with_alt_text(book: zipfile.ZipFile) -> None:
    page = read_xml(book, "EPUB/chapter-more.xhtml")
    alts = [m.attrib["alttext"] for m in page.iter("{http://www.w3.org/1998/Math/MathML}math")]
    assert "\\alpha" in alts and "\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}" in alts


def test_same_bytes_on_rebuild(built: Built, tmp_path: Path) -> None:
    again = build_outputs(built.content, tmp_path / "again", tmp_path / "cache")
    assert (again.out / epub.OUTPUT_NAME).read_bytes() == (built.out / epub.OUTPUT_NAME).read_bytes()


def test_without_source_date_epoch_the_date_is_fixed(built: Built, tmp_path: Path) -> None:
    build(built.content, ["epub"], Options(out_dir=tmp_path, cache_dir=with_fonts(tmp_path / "cache")))
    with zipfile.ZipFile(tmp_path / epub.OUTPUT_NAME) as book:
        opf = book.read("EPUB/package.opf").decode("utf-8")
        assert "<meta property=\"dcterms:modified\">1980-01-01T00:00:00Z</meta>" in opf
        assert {i.date_time for i in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_real_handbook_passes_epubcheck(tmp_path: Path) -> None:
    content = PROJECT / "content"
    if not (content / "handbook.toml").is_file():
        pytest.skip("content/ has no handbook yet")
    options = Options(out_dir=tmp_path, cache_dir=with_fonts(tmp_path / "cache"), source_date_epoch=SOURCE_DATE_EPOCH)
    build(content, ["epub"], options)
    assert epubcheck(tmp_path / epub.OUTPUT_NAME) == []


CORPUS = PROJECT.parent / "shared" / "corpus" / "wethinkin-dev"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"WeThinkIn corpus not found at {CORPUS}")
def test_imported_corpus_passes_epubcheck(tmp_path: Path) -> None:
    """Imported material has images named with spaces and CJK, PNGs named .jpg, WebP named .jpg,
    draw.io SVGs and MathJax's whole MathML: the EPUB must still be valid."""
    from pipeline.importers import import_wethinkin

    content = tmp_path / "content"
    import_wethinkin(CORPUS, content)
    options = Options(out_dir=tmp_path / "out", cache_dir=with_fonts(tmp_path / "cache"),
                      source_date_epoch=SOURCE_DATE_EPOCH)
    build(content, ["epub"], options)
    assert epubcheck(tmp_path / "out" / epub.OUTPUT_NAME) == []


def _recorded_pages(path: Path, handbook: Handbook, pages: dict[str, int]) -> Path:
    """What a PDF build records beside handbook.pdf: each question's printed page."""
    path.write_text(dumps_pages(handbook, pages), encoding="utf-8")
    return path


QUESTIONS = {"what-is-x": 3, "second": 3, "remote": 4, "inline-math": 6, "plain-question": 7}


def test_page_list_from_the_recorded_pages(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    handbook, _ = load_handbook(built.content)
    _recorded_pages(out / PAGES_FILE, handbook, QUESTIONS)
    # The module's cache: formulas and font subsets are there already.
    options = Options(out_dir=out, cache_dir=built.out.parent / "cache", source_date_epoch=SOURCE_DATE_EPOCH)
    build(built.content, ["epub"], options)
    with zipfile.ZipFile(out / epub.OUTPUT_NAME) as book:
        nav = read_xml(book, "EPUB/nav.xhtml")
        page_list = next(n for n in nav.iter(f"{XHTML}nav") if n.attrib.get(f"{EPUB_NS}type") == "page-list")
        assert [(a.text, a.attrib["href"]) for a in page_list.iter(f"{XHTML}a")] == [
            ("3", "chapter-basics.xhtml#q-what-is-x"), ("4", "chapter-more.xhtml#q-remote"),
            ("6", "chapter-more.xhtml#q-inline-math"), ("7", "chapter-plain.xhtml#q-plain-question"),
        ]
        opf = book.read("EPUB/package.opf").decode("utf-8")
        assert 'property="source-of">pagination</meta>' in opf and "printPageNumbers" in opf
    assert epubcheck(out / epub.OUTPUT_NAME) == []


def test_no_page_list_from_pages_of_other_content(built: Built, tmp_path: Path) -> None:
    handbook, _ = load_handbook(built.content)
    assert epub.print_pages(handbook, _recorded_pages(tmp_path / "a.json", handbook, QUESTIONS).read_bytes()) != []
    stale = {qid: page for qid, page in QUESTIONS.items() if qid != "second"}  # a question added since
    assert epub.print_pages(handbook, _recorded_pages(tmp_path / "b.json", handbook, stale).read_bytes()) == []
    assert epub.print_pages(handbook, None) == []
