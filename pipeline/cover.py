"""The cover of the HTML copy and the EPUB: a raster image (reading systems such as Kindle's want one)
of the title and subtitle, wrapped and sized to fit, set in the handbook's own Noto Sans SC."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass

from .fonts import CJK_FAMILY, FontSet
from .model import Handbook

COVER_WIDTH = 600
COVER_HEIGHT = 800
_TEXT_WIDTH = 480  # the title block's width inside the cover, in SVG units


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverText:
    lines: tuple[str, ...]
    size: int  # font size in SVG units


def _advance(char: str) -> float:
    """Rough width of a character in ems: full-width scripts (CJK) take one em, Latin about half."""
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.56


def _tokens(text: str) -> list[str]:
    """Break opportunities: every full-width character stands alone, Latin words stay whole."""
    out: list[str] = []
    for char in text:
        if _advance(char) == 1.0 or char == " " or not out or out[-1] == " " or _advance(out[-1][-1]) == 1.0:
            out.append(char)
        else:
            out[-1] += char
    return out


def _width(text: str, size: int) -> float:
    return sum(_advance(c) for c in text) * size


def wrap(text: str, size: int, width: float = _TEXT_WIDTH) -> tuple[str, ...]:
    """Greedy line breaking of ``text`` set at ``size`` units into lines of at most ``width``."""
    tokens: list[str] = []
    for token in _tokens(" ".join(text.split())):
        # A word wider than the whole line can only be broken between its letters.
        tokens.extend(token if _width(token, size) > width else [token])
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and _width((line + token).rstrip(), size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return tuple(lines)


def fit(text: str, largest: int, smallest: int, max_lines: int) -> CoverText:
    """The largest font size (down to ``smallest``) at which ``text`` fits in ``max_lines`` lines;
    at the smallest size, what does not fit is cut off with an ellipsis."""
    size = largest
    while size > smallest and len(wrap(text, size)) > max_lines:
        size -= 2
    lines = wrap(text, size)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _width(last + "…", size) > _TEXT_WIDTH:
            last = last[:-1]
        lines = (*lines[: max_lines - 1], last.rstrip() + "…")
    return CoverText(lines=lines, size=size)


_COVER_SCALE = 2  # pixels per cover unit: 1200 × 1600, what e-ink readers and stores ask for
_COVER_BACKGROUND = "#1d3557"
_COVER_ACCENT = "#e9c46a"
_LINE_GAP = 1.25


def cover_png(handbook: Handbook, fonts: FontSet) -> bytes:
    """The cover as a raster image (reading systems such as Kindle's want one): the title and subtitle,
    wrapped and sized to fit, set in the handbook's own Noto Sans SC on a plain colored page."""
    # Pillow is imported here: it is WeasyPrint's dependency, and only this function needs it.
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    faces = {face.weight: face.path for face in fonts.faces if face.family == CJK_FAMILY and face.style == "normal"}
    meta = handbook.meta
    k = _COVER_SCALE
    image = PILImage.new("RGB", (COVER_WIDTH * k, COVER_HEIGHT * k), _COVER_BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60 * k, 150 * k, 140 * k, 158 * k), fill=_COVER_ACCENT)

    def lines(text: CoverText, top: float, weight: int, color: str) -> float:
        font = ImageFont.truetype(str(faces[weight]), text.size * k)
        for number, line in enumerate(text.lines):
            baseline = top + text.size * (number * _LINE_GAP + 1)
            draw.text((60 * k, baseline * k), line, font=font, fill=color, anchor="ls")
        return top + text.size * len(text.lines) * _LINE_GAP

    title = fit(meta.title, largest=64, smallest=28, max_lines=4)
    bottom = lines(title, 220, 700, "#ffffff")
    if meta.subtitle:
        lines(fit(meta.subtitle, largest=30, smallest=18, max_lines=3), bottom + 40, 400, _COVER_ACCENT)
    small = ImageFont.truetype(str(faces[400]), 24 * k)
    if meta.author:
        draw.text((60 * k, (COVER_HEIGHT - 90) * k), meta.author, font=small, fill="#d2d7dd", anchor="ls")
    if meta.version:
        version_font = ImageFont.truetype(str(faces[400]), 18 * k)
        draw.text((60 * k, (COVER_HEIGHT - 55) * k), f"v{meta.version}", font=version_font, fill="#d2d7dd", anchor="ls")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

