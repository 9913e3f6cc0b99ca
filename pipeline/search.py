"""The offline search of the HTML folder: every question's text, prebuilt into a script file.

Word-splitting search indexes (mdBook, MkDocs) miss Chinese, where words are not separated, and a
fetched index (Pagefind) fails from ``file://``. So the index is the questions' own text — title,
tags, answer, whitespace collapsed and markup dropped — loaded as a plain ``<script>`` (never fetched),
and ``handbook.js`` finds any substring in it: the middle of a Chinese word as well as an English
word in any case. For a thousand questions that is a few megabytes scanned in a few milliseconds,
and the index is smaller than the text it holds, since it holds nothing else.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

INDEX_SCRIPT = "search-index.js"

_XHTML = "{http://www.w3.org/1999/xhtml}"
_MATHML = "{http://www.w3.org/1998/Math/MathML}"


def _text(element: ET.Element) -> str:
    """An element's text for searching: formulas as their TeX source, everything else as shown."""
    parts: list[str] = []

    def visit(node: ET.Element) -> None:
        if node.tag == f"{_MATHML}math":
            parts.append(" " + node.attrib.get("alttext", "") + " ")
        else:
            parts.append(node.text or "")
            for child in node:
                visit(child)
                parts.append(child.tail or "")
        if node.tag in _BLOCKS:
            parts.append(" ")

    visit(element)
    return " ".join("".join(parts).split())


_BLOCKS = {f"{_XHTML}{tag}" for tag in ("p", "li", "td", "th", "pre", "h3", "h4", "h5", "h6", "div", "br")}


def _classes(element: ET.Element) -> set[str]:
    return set(element.attrib.get("class", "").split())


def documents(name: str, data: bytes) -> list[list[str]]:
    """One entry per question of the page ``name`` (XHTML ``data``), in reading order: [href, title,
    tags (space-separated), answer]. Per page, so that the site's cache keeps each chapter's entries."""
    out: list[list[str]] = []
    root = ET.fromstring(data)
    for section in root.iter(f"{_XHTML}section"):
        if "question" not in _classes(section) or "id" not in section.attrib:
            continue
        heading = next((h for h in section.iter(f"{_XHTML}h2") if "question-title" in _classes(h)), None)
        title = _text(heading) if heading is not None else ""
        tags = [_text(e) for e in section.iter() if "tag" in _classes(e)]
        answer = next((d for d in section.iter(f"{_XHTML}div") if "answer" in _classes(d)), None)
        body = _text(answer) if answer is not None else ""
        out.append([f"{name}#{section.attrib['id']}", title, " ".join(tags), body])
    return out


def index_script(entries: Sequence[list[str]], language: str) -> bytes:
    """The index as a script that sets ``window.HANDBOOK_SEARCH`` (``entries``: the ``documents`` of
    every chapter page, in reading order)."""
    payload = json.dumps(list(entries), ensure_ascii=False, separators=(",", ":"))
    # "</" cannot end the script early in an .xhtml page, but U+2028/2029 break old JS parsers.
    payload = payload.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    header = f"/* The search index of this handbook ({language}): [href, title, tags, answer] per question. */\n"
    return (header + "window.HANDBOOK_SEARCH = " + payload + ";\n").encode("utf-8")
