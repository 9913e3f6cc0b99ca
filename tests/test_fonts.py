"""The handbook's fonts, judged by what WeasyPrint embeds and what poppler reads back from the PDF."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import weasyprint
from fontTools.ttLib import TTFont

import pipeline.fonts
from pipeline.fonts import (
    CJK_FAMILY,
    MONO_FAMILY,
    UPRIGHT_ITALIC_FAMILIES,
    FontError,
    FontFace,
    FontSet,
    ensure_fonts,
)
from pipeline.mathjax import PROJECT_ROOT, Formula, MathEngine

BODY_REGULAR = "注意力机制通过查询和键的点积计算权重。"
BODY_BOLD = "反向传播算法"
CODE_COMMENT = "# 数值稳定：先减去最大值"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The build's cache when there is one: its instances are checked, not derived again.
    shared = PROJECT_ROOT / ".cache"
    return shared if shared.is_dir() else tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def fonts(cache_dir: Path) -> FontSet:
    return ensure_fonts(cache_dir)


def write_pdf(html: str, directory: Path, caplog: pytest.LogCaptureFixture) -> Path:
    pdf = directory / "fonts.pdf"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        # Without base_url WeasyPrint silently drops the @font-face url()s.
        weasyprint.HTML(string=html, base_url=str(directory)).write_pdf(pdf)
    assert not [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")]
    return pdf


def poppler(tool: str, pdf: Path) -> str:
    executable = shutil.which(tool)
    assert executable, f"{tool} is missing: apt-get install poppler-utils"
    return subprocess.run(
        [executable, str(pdf), *(["-"] if tool == "pdftotext" else [])], capture_output=True, text=True, check=True
    ).stdout


def embedded_fonts(pdf: Path) -> dict[str, tuple[str, str]]:
    """Font name without its subset tag -> (embedded, subset), from pdffonts' table."""
    fonts: dict[str, tuple[str, str]] = {}
    for line in poppler("pdffonts", pdf).splitlines()[2:]:
        name, *_, emb, sub, _uni, _obj, _gen = line.split()
        fonts[re.sub(r"^[A-Z]{6}\+", "", name)] = (emb, sub)
    return fonts


