"""The HTML site's pieces in the cache: each page as templated, and what the fonts and the search index
take from each page, so that an edit to one answer templates one chapter page again and reads only
that page again (the fonts are then cut again only when the characters changed: ``webfonts``).

A templated page is keyed by everything it shows: the tool (pipeline code, templates, library
versions), the page's values (a chapter's whole model, the contents, the tag page), the handbook's
metadata, the frame's values, the pager's titles and what the hooks answer for the page's nodes
(formulas' MathML, images' file names, the pages of the questions it links to). Templates see the
handbook as ``handbook.meta`` only. What a page's text gives (its characters, its search entries) is
keyed by the page's bytes. Nothing here reports diagnostics: the formulas' warnings come before any
page is templated, whether it is then taken from the cache or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache as memoize
from typing import Any

from . import search, webfonts
from .cache import Cache, key, tool_key
from .model import Image, Link, Math, MathBlock
from .render import Hooks

PAGES = "site-pages"
TEXT = "site-text"
# Bump when what a key covers changes.
_RECIPE = "site-1"


def page_key(*parts: str) -> str:
    """The key of one templated page: the tool, and ``parts``, everything else the page shows."""
    return key(tool_key(), _RECIPE, *parts)


def hook_answers(value: object, hooks: Hooks) -> str:
    """What ``hooks`` answer for every node below ``value`` (a chapter): the page shows those answers,
    which the value's own repr does not hold (a formula's markup, an image's name in the site, the
    page of a question in another chapter). Every field of every node is visited, so a node the
    model adds later is not missed."""
    answers: list[str] = []
    for node in _nodes(value):
        if isinstance(node, Math | MathBlock):
            answers.append(str(hooks.math(node)))
        elif isinstance(node, Image):
            answers.append(repr(hooks.image_src(node.target)))
        elif isinstance(node, Link) and node.question_id:
            answers.append(hooks.question_href(node.question_id))
        elif isinstance(node, Link):
            answers.append(repr(hooks.link_href(node.url)))
    return repr(answers)


def _nodes(value: object) -> Iterator[object]:
    """Every dataclass instance below ``value`` (itself included), through fields and tuples."""
    if isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value
        for name in _field_names(type(value)):
            yield from _nodes(getattr(value, name))


@memoize
def _field_names(kind: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


class PageStore:
    """Templated pages: one entry per page holds its bytes in each edition that shows it."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def get(self, entry: str, editions: int) -> tuple[bytes, ...] | None:
        record = self.cache.get_record(PAGES, entry)
        if record is None:
            return None
        header, body = record
        sizes = header.get("sizes")
        if not (isinstance(sizes, list) and len(sizes) == editions and all(isinstance(s, int) for s in sizes)):
            return None
        if sum(sizes) != len(body):
            return None
        out: list[bytes] = []
        start = 0
        for size in sizes:
            out.append(body[start : start + size])
            start += size
        return tuple(out)

    def put(self, entry: str, pages: Sequence[bytes]) -> None:
        self.cache.put_record(PAGES, entry, {"sizes": [len(data) for data in pages]}, b"".join(pages))


@dataclass(frozen=True, slots=True, kw_only=True)
class PageText:
    """What the site takes from one web page's text: its characters per face (for the fonts) and its
    questions' search entries."""

    used: webfonts.UsedText
    documents: tuple[list[str], ...]


_FACES = ("regular", "bold", "code", "math")


def page_text(cache: Cache, name: str, data: bytes) -> PageText:
    """``name``'s characters and search entries, read from ``data`` unless the cache holds them."""
    entry = key(tool_key(), _RECIPE, name, data)
    record = cache.get_record(TEXT, entry)
    if record is not None:
        found = _decode(record[0])
        if found is not None:
            return found
    text = PageText(used=webfonts.page_text(data), documents=tuple(search.documents(name, data)))
    header = {face: "".join(sorted(getattr(text.used, face))) for face in _FACES}
    cache.put_record(TEXT, entry, {**header, "documents": list(text.documents)})
    return text


def _decode(header: dict[str, Any]) -> PageText | None:
    faces = [header.get(face) for face in _FACES]
    documents = header.get("documents")
    if not all(isinstance(chars, str) for chars in faces) or not isinstance(documents, list):
        return None
    if not all(isinstance(d, list) and all(isinstance(part, str) for part in d) for d in documents):
        return None
    regular, bold, code, math = (frozenset(chars) for chars in faces if isinstance(chars, str))
    used = webfonts.UsedText(regular=regular, bold=bold, code=code, math=math)
    return PageText(used=used, documents=tuple(documents))
