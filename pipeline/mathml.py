"""MathML as browsers and reading systems draw it: MathML Core, which EPUB 3 reading systems follow.

MathJax writes ``\\mathbb{R}`` as ``<mi mathvariant="double-struck">R</mi>``; MathML Core ignores
``mathvariant`` (except "normal" on ``mi``), so Chromium drew an italic R. The styled letters have
code points of their own (ℝ, 𝓛, 𝐯, Mathematical Alphanumeric Symbols), which any math font carries:
each styled letter, digit and Greek letter becomes its code point and the attribute goes.
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from functools import lru_cache

MATHML_NS = "http://www.w3.org/1998/Math/MathML"

# mathvariant → the style words of the Unicode names ("MATHEMATICAL <STYLE> CAPITAL R").
_STYLES = {
    "bold": "BOLD",
    "italic": "ITALIC",
    "bold-italic": "BOLD ITALIC",
    "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT",
    "-tex-calligraphic": "SCRIPT",
    "bold-script": "BOLD SCRIPT",
    "-tex-bold-calligraphic": "BOLD SCRIPT",
    "fraktur": "FRAKTUR",
    "bold-fraktur": "BOLD FRAKTUR",
    "sans-serif": "SANS-SERIF",
    "bold-sans-serif": "SANS-SERIF BOLD",
    "sans-serif-italic": "SANS-SERIF ITALIC",
    "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC",
    "monospace": "MONOSPACE",
}
# Letters that were in Unicode before the Mathematical Alphanumeric block keep their old names.
_OLDER = {"DOUBLE-STRUCK": "DOUBLE-STRUCK", "SCRIPT": "SCRIPT", "FRAKTUR": "BLACK-LETTER", "ITALIC": "PLANCK CONSTANT"}


@lru_cache(maxsize=4096)
def styled(char: str, variant: str) -> str | None:
    """``char`` in the style ``variant`` as one code point, or None when Unicode has none."""
    style = _STYLES.get(variant)
    if style is None:
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith("LATIN CAPITAL LETTER ") or name.startswith("LATIN SMALL LETTER "):
        case, letter = name.split(" ")[1], name.rsplit(" ", 1)[1]
        if len(letter) != 1:
            return None
        wanted = [f"MATHEMATICAL {style} {case} {letter}"]
        if style in _OLDER:
            wanted.append("PLANCK CONSTANT" if style == "ITALIC" else f"{_OLDER[style]} {case} {letter}")
    elif name.startswith("DIGIT "):
        wanted = [f"MATHEMATICAL {style} {name}"]
    elif name.startswith("GREEK CAPITAL LETTER ") or name.startswith("GREEK SMALL LETTER "):
        case, letter = name.split(" ")[1], name.split(" ", 3)[3]
        wanted = [f"MATHEMATICAL {style} {case} {letter}"]
    else:
        return None
    for candidate in wanted:
        try:
            found = unicodedata.lookup(candidate)
        except KeyError:
            continue
        if style == "ITALIC" and candidate == "PLANCK CONSTANT" and char != "h":
            continue
        return found
    return None


def core(markup: str) -> str:
    """``markup`` (one ``<math>`` element) with styled characters as code points of their own."""
    if "mathvariant" not in markup:
        return markup
    root = ET.fromstring(markup)
    changed = False
    for element in root.iter():
        variant = element.attrib.get("mathvariant")
        if variant is None or variant == "normal" or element.text is None:
            continue
        letters = [styled(char, variant) for char in element.text]
        if all(letter is not None for letter in letters):
            element.text = "".join(letter or "" for letter in letters)
            del element.attrib["mathvariant"]
            changed = True
    if not changed:
        return markup
    ET.register_namespace("", MATHML_NS)
    return ET.tostring(root, encoding="unicode")