def page(fonts: FontSet, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><style>
{fonts.css()}
body {{ font-family: "{CJK_FAMILY}", sans-serif; }}
pre, code {{ font-family: "{MONO_FAMILY}", "{CJK_FAMILY}", monospace; }}
.comment {{ font-style: italic; }}
</style></head><body>{body}</body></html>"""


def test_faces_are_static_instances_of_the_declared_weight(fonts: FontSet) -> None:
    assert {(face.family, face.weight, face.style) for face in fonts.faces} >= {
        (CJK_FAMILY, 400, "normal"),
        (CJK_FAMILY, 700, "normal"),
        (MONO_FAMILY, 400, "normal"),
        (MONO_FAMILY, 700, "normal"),
    }
    for face in fonts.faces:
        with TTFont(face.path, lazy=True) as font:
            assert "fvar" not in font
            assert font["OS/2"].usWeightClass == face.weight
            if face.family not in UPRIGHT_ITALIC_FAMILIES:
                assert bool(font["OS/2"].fsSelection & 1) == (face.style == "italic")
            assert font["name"].getDebugName(1) == face.family


def test_css_declares_every_face_by_absolute_file_url(fonts: FontSet) -> None:
    css = fonts.css()
    assert css.count("@font-face") == len(fonts.faces)
    for face in fonts.faces:
        assert f'src: url("{face.path.as_uri()}") format("truetype");' in css
        assert face.path.as_uri().startswith("file:///")


def test_second_call_reuses_the_instances(fonts: FontSet, cache_dir: Path) -> None:
    mtimes = [face.path.stat().st_mtime_ns for face in fonts.faces]
    assert ensure_fonts(cache_dir) == fonts
    assert [face.path.stat().st_mtime_ns for face in fonts.faces] == mtimes


def test_damaged_instance_is_derived_again(fonts: FontSet, tmp_path: Path) -> None:
    (tmp_path / "fonts").mkdir()
    for face in fonts.faces:  # the faces only: another build may be deriving into the shared cache
        shutil.copy2(face.path, tmp_path / "fonts" / face.path.name)
    copied = ensure_fonts(tmp_path)
    mono = next(face for face in copied.faces if face.family == MONO_FAMILY)
    intact = mono.path.read_bytes()
    mono.path.write_bytes(intact[: len(intact) // 2])  # as if a build was killed mid-write
    untouched = [face.path.stat().st_mtime_ns for face in copied.faces if face.family == CJK_FAMILY]
    assert ensure_fonts(tmp_path) == copied
    assert mono.path.read_bytes() == intact
    assert [face.path.stat().st_mtime_ns for face in copied.faces if face.family == CJK_FAMILY] == untouched
    mono.path.unlink()
    assert ensure_fonts(tmp_path) == copied
    assert mono.path.read_bytes() == intact
    assert not list((tmp_path / "fonts").glob(".tmp-*"))


def test_fingerprint_follows_file_contents(fonts: FontSet, tmp_path: Path) -> None:
    source = next(face for face in fonts.faces if face.family == MONO_FAMILY)
    copy = tmp_path / "mono.ttf"
    shutil.copyfile(source.path, copy)
    font_set = FontSet(faces=(FontFace(family=MONO_FAMILY, weight=400, style="normal", path=copy),))
    before = font_set.fingerprint()
    assert font_set.fingerprint() == before
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(0, 0))  # the contents decide, not the timestamp
    assert font_set.fingerprint() != before


def test_missing_font_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = pipeline.fonts._VariableSource(
        package="no_such_font_package",
        pip_name="no-such-font-package",
        resource="Font.ttf",
        family="Nothing",
        style="normal",
    )
    monkeypatch.setattr(pipeline.fonts, "_FACES", ((missing, 400),))
    with pytest.raises(FontError, match="pip install no-such-font-package"):
        ensure_fonts(tmp_path)


def test_pdf_embeds_only_the_handbook_fonts(fonts: FontSet, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = f"""
<p>{BODY_REGULAR}</p>
<p><strong>{BODY_BOLD}</strong>：<code>x.max()</code></p>
<pre><code>def softmax(x):  <span class="comment">{CODE_COMMENT}</span>
    <b>return</b> np.exp(x - x.max())  # 归一化</code></pre>"""
    pdf = write_pdf(page(fonts, body), tmp_path, caplog)

    embedded = embedded_fonts(pdf)
    assert {"Noto-Sans-SC", "Noto-Sans-SC-Bold", "Source-Code-Pro", "Source-Code-Pro-Bold"} <= set(embedded)
    # The CJK in the italic comment is Noto Sans SC slanted by WeasyPrint ("-Oblique"): same file.
    assert all(name.startswith(("Noto-Sans-SC", "Source-Code-Pro")) for name in embedded), embedded
    assert all(flags == ("yes", "yes") for flags in embedded.values()), embedded

    text = poppler("pdftotext", pdf)
    assert BODY_REGULAR in text
    assert f"{BODY_BOLD}：x.max()" in text
    assert f"def softmax(x): {CODE_COMMENT}" in text
    assert "# 归一化" in text


@pytest.mark.skipif(
    not (PROJECT_ROOT / "node_modules" / "mathjax-full").is_dir(),
    reason="node_modules/mathjax-full is missing: run `npm ci`",
)
def test_chinese_in_math_uses_noto_sans_sc(fonts: FontSet, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    formula = Formula(tex=r"\mathcal{L} = \text{交叉熵损失}", display=True)
    svg = MathEngine(cache_dir=None).render([formula], "svg")[formula].markup
    pdf = write_pdf(page(fonts, f"<p>{BODY_REGULAR}</p><div>{svg}</div>"), tmp_path, caplog)
    assert set(embedded_fonts(pdf)) == {"Noto-Sans-SC"}
    assert "交叉熵损失" in poppler("pdftotext", pdf)
