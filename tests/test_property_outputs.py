"""Property tests (issue 13): for any input the parser and the importer give a model (or content) or our
own error, and every XHTML page written for a handbook that reads is well-formed XML.

CI runs a few hundred examples per property. For a long run (not in CI):

    HANDBOOK_PROPERTY_EXAMPLES=50000 .venv/bin/pytest -q tests/test_property_outputs.py -p no:cacheprovider

Formulas are rendered by a stand-in here (MathJax's own MathML is well-formed, and a Node batch per example
would make the run days long); everything else is the real HTML writer and the real parser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from pipeline import html
from pipeline.context import Context, Options, Writer
from pipeline.diagnostics import ContentError, HandbookError, Report
from pipeline.importers import import_wethinkin
from pipeline.model import Handbook, Math, MathBlock
from pipeline.parser import load_handbook

from .conftest import HANDBOOK_TOML

EXAMPLES = int(os.environ.get("HANDBOOK_PROPERTY_EXAMPLES", "200"))
# For long runs: one character per example appended to this file, so a run stopped early still has a count.
COUNT_FILE = os.environ.get("HANDBOOK_PROPERTY_COUNT")

def _count(kind: str) -> None:
    event(kind)
    if COUNT_FILE:
        with open(COUNT_FILE, "a", encoding="ascii") as handle:
            handle.write("m" if "XHTML" in kind else "e")

SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# What drives block and inline parsing, attributes, links and images, entities, and characters XML cannot hold.
PIECES = st.sampled_from([
    "#", "## ", "### ", "\n", "\n\n", " ", "\t", "$", "$$", "\\", "`", "```", "~~~", "*", "**", "_", "~~",
    "[", "]", "(", ")", "!", "{", "}", "{#q1}", "{#q2 tags=\"a b\"}", "{#q1 #q2}", "difficulty=2", "|", "|-|",
    "-", ":", ">", "1.", "---", "[^1]", "[^1]: ", "<b>", "<script>", "&amp;", "&#12;", "&#0;", "&#xFFFE;",
    "&#x1F600;", "中文", "？", "\u200b", "\u00a0", "\r\n", "\r", "\ufeff", "x", "../", "images/a.png",
    "images/a.svg", "file:///etc/passwd", "javascript:x", "http://e.org/a.png", "#q1", "01-a.md#q2", "\x00",
    "\x01", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\ufffe", "\uffff", "\ud800", "]]>", "<![CDATA[",
    "<!--", "&", "<", ">", "\"", "'",
])
MARKDOWN = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=60).map("".join)
TITLE = st.text(max_size=12)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cf000000030101006ef2f0e30000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="handbook-property-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _content(root: Path, body: str, title: str, raw: bytes) -> Path:
    content = root / "content"
    shutil.rmtree(content, ignore_errors=True)
    (content / "images").mkdir(parents=True)
    (content / "images" / "a.png").write_bytes(PNG)
    (content / "images" / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    toml_title = title.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    (content / "handbook.toml").write_text(
        HANDBOOK_TOML.replace('title = "测试手册"', f'title = "{toml_title}x"'), encoding="utf-8"
    )
    front = f"---\nid: a\ntitle: \"{toml_title}t\"\n---\n\n## 问题 {{#q0}}\n\n"
    (content / "01-a.md").write_bytes(front.encode("utf-8") + body.encode("utf-8", "surrogatepass") + raw)
    return content


def _fake_math(handbook: Handbook, ctx: Context, fmt: str) -> object:
    def hook(node: Math | MathBlock) -> Markup:
        return Markup('<math xmlns="http://www.w3.org/1998/Math/MathML"><mtext>{}</mtext></math>').format(
            escape(node.tex)
        )

    return hook


def _xhtml_pages(handbook: Handbook) -> list[tuple[str, bytes]]:
    ctx = Context(options=Options(out_dir=Path(".")), report=Report(), progress=lambda m: None, writer=Writer())
    with mock.patch.object(html, "math_hook", _fake_math):
        site = html.site(handbook, ctx)
    return [(name, data) for name, data in site.files() if name.endswith((".xhtml", ".svg", ".opf", ".ncx"))]


@SETTINGS
@given(body=MARKDOWN, title=TITLE, raw=st.binary(max_size=6))
@example(body="[^1]: >[^1]: ", title="", raw=b"")  # found by the long run: markdown-it's tokens did not balance
def test_parser_gives_a_model_or_our_error_and_xhtml_is_well_formed(
    folder: Path, body: str, title: str, raw: bytes
) -> None:
    content = _content(folder, body, title, raw)
    try:
        handbook, _ = load_handbook(content)
    except ContentError as exc:
        assert exc.diagnostics
        _count("parser: our error")
        return
    _count("parser: a model, XHTML checked")
    pages = _xhtml_pages(handbook)
    assert pages
    for name, data in pages:
        try:
            ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:  # pragma: no cover - the property
            pytest.fail(f"{name} is not well-formed: {exc}\n{data[:2000]!r}")


SOURCE = st.lists(
    st.one_of(
        PIECES,
        st.sampled_from([
            "# 目录\n", "## 1.", "## 问题1：", "<h2 id=\"x\">", "</h2>", "<font color=red>", "</font>", "<br>",
            "<img src=\"imgs/a.png\">", "<img src=\"../../x.png\">", "<iostream>", "[链接](#问题1)", "问题", "答案",
            "<div>", "</div>", "<center>", "**", "\n## ", "\n### ", "\n#### ",
        ]),
        st.text(max_size=4),
    ),
    max_size=60,
).map("".join)


@SETTINGS
@given(first=SOURCE, second=SOURCE, raw=st.binary(max_size=6))
def test_importer_gives_content_or_our_error(folder: Path, first: str, second: str, raw: bytes) -> None:
    src, out = folder / "src", folder / "imported"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    (src / "主题A" / "imgs").mkdir(parents=True)
    (src / "主题A" / "imgs" / "a.png").write_bytes(PNG)
    (src / "README.md").write_text("[主题A](主题A/)\n", encoding="utf-8")
    (src / "主题A" / "第一.md").write_bytes(first.encode("utf-8", "surrogatepass") + raw)
    (src / "主题A" / "第二.md").write_bytes(second.encode("utf-8", "surrogatepass"))
    try:
        import_wethinkin(src, out)
    except HandbookError:
        _count("importer: our error")
        return
    try:
        handbook, _ = load_handbook(out)
    except ContentError as exc:
        assert exc.diagnostics
        _count("importer: content the parser rejects")
        return
    _count("importer: content read, XHTML checked")
    for name, data in _xhtml_pages(handbook):
        try:
            ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:  # pragma: no cover - the property
            pytest.fail(f"{name} is not well-formed: {exc}\n{data[:2000]!r}")
