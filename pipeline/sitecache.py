"""The HTML site's pieces in the cache: each page as templated, and what the fonts and the search index
take from each page, so that an edit to one answer templates one chapter page again and reads only
that page again (the fonts are then cut again only when the characters changed: ``webfonts``).

A templated page is keyed by everything it shows: the tool (pipeline code, templates, library
versions), the page's values (a chapter's whole model, the contents, the tag page), the handbook's
metadata, the frame's values, the pager's titles and what the hooks answer for the page's nodes
(formulas' MathML, images' file names, the pages of the questions it links to; which nodes those are is
kept by the chapter's repr, ``shown``). Templates see the handbook as ``handbook.meta`` only (a test
holds them to it). What a page's text gives (its characters, its search entries) is keyed by the
page's bytes. Nothing here reports diagnostics: the formulas' warnings come before any
page is templated, whether it is then taken from the cache or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache as memoize
from pathlib import PurePosixPath
from typing import Any

from . import search, webfonts
from .cache import Cache, key, tool_key
from .formulas import is_display
from .model import Asset, Chapter, Image, Link, Math, MathBlock
from .render import Hooks

PAGES = "site-pages"
SHOWN = "site-shown"
TEXT = "site-text"
# Bump when what a key covers changes.
_RECIPE = "site-1"


def page_key(*parts: str) -> str:
    """The key of one templated page: the tool, and ``parts``, everything else the page shows."""
    return key(tool_key(), _RECIPE, *parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shown:
    """What in a chapter the hooks answer for: its formulas (TeX, display), the images of its own files
    and the questions it links to. A function of the chapter alone, so kept by the chapter's repr."""

    formulas: tuple[tuple[str, bool], ...]
    images: tuple[str, ...]  # the Asset paths
    questions: tuple[str, ...]

    def answers(self, hooks: Hooks) -> str:
        """What ``hooks`` answer for each: a page shows them, and its values' repr does not hold them (a
        formula's markup, an image's name in the site, the page of a question in another chapter)."""
        return repr((
            [str(hooks.math(Math(tex=tex, display=display))) for tex, display in self.formulas],
            [hooks.image_src(Asset(path=PurePosixPath(path))) for path in self.images],
            [hooks.question_href(qid) for qid in self.questions],
        ))


def shown(cache: Cache, chapter: Chapter, chapter_repr: str) -> Shown:
    """The chapter's ``Shown``, found by visiting every field of every node (so a node the model adds
    later is not missed) unless the cache holds it for this ``repr(chapter)``."""
    entry = key(tool_key(), _RECIPE, chapter_repr)
    record = cache.get_record(SHOWN, entry)
    if record is not None:
        try:
            header = record[0]
            return Shown(
                formulas=tuple((str(tex), bool(display)) for tex, display in header["formulas"]),
                images=tuple(str(path) for path in header["images"]),
                questions=tuple(str(qid) for qid in header["questions"]),
            )
        except (KeyError, TypeError, ValueError):
            pass  # damaged: found again below
    formulas: set[tuple[str, bool]] = set()
    images: set[str] = set()
    questions: set[str] = set()
    for node in _nodes(chapter):
        if isinstance(node, Math | MathBlock):
            formulas.add((node.tex, is_display(node)))
        elif isinstance(node, Image) and isinstance(node.target, Asset):
            images.add(node.target.path.as_posix())
        elif isinstance(node, Link) and node.question_id:
            questions.add(node.question_id)
    found = Shown(formulas=tuple(sorted(formulas)), images=tuple(sorted(images)), questions=tuple(sorted(questions)))
    cache.put_record(SHOWN, entry, {"formulas": found.formulas, "images": found.images, "questions": found.questions})
    return found


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
