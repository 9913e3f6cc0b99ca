"""Characters outside Noto Sans SC (emoji, symbols in imported material) still get real glyphs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.build import Options, build

from .conftest import FIXTURES, REPO

EMOJI = "💡✅❌🧨🌰"


@pytest.fixture(scope="module")
def emoji_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    content = tmp_path_factory.mktemp("emoji") / "content"
    shutil.copytree(FIXTURES / "mini", content)
    with (content / "01-basics.md").open("a", encoding="utf-8") as chapter:
        chapter.write(f"\n## 表情与*强调* {{#emoji}}\n\n提示 {EMOJI}，*中文强调*，符号 →。\n")
    cache = REPO / ".cache" if (REPO / ".cache").is_dir() else tmp_path_factory.mktemp("cache")
    out = content.parent / "out"
    diagnostics: list[object] = []
    build(content, ["pdf"], Options(out_dir=out, cache_dir=cache, source_date_epoch=0),
          on_diagnostic=diagnostics.append)
    assert diagnostics == []  # a missing glyph would be an error here
    return out / "handbook.pdf"


def test_emoji_are_drawn_from_the_bundled_fallback_font(emoji_pdf: Path) -> None:
    fonts = subprocess.run(["pdffonts", str(emoji_pdf)], capture_output=True, text=True, check=True).stdout
    assert "Noto-Emoji" in fonts
    text = subprocess.run(["pdftotext", str(emoji_pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"提示 {EMOJI}" in text


def test_chinese_emphasis_is_not_slanted(emoji_pdf: Path) -> None:
    fonts = subprocess.run(["pdffonts", str(emoji_pdf)], capture_output=True, text=True, check=True).stdout
    assert "Oblique" not in fonts  # WeasyPrint's synthetic slant; Chinese has no italic
