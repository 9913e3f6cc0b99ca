"""The fonts the HTML folder and the EPUB carry, so that a copy passed around needs none installed.

Each face is cut down to the characters the pages use (fontTools' subsetter) and stored as WOFF2, an
EPUB core media type, under ``fonts/``; the stylesheet declares them with ``@font-face``. The text
face is Noto Sans SC (regular for all text, bold only for the characters set in bold), the code face
Source Code Pro, and formulas get an OpenType math font (its MATH table stretches roots, brackets and
arrows in MathML) when the machine has one. Subsets are cached by their fonts and characters.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, file_key, key
from .fonts import CJK_FAMILY, MONO_FAMILY, FontSet, font_face_css

FONT_DIR = "fonts"
MATH_FAMILY = "DejaVu Math TeX Gyre"
# Debian's fonts-dejavu-extra; formulas fall back to the reader's math font when it is missing.
MATH_FONT_PATHS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf"),)
# Bump when the subsetting below changes.
_RECIPE = "webfonts-2"
# Always kept: what a reader types into the search box, and what the stylesheet adds (arrows, ellipsis).
_ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F)) + "←→↑↓…·—–“”‘’，。：；！？（）《》、"

_XHTML = "{http://www.w3.org/1999/xhtml}"
_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_BOLD = {f"{_XHTML}{tag}" for tag in ("h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "th", "dt")}
_CODE = {f"{_XHTML}{tag}" for tag in ("code", "pre", "kbd", "samp")}


@dataclass(frozen=True, slots=True, kw_only=True)
class UsedText:
    """The characters the pages set in each face."""

    regular: frozenset[str]
    bold: frozenset[str]
    code: frozenset[str]
    math: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebFont:
    """One subset face as a file of the site."""

    family: str
    weight: int
    style: str
    name: str  # path relative to the site root
    data: bytes

    def css(self) -> str:
        return font_face_css(self.family, self.style, self.weight, self.name, "woff2")


def merged_text(pages: Iterable[UsedText], extra: str = "") -> UsedText:
    """The characters of several pages (``page_text`` of each) together, and ``extra`` for the text face.

    The union is the same set whatever way the pages are grouped, so a page's own characters can be
    kept (in the site's cache) and only an edited page's read again."""
    regular: set[str] = set(_ALWAYS + extra)
    bold: set[str] = set(_ALWAYS)
    code: set[str] = set(_ALWAYS)
    math: set[str] = set()
    for used in pages:
        regular |= used.regular
        bold |= used.bold
        code |= used.code
        math |= used.math
    for chars in (regular, bold, code, math):
        chars.difference_update("\n\r\t")
    return UsedText(regular=frozenset(regular), bold=frozenset(bold), code=frozenset(code), math=frozenset(math))


def page_text(data: bytes) -> UsedText:
    """The characters one XHTML page sets in each face (line breaks and tabs included: ``merged_text``
    drops them)."""
    regular: set[str] = set()
    bold: set[str] = set()
    code: set[str] = set()
    math: set[str] = set()

    def visit(element: ET.Element, in_bold: bool, in_code: bool) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.startswith(_MATHML):
            text = "".join(element.itertext())
            math.update(text)
            regular.update(text)  # Chinese in a formula falls back from the math face to the text face
            return
        in_bold = in_bold or tag in _BOLD
        in_code = in_code or tag in _CODE
        text = element.text or ""
        regular.update(text)
        if in_bold:
            bold.update(text)
        if in_code:
            code.update(text)
        for child in element:
            visit(child, in_bold, in_code)
            tail = child.tail or ""
            regular.update(tail)
            if in_bold:
                bold.update(tail)
            if in_code:
                code.update(tail)

    visit(ET.fromstring(data), False, False)
    return UsedText(regular=frozenset(regular), bold=frozenset(bold), code=frozenset(code), math=frozenset(math))


def web_fonts(fonts: FontSet, used: UsedText, cache: Cache) -> tuple[WebFont, ...]:
    """The subset faces for ``used``, each face only when some text needs it."""
    wanted: list[tuple[str, int, str, Path, frozenset[str]]] = []
    for face in fonts.faces:
        if face.style != "normal":
            continue
        if face.family == CJK_FAMILY:
            chars = used.regular if face.weight == 400 else used.bold
            wanted.append((face.family, face.weight, face.style, face.path, chars))
        elif face.family == MONO_FAMILY and face.weight == 400:
            wanted.append((face.family, face.weight, face.style, face.path, used.code))
    math_font = next((path for path in MATH_FONT_PATHS if path.is_file()), None)
    if math_font is not None and used.math:
        wanted.append((MATH_FAMILY, 400, "normal", math_font, used.math))
    out: list[WebFont] = []
    for family, weight, style, path, chars in wanted:
        text = "".join(sorted(chars))
        entry = key(_RECIPE, _sha256(path), text)
        data = cache.get("webfonts", entry)
        if data is None:
            data = subset(path, text, math=family == MATH_FAMILY)
            cache.put("webfonts", entry, data)
        stem = family.replace(" ", "")
        out.append(
            WebFont(family=family, weight=weight, style=style, name=f"{FONT_DIR}/{stem}-{weight}.woff2", data=data)
        )
    return tuple(out)


def subset(path: Path, text: str, *, math: bool = False) -> bytes:
    """``path`` cut down to the glyphs ``text`` needs (with their ligatures and variants), as WOFF2."""
    # fontTools is imported here: it is slow to load and only a build that misses the cache needs it.
    from fontTools import subset as ft_subset
    from fontTools.ttLib import TTFont

    options = ft_subset.Options()
    options.flavor = "woff2"
    options.hinting = False  # screens and e-ink readers hint themselves; hints are a third of a CJK font
    options.desubroutinize = True  # compresses better under brotli
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # copyright, names and version, which the OFL asks to keep
    options.notdef_outline = True
    options.drop_tables = [*options.drop_tables, "FFTM"]  # FontForge's timestamps: nothing reads them
    if math:
        options.layout_features = ["*"]  # math script styles (ssty) and the MATH table's variants
    with TTFont(path, recalcTimestamp=False) as font:  # lazy: only the tables the subsetter reads
        subsetter = ft_subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.flavor = "woff2"
        font.save(buffer, reorderTables=False)
    return buffer.getvalue()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def system_key() -> str:
    """What the HTML and the EPUB take from the machine: the math font's bytes (absent is a value too)."""
    return file_key([path for path in MATH_FONT_PATHS], Path("/"))
