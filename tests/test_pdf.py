"""The PDF handbook and its practice edition, judged with pypdf and poppler (pdftotext, pdffonts).

Each handbook is built once per session; the tests read the files the build wrote.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

import pypdf
import pytest
from PIL import Image as PILImage

from pipeline.build import Options, build
from pipeline.diagnostics import ContentError, Diagnostic
from pipeline.model import Cloze, Code, Handbook, Paragraph, Question, Text, walk, walk_inlines
from pipeline.pages import PAGES_FILE
from pipeline.parser import load_handbook
from pipeline.pdf import OUTPUT_NAME, PRACTICE_NAME
from pipeline.pdf.frame import MAX_ANSWER_LINES, MIN_ANSWER_LINES, answer_lines
from pipeline.remote import FetchError, RemoteCache

REPO = Path(__file__).resolve().parent.parent
MINI = Path(__file__).resolve().parent / "fixtures" / "mini"
EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z
MM = 72 / 25.4

EDGE_CHAPTER = (
    """\
---
id: edge
title: 边界情况
---

## 坏公式怎么办？ {#bad-formula tags="edge"}

坏公式 $\\frac{a$ 和 $\\badcommand$ 不影响构建。

![远程示意图](https://example.invalid/remote.png)

## 长代码与长表格 {#long-things tags="edge code" difficulty=3}

下面的代码行很长。

```python
LONG_LINE = "起"""
    + "abcdefghij" * 30
    + """END_OF_LONG_LINE"  # 注释
```

| 指标名 | 数值 |
|---|---:|
"""
    + "".join(f"| 行{i:03d} | {i} |\n" for i in range(1, 91))
    + "\n![位图示例](images/pixel.png)\n"
    + "".join(
        # a tall figure cannot be split: the heading before it must not stay behind at a page's bottom
        f"\n## 大图{i} {{#tall-{i}}}\n\n![高图{i}](images/tall.svg)\n"
        for i in range(1, 4)
    )
)
TALL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 400" width="300" height="400">'
    '<rect x="10" y="10" width="280" height="380" fill="#9fb3c8"/></svg>'
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    handbook: Handbook
    book: Path
    practice: Path
    diagnostics: tuple[Diagnostic, ...]
    connections: tuple[Any, ...]  # network connections attempted during the build


def _cache_dir(factory: pytest.TempPathFactory) -> Path:
    # Deriving the CJK fonts takes ~30 s: reuse the build's cache when there is one.
    shared = REPO / ".cache"
    return shared if shared.is_dir() else factory.getbasetemp() / "cache"


def _build(content: Path, out: Path, cache: Path, **options: Any) -> Built:
    diagnostics: list[Diagnostic] = []
    connections: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> None:
        connections.append(address)
        raise OSError("tests: no network")

    with (
        mock.patch.object(socket, "create_connection", refuse),
        mock.patch.object(socket.socket, "connect", lambda self, address: refuse(address)),
    ):
        build(
            content,
            ["pdf"],
            Options(out_dir=out, cache_dir=cache, source_date_epoch=EPOCH, **options),
            on_diagnostic=diagnostics.append,
        )
    handbook, _ = load_handbook(content)
    return Built(
        handbook=handbook,
        book=out / OUTPUT_NAME,
        practice=out / PRACTICE_NAME,
        diagnostics=tuple(diagnostics),
        connections=tuple(connections),
    )


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _cache_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def edge_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edge") / "content"
    shutil.copytree(MINI, root)
    (root / "02-edge.md").write_text(EDGE_CHAPTER, encoding="utf-8")
    (root / "images" / "tall.svg").write_text(TALL_SVG, encoding="utf-8")
    (root / "images" / "pixel.png").write_bytes(_png())
    return root


@pytest.fixture(scope="session")
def edge(edge_content: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(edge_content, tmp_path_factory.mktemp("edge-out"), cache)


@pytest.fixture(scope="session")
def content(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    if not (REPO / "content" / "handbook.toml").is_file():
        pytest.skip("content/ is not there yet")
    return _build(REPO / "content", tmp_path_factory.mktemp("content-out"), cache)


@pytest.fixture(params=["edge", "content"])
def built(request: pytest.FixtureRequest) -> Built:
    result: Built = request.getfixturevalue(request.param)
    return result


# --- reading PDFs -------------------------------------------------------------------------------


def pdftotext(pdf: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *args, str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def page_text(pdf: Path, page: int) -> str:
    return pdftotext(pdf, "-f", str(page), "-l", str(page))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    title: str
    page: int
    top: float
    children: tuple[Entry, ...] = ()


def outline(pdf: Path) -> list[Entry]:
    reader = pypdf.PdfReader(pdf)

    def entries(items: list[Any]) -> list[Entry]:
        out: list[Entry] = []
        for item in items:
            if isinstance(item, list):
                last = out.pop()
                out.append(Entry(title=last.title, page=last.page, top=last.top, children=tuple(entries(item))))
            else:
                number = reader.get_destination_page_number(item)
                assert number is not None
                out.append(Entry(title=str(item.title), page=number + 1, top=float(item.top or 0)))
        return out

    return entries(reader.outline)


def listed_pages(text: str) -> dict[str, int]:
    """ "N.M" → the page number printed after the dot leader, from ``pdftotext -layout`` output."""
    flat = re.sub(r"(?:[ \n]\.)+[ \n]", " ⟶ ", re.sub(r"[ \t]+", " ", text).replace(" \n", "\n"))
    return {
        f"{chapter}.{number}": int(page)
        # a title that fills its line leaves no room for dots: then only a space precedes the number
        for chapter, number, page in re.findall(r"(\d+)\.(\d+) (?:(?!\d+\.\d+ )[^⟶])*?(?: ⟶ | )(\d+)(?=\n|$)", flat)
    }


def plain_title_parts(question: Question) -> list[str]:
    """The title's text runs (formulas are drawn as SVG and have no text to extract)."""
    return [n.text for n in walk_inlines(question.title) if isinstance(n, Text) and n.text.strip()]


def question_pages(built: Built) -> dict[str, int]:
    """ "N.M" → page of the question's heading, from the outline's destinations."""
    return {q.title.split(" ", 1)[0]: q.page for c in outline(built.book) for q in c.children}


# --- the full book ------------------------------------------------------------------------------


def test_outline_lists_chapters_then_their_questions(built: Built) -> None:
    expected = [
        (c.title, [f"{c.number}.{q.number} {q.title_text}" for q in c.questions]) for c in built.handbook.chapters
    ]
    found = [(e.title, [q.title for q in e.children]) for e in outline(built.book)]
    assert found == expected
    assert all(not q.children for e in outline(built.book) for q in e.children)  # no answer headings


def test_chapters_open_on_right_hand_pages(built: Built) -> None:
    assert all(e.page % 2 == 1 for e in outline(built.book))


def test_toc_and_tag_index_print_the_pages_of_the_headings(built: Built) -> None:
    pages = question_pages(built)
    first_chapter = outline(built.book)[0].page
    # -layout: the order of the page (the numbers are drawn by the stamps, after the page's own text)
    toc = pdftotext(built.book, "-layout", "-f", "2", "-l", str(first_chapter - 1))
    assert listed_pages(toc) == pages
    for label, page in pages.items():
        assert label in page_text(built.book, page)

    reader = pypdf.PdfReader(built.book)
    last = len(reader.pages)
    index = pdftotext(built.book, "-layout", "-f", str(outline(built.book)[-1].children[-1].page + 1))
    tagged = {f"{c.number}.{q.number}" for c in built.handbook.chapters for q in c.questions if q.tags}
    assert "标签索引" in page_text(built.book, last) or "标签索引" in index
    assert listed_pages(index) == {label: pages[label] for label in tagged}
    for tag in {t for q in built.handbook.questions for t in q.tags}:
        assert tag in index


def words_by_page(pdf: Path) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """Per page: its height and its words as (top, bottom, text), from ``pdftotext -bbox``."""
    html = pdftotext(pdf, "-bbox")
    word = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>')
    return [
        (float(page.group(1)), [(float(a), float(b), text) for a, b, text in word.findall(page.group(2))])
        for page in re.finditer(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', html, re.S)
    ]


def test_question_headings_never_end_a_page(built: Built) -> None:
    pages = words_by_page(built.book)
    for chapter in outline(built.book):
        for question in chapter.children:
            height, words = pages[question.page - 1]
            label = question.title.split(" ", 1)[0]
            # the heading's number: the word nearest below the outline's target
            heading = min((w for w in words if w[2] == label and w[0] >= height - question.top - 1), key=lambda w: w[0])
            below = [
                text
                for top, bottom, text in words
                if top >= heading[1] and bottom < height - 24 * MM  # under the heading, above the footer
            ]
            assert below, f"{question.title} ends page {question.page}"


def test_every_font_is_embedded_with_real_bold(built: Built) -> None:
    for pdf in (built.book, built.practice):
        lines = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
        rows = lines.splitlines()[2:]
        assert rows
        for row in rows:
            columns = row.split()
            assert columns[-5] == "yes", row  # the "emb" column
        assert any("Noto-Sans-SC-Bold" in row for row in rows)
    book_fonts = subprocess.run(["pdffonts", str(built.book)], check=True, capture_output=True, text=True)
    assert "Source-Code-Pro" in book_fonts.stdout


def test_text_holds_every_question_title(built: Built) -> None:
    text = squeeze(pdftotext(built.book))
    practice = squeeze(pdftotext(built.practice))
    for question in built.handbook.questions:
        for part in plain_title_parts(question):
            assert squeeze(part) in text, part
            assert squeeze(part) in practice, part


def test_nothing_runs_off_the_page(built: Built) -> None:
    for pdf in (built.book, built.practice):
        html = pdftotext(pdf, "-bbox")
        for page in re.finditer(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', html, re.S):
            width = float(page.group(1))
            for x_max in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"', page.group(2)):
                assert float(x_max) <= width - 20 * MM + 1


def test_metadata(built: Built) -> None:
    reader = pypdf.PdfReader(built.book)
    meta = built.handbook.meta
    info = reader.metadata
    assert info is not None
    assert info.title == meta.title
    assert info.author == meta.author
    assert info.subject == (meta.description or meta.subtitle or meta.title)
    assert str(info["/CreationDate"]) == "D:20231114221320Z"
    assert str(reader.root_object["/Lang"]) == meta.language
    page = reader.pages[0].mediabox
    assert (round(float(page.width)), round(float(page.height))) == (595, 842)  # A4


def test_cover_shows_title_author_version_and_date(built: Built) -> None:
    cover = page_text(built.book, 1)
    meta = built.handbook.meta
    for value in (meta.title, meta.subtitle, meta.author, meta.version, "2023-11-14"):
        assert value in cover


def test_running_header_names_the_chapter(built: Built) -> None:
    reader = pypdf.PdfReader(built.book)
    chapters = outline(built.book)
    ends = [c.page for c in chapters[1:]] + [len(reader.pages)]
    for chapter, end in zip(chapters, ends, strict=True):
        for page in range(chapter.page + 2, end, 2):  # right-hand pages after the chapter's first
            header = pdftotext(built.book, "-f", str(page), "-l", str(page), "-y", "0", "-H", "50", "-W", "600")
            if "标签索引" in header:
                break  # the back matter has its own header
            if header.strip():
                assert chapter.title in header


def test_practice_edition_has_questions_without_answers(built: Built) -> None:
    text = squeeze(pdftotext(built.practice))
    pages = question_pages(built)
    for chapter in built.handbook.chapters:
        for question in chapter.questions:
            label = f"{chapter.number}.{question.number}"
            assert f"答案见《{squeeze(built.handbook.meta.title)}》第{pages[label]}页" in text
            for block in question.answer.blocks:
                if isinstance(block, Paragraph):
                    runs = "".join(n.text for n in walk_inlines(block.children) if isinstance(n, Text))
                    if len(squeeze(runs)) >= 6:
                        assert squeeze(runs)[:30] not in text
    practice_outline = [(e.title, [q.title for q in e.children]) for e in outline(built.practice)]
    assert practice_outline == [(e.title, [q.title for q in e.children]) for e in outline(built.book)]


def test_builds_make_no_network_request(built: Built) -> None:
    assert built.connections == ()


# --- edge cases (the mini fixture plus a chapter of awkward content) ---------------------------


def test_rebuild_elsewhere_is_byte_identical(edge: Built, edge_content: Path, cache: Path, tmp_path: Path) -> None:
    # Another content folder and another output folder: neither path may leak into the PDF.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(edge_content, elsewhere)
    again = _build(elsewhere, tmp_path / "out", cache)
    assert again.book.read_bytes() == edge.book.read_bytes()
    assert again.practice.read_bytes() == edge.practice.read_bytes()


def test_bad_formulas_are_located_warnings_showing_their_tex(edge: Built) -> None:
    messages = [str(d) for d in edge.diagnostics]
    assert any(m.startswith("02-edge.md:8: warning: invalid formula '\\\\frac{a'") for m in messages)
    assert any(m.startswith("02-edge.md:8: warning: invalid formula '\\\\badcommand'") for m in messages)
    text = pdftotext(edge.book)
    assert "\\frac{a" in text and "\\badcommand" in text


def test_remote_image_is_a_located_placeholder(edge: Built) -> None:
    assert any(str(d).startswith("02-edge.md:10: warning: remote image not fetched") for d in edge.diagnostics)
    assert "https://example.invalid/remote.png" in pdftotext(edge.book)


def test_long_code_lines_wrap_and_long_tables_repeat_their_header(edge: Built) -> None:
    text = squeeze(pdftotext(edge.book))
    assert "END_OF_LONG_LINE" in text
    pages_with_rows = [
        page
        for page in range(1, len(pypdf.PdfReader(edge.book).pages) + 1)
        if re.search(r"行\d{3}", page_text(edge.book, page))
    ]
    assert len(pages_with_rows) >= 2
    for page in pages_with_rows:
        assert "指标名" in page_text(edge.book, page)


def test_no_warnings_besides_the_expected_ones(edge: Built) -> None:
    unexpected = [d for d in edge.diagnostics if "invalid formula" not in d.message and "remote image" not in d.message]
    assert unexpected == []


def test_letter_paper_and_margins_from_handbook_toml(
    cache: Path, tmp_path: Path, make_content: Callable[..., Path]
) -> None:
    toml = (MINI / "handbook.toml").read_text(encoding="utf-8") + '\n[pdf]\npage_size = "Letter"\nmargins = "1in"\n'
    root = make_content({"01-basics.md": (MINI / "01-basics.md").read_text(encoding="utf-8")}, toml=toml)
    shutil.copytree(MINI / "images", root / "images")
    letter = _build(root, tmp_path / "out", cache)
    reader = pypdf.PdfReader(letter.book)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    html = pdftotext(letter.book, "-bbox")
    x_min = min(float(x) for x in re.findall(r'<word xMin="([\d.]+)"', html))
    assert x_min >= 72 - 1


def test_a_character_without_glyph_fails_the_build_at_its_line(
    cache: Path, tmp_path: Path, make_content: Callable[..., Path]
) -> None:
    root = make_content(
        {
            "01-a.md": """\
            ---
            id: a
            title: 缺字
            ---

            ## 线性文字 {#linear-b}

            这个字 \U00010000 没有字形。
            """
        }
    )
    out = tmp_path / "out"
    with pytest.raises(ContentError) as raised:
        _build(root, out, cache)
    errors = [str(d) for d in raised.value.diagnostics if d.is_error]
    assert errors == ["01-a.md:8: error: no font has a glyph for '𐀀' (U+10000); it would print as a box"]
    assert not (out / OUTPUT_NAME).exists()


def test_bad_margins_are_a_located_error(cache: Path, tmp_path: Path, make_content: Callable[..., Path]) -> None:
    toml = (MINI / "handbook.toml").read_text(encoding="utf-8") + '\n[pdf]\nmargins = "1in; color: red"\n'
    root = make_content({"01-basics.md": (MINI / "01-basics.md").read_text(encoding="utf-8")}, toml=toml)
    shutil.copytree(MINI / "images", root / "images")
    with pytest.raises(ContentError) as raised:
        _build(root, tmp_path / "out", cache)
    assert [d.path for d in raised.value.diagnostics if d.is_error] == ["handbook.toml"]


# --- remote images ------------------------------------------------------------------------------


def _png() -> bytes:
    buffer = BytesIO()
    PILImage.new("RGB", (120, 60), (30, 80, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


class _Server:
    """A local HTTP server with a few fixed answers, counting requests per path."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        png = _png()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path == "/slow.png":
                    time.sleep(1.5)
                answers = {
                    "/ok.png": (200, "image/png", png),
                    "/slow.png": (200, "image/png", png),
                    "/big.png": (200, "image/png", png * 20),
                    "/page.html": (200, "text/html", b"<p>not an image</p>"),
                }
                status, kind, body = answers.get(self.path, (404, "text/plain", b"missing"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    running = _Server()
    running.thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def test_remote_cache_fetches_once(server: _Server, tmp_path: Path) -> None:
    remote = RemoteCache(folder=tmp_path)
    first = remote.fetch(f"{server.url}/ok.png")
    assert first.suffix == ".png" and first.read_bytes() == _png()
    assert RemoteCache(folder=tmp_path).fetch(f"{server.url}/ok.png") == first
    assert server.hits["/ok.png"] == 1


@pytest.mark.parametrize(
    ("path", "limits", "reason"),
    [
        ("/missing.png", {}, "HTTP 404"),
        ("/page.html", {}, "not an image"),
        ("/big.png", {"max_bytes": 2000}, "larger than 2000 bytes"),
        ("/slow.png", {"timeout_s": 0.5}, "timed out"),
    ],
)
def test_remote_cache_failures_are_explained(
    server: _Server, tmp_path: Path, path: str, limits: dict[str, Any], reason: str
) -> None:
    with pytest.raises(FetchError, match=reason):
        RemoteCache(folder=tmp_path, **limits).fetch(f"{server.url}{path}")
    assert not any(tmp_path.iterdir())


def test_remote_cache_refuses_other_schemes(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        RemoteCache(folder=tmp_path).fetch("file:///etc/passwd")


def test_fetch_remote_puts_the_image_in_the_pdf(
    server: _Server, cache: Path, tmp_path: Path, make_content: Callable[..., Path]
) -> None:
    root = make_content(
        {
            "01-a.md": f"""\
            ---
            id: a
            title: 远程
            ---

            ## 远程图片 {{#remote}}

            ![远程图]({server.url}/ok.png)

            ![坏图]({server.url}/missing.png)
            """
        }
    )
    # A cache of its own (fetched images stay out of the shared one) that borrows the derived fonts.
    own_cache = tmp_path / "cache"
    own_cache.mkdir()
    if (cache / "fonts").is_dir():
        (own_cache / "fonts").symlink_to(cache / "fonts")
    # First without fetching, into the same cache: the placeholders' layout must not be taken for the
    # fetched images' (the chapters' part HTML is cached by what it shows).
    build(root, ["pdf"], Options(out_dir=tmp_path / "placeholders", cache_dir=own_cache, source_date_epoch=EPOCH))
    diagnostics: list[Diagnostic] = []
    out = tmp_path / "out"
    build(
        root,
        ["pdf"],
        Options(out_dir=out, cache_dir=own_cache, fetch_remote=True, source_date_epoch=EPOCH),
        on_diagnostic=diagnostics.append,
    )
    images = subprocess.run(
        ["pdfimages", "-list", str(out / OUTPUT_NAME)], check=True, capture_output=True, text=True
    ).stdout
    assert len(images.splitlines()) == 3  # two header lines, one image
    assert [str(d) for d in diagnostics] == [
        f"01-a.md:10: warning: remote image left out (HTTP 404 Not Found): {server.url}/missing.png"
    ]


# --- study use (issue 16): key points, clozes, the practice edition --------------------------------


def test_key_points_and_clozes_print_as_such(content: Built) -> None:
    text = squeeze(pdftotext(content.book))
    assert "[!要点]" not in text
    clozes = [n for n, _ in walk(content.handbook) if isinstance(n, Cloze)]
    assert len(clozes) >= len(content.handbook.chapters)
    for cloze in clozes:
        runs = squeeze("".join(n.text for n in walk_inlines(cloze.children) if isinstance(n, Text)))
        assert runs in text and f"=={runs}==" not in text
    for question in content.handbook.questions:
        assert question.key_points.given
        runs = "".join(n.text for n in walk_inlines(question.key_points.blocks[0].children)  # type: ignore[union-attr]
                       if isinstance(n, Text))
        assert squeeze(runs)[:20] in text


def test_pages_file_records_each_question_page(content: Built) -> None:
    recorded = json.loads((content.book.parent / PAGES_FILE).read_text(encoding="utf-8"))["pages"]
    pages = question_pages(content)
    assert {
        f"{c.number}.{q.number}": recorded[q.id] for c in content.handbook.chapters for q in c.questions
    } == pages


def test_practice_edition_prints_follow_ups_and_scaled_answer_space(content: Built) -> None:
    text = squeeze(pdftotext(content.practice))
    for question in content.handbook.questions:
        assert question.follow_ups
        for prompt in question.follow_ups:
            runs = "".join(n.text for n in walk_inlines(prompt) if isinstance(n, Text | Code))
            assert squeeze(runs)[:15] in text, runs
    lines = {answer_lines(q) for q in content.handbook.questions}
    assert len(lines) > 2 and min(lines) >= MIN_ANSWER_LINES and max(lines) <= MAX_ANSWER_LINES


def test_practice_chapters_run_on(cache: Path, tmp_path: Path) -> None:
    root = tmp_path / "content"
    root.mkdir()
    shutil.copy(MINI / "handbook.toml", root / "handbook.toml")
    for n in range(1, 5):
        (root / f"0{n}-c{n}.md").write_text(
            f"---\nid: c{n}\ntitle: 第{n}章标题\n---\n\n## 问题{n} {{#q{n}}}\n\n简短答案{n}。\n", encoding="utf-8"
        )
    built = _build(root, tmp_path / "out", cache)
    chapters = outline(built.practice)
    # No page break before a chapter: the next one starts on the page where the previous one ends.
    assert any(later.page == earlier.page for earlier, later in itertools.pairwise(chapters))
    pages = words_by_page(built.practice)
    for chapter in chapters:
        height, words = pages[chapter.page - 1]
        heading_top = height - chapter.top
        below = [t for top, bottom, t in words if top > heading_top + 40 and bottom < height - 24 * MM]
        assert below, f"chapter {chapter.title} ends page {chapter.page}"  # a heading never alone at the foot
    assert len(pypdf.PdfReader(built.practice).pages) < len(pypdf.PdfReader(built.book).pages)


def test_group_headings_in_the_body_and_the_contents(cache: Path, tmp_path: Path) -> None:
    root = tmp_path / "content"
    root.mkdir()
    shutil.copy(MINI / "handbook.toml", root / "handbook.toml")
    (root / "01-g.md").write_text(
        "---\nid: g\ntitle: 分组\n---\n\n"
        '## 甲一 {#a1 section="甲组"}\n\n答。\n\n## 甲二 {#a2 section="甲组"}\n\n答。\n\n'
        '## 乙一 {#b1 section="乙组"}\n\n答。\n',
        encoding="utf-8",
    )
    built = _build(root, tmp_path / "out", cache)
    first_chapter = outline(built.book)[0].page
    # -layout: the order of the page (poppler's reading order puts the lines without a page number apart)
    contents = squeeze(pdftotext(built.book, "-layout", "-f", "2", "-l", str(first_chapter - 1)))
    assert contents.index("甲组") < contents.index("1.1") < contents.index("1.2") < contents.index("乙组")
    assert contents.count("甲组") == 1
    body = squeeze(pdftotext(built.book, "-f", str(first_chapter)))
    assert body.count("甲组") == 1 and body.index("甲组") < body.index("甲一") < body.index("乙组") < body.index("乙一")
    practice = squeeze(pdftotext(built.practice))
    assert practice.count("乙组") == 2  # contents and body
    # the groups are headings to read, not entries of the outline
    assert [q.title for q in outline(built.book)[0].children] == ["1.1 甲一", "1.2 甲二", "1.3 乙一"]
