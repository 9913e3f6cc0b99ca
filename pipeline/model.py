"""The document model: plain, frozen data that knows nothing about any output format.

A Handbook holds Chapters, a Chapter holds Questions, a Question holds an Answer. Answer text is a
small tree of Block and Inline nodes (in the spirit of Pandoc's AST). Math and images stay
unrendered here: each output renders TeX and resolves asset URLs in its own way, through the hooks
the shared templates call (see ``pipeline.render``).

Every node has a ``kind`` class attribute; templates dispatch on it, one macro per kind.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

# ids become XML ids, URL fragments, file names and Anki GUID seeds: keep them boring.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TAG_PATTERN = re.compile(r"^[^\s]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where something was written: a path relative to the content root and a 1-based line."""

    path: PurePosixPath
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


# --- assets -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """A local file the handbook references, by its path relative to the content root."""

    path: PurePosixPath

    def __post_init__(self) -> None:
        if self.path.is_absolute() or ".." in self.path.parts:
            raise ValueError(f"asset path must stay inside the content root: {self.path}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteImage:
    """An image on the web. Never fetched unless the user asks for it."""

    url: str


# --- inline nodes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    kind: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    kind: ClassVar[str] = "code"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Emph:
    kind: ClassVar[str] = "emph"
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Strong:
    kind: ClassVar[str] = "strong"
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Strikeout:
    kind: ClassVar[str] = "strikeout"
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cloze:
    """``==text==``: a term worth memorising. Shown highlighted; in Anki, one cloze deletion each."""

    kind: ClassVar[str] = "cloze"
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A hyperlink. ``question_id`` is set when the target is another question of the handbook."""

    kind: ClassVar[str] = "link"
    children: tuple[Inline, ...]
    url: str
    title: str = ""
    question_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    kind: ClassVar[str] = "image"
    alt: str
    target: Asset | RemoteImage
    title: str = ""
    line: int = field(default=0, compare=False)  # source line, for diagnostics about the image


@dataclass(frozen=True, slots=True, kw_only=True)
class Math:
    kind: ClassVar[str] = "math"
    tex: str
    display: bool = False
    line: int = field(default=0, compare=False)  # source line, for diagnostics from math engines


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftBreak:
    kind: ClassVar[str] = "softbreak"


@dataclass(frozen=True, slots=True, kw_only=True)
class LineBreak:
    kind: ClassVar[str] = "linebreak"


@dataclass(frozen=True, slots=True, kw_only=True)
class FootnoteRef:
    """A reference to footnote ``number`` (1-based, in order of first reference within the answer)."""

    kind: ClassVar[str] = "footnote_ref"
    number: int


Inline = Text | Code | Emph | Strong | Strikeout | Cloze | Link | Image | Math | SoftBreak | LineBreak | FootnoteRef


# --- block nodes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Heading:
    """A heading inside an answer or an introduction (level 3 and deeper in chapter files)."""

    kind: ClassVar[str] = "heading"
    level: int
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeBlock:
    kind: ClassVar[str] = "code_block"
    code: str
    language: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MathBlock:
    kind: ClassVar[str] = "math_block"
    tex: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """An image standing alone in its paragraph; the alt text doubles as the caption."""

    kind: ClassVar[str] = "figure"
    image: Image


@dataclass(frozen=True, slots=True, kw_only=True)
class ListItem:
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BulletList:
    kind: ClassVar[str] = "bullet_list"
    items: tuple[ListItem, ...]
    tight: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderedList:
    kind: ClassVar[str] = "ordered_list"
    items: tuple[ListItem, ...]
    start: int = 1
    tight: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockQuote:
    kind: ClassVar[str] = "blockquote"
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TableCell:
    children: tuple[Inline, ...]
    align: str = ""  # "", "left", "center" or "right"


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    kind: ClassVar[str] = "table"
    header: tuple[TableCell, ...]
    rows: tuple[tuple[TableCell, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThematicBreak:
    kind: ClassVar[str] = "thematic_break"


Block = (
    Paragraph
    | Heading
    | CodeBlock
    | MathBlock
    | Figure
    | BulletList
    | OrderedList
    | BlockQuote
    | Table
    | ThematicBreak
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Footnote:
    number: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """A run of blocks with the footnotes they reference: an answer, or a chapter introduction."""

    blocks: tuple[Block, ...] = ()
    footnotes: tuple[Footnote, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPoints:
    """A question's short answer: the ``> [!要点]`` callout opening its answer (``given``), or else the
    answer's first paragraph standing in for one. Empty when the answer has neither."""

    blocks: tuple[Block, ...] = ()
    given: bool = False


# --- the book -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    id: str
    number: int  # 1-based position within its chapter
    title: tuple[Inline, ...]
    title_text: str  # the title as plain text: for outlines, Anki sort fields, search
    answer: Body
    tags: tuple[str, ...] = ()
    difficulty: int | None = None
    section: str = ""  # the group heading the question stands under, if the source had one
    key_points: KeyPoints = field(default_factory=KeyPoints)  # given ones are not repeated in ``answer``
    follow_ups: tuple[tuple[Inline, ...], ...] = ()  # the "面试追问" prompts, without their answers
    source: Source

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"invalid question id {self.id!r}")
        if self.difficulty is not None and self.difficulty not in (1, 2, 3):
            raise ValueError(f"difficulty must be 1, 2 or 3, not {self.difficulty}")
        for tag in self.tags:
            if not TAG_PATTERN.match(tag):
                raise ValueError(f"invalid tag {tag!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Chapter:
    id: str
    number: int  # 1-based position in the handbook
    title: str
    description: str = ""
    intro: Body = field(default_factory=Body)
    questions: tuple[Question, ...] = ()
    source: Source

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"invalid chapter id {self.id!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSettings:
    size: str = "A4"  # a CSS @page size: "A4", "Letter", "A5", …
    margins: str = "22mm 20mm 24mm 20mm"  # CSS margin shorthand


@dataclass(frozen=True, slots=True, kw_only=True)
class AnkiSettings:
    model_id: int
    deck_id: int
    # Where readers find the HTML copy (its html/ folder, as a URL): the cards' Source links point there.
    html_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSettings:
    """Which advisory checks apply (``[check]`` in handbook.toml): both on for our own writing; an
    imported collection whose images upstream have no alt text and whose answers have no short form
    may switch them off rather than keep warnings nobody can act on."""

    alt_text: bool = True  # warn on an image without alt text
    key_points_length: bool = True  # warn on key points (or their stand-in) over 300 characters


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    id: str
    title: str
    subtitle: str = ""
    author: str = ""
    language: str = "zh-CN"
    version: str = ""
    description: str = ""
    license: str = ""
    source_note: str = ""  # where imported material came from, for the colophon
    page: PageSettings = field(default_factory=PageSettings)
    anki: AnkiSettings
    check: CheckSettings = field(default_factory=CheckSettings)


@dataclass(frozen=True, slots=True, kw_only=True)
class Handbook:
    root: Path  # the content root; every Asset path is relative to it
    meta: Metadata
    chapters: tuple[Chapter, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for c in self.chapters for q in c.questions)

    @property
    def assets(self) -> tuple[Asset, ...]:
        """Every local asset referenced anywhere, once each, sorted by path."""
        found = {n.target for n, _ in walk(self) if isinstance(n, Image) and isinstance(n.target, Asset)}
        return tuple(sorted(found, key=lambda a: a.path.as_posix()))


# --- the walker ---------------------------------------------------------------------------------

Node = Block | Inline


def descendants(items: Iterable[Node]) -> Iterator[Node]:
    """Every node of ``items`` and below, depth first in reading order: a block, then the inlines it
    carries, then the blocks nested in it. The one walk over answer trees; every collector uses it."""
    for node in items:
        yield node
        if isinstance(node, Emph | Strong | Strikeout | Cloze | Link | Paragraph | Heading):
            yield from descendants(node.children)
        elif isinstance(node, Figure):
            yield from descendants((node.image,))
        elif isinstance(node, Table):
            for cell in (*node.header, *(c for row in node.rows for c in row)):
                yield from descendants(cell.children)
        elif isinstance(node, BulletList | OrderedList):
            for item in node.items:
                yield from descendants(item.blocks)
        elif isinstance(node, BlockQuote):
            yield from descendants(node.blocks)


def body_nodes(body: Body) -> Iterator[Node]:
    """Every node of a body, its footnotes last."""
    yield from descendants(body.blocks)
    for note in body.footnotes:
        yield from descendants(note.blocks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a node stands: its chapter, its question (None in a chapter's introduction) and its source:
    the node's own line where it carries one (formulas, images), else its question's or chapter's."""

    chapter: Chapter
    question: Question | None
    source: Source


def walk(where: Handbook | Chapter) -> Iterator[tuple[Node, Place]]:
    """Every node of a handbook or a chapter with its place, in reading order: each chapter's
    introduction, then each question's title and answer."""
    for chapter in where.chapters if isinstance(where, Handbook) else (where,):
        yield from _located(body_nodes(chapter.intro), chapter, None, chapter.source)
        for question in chapter.questions:
            yield from walk_question(chapter, question)


def walk_question(chapter: Chapter, question: Question) -> Iterator[tuple[Node, Place]]:
    """Every node of one question, title first, then its given key points, then its answer."""
    given = question.key_points.blocks if question.key_points.given else ()
    nodes = itertools.chain(descendants(question.title), descendants(given), body_nodes(question.answer))
    yield from _located(nodes, chapter, question, question.source)


def _located(
    nodes: Iterable[Node], chapter: Chapter, question: Question | None, source: Source
) -> Iterator[tuple[Node, Place]]:
    here = Place(chapter=chapter, question=question, source=source)
    for node in nodes:
        line = node.line if isinstance(node, Math | MathBlock | Image) else 0
        if line:
            yield node, Place(chapter=chapter, question=question, source=Source(path=source.path, line=line))
        else:
            yield node, here


def text_length(blocks: Iterable[Block]) -> int:
    """The visible characters of ``blocks`` (formulas count as their TeX, code blocks as their code)."""
    return sum(
        len(n.text) if isinstance(n, Text | Code) else len(n.tex) if isinstance(n, Math | MathBlock)
        else len(n.code) if isinstance(n, CodeBlock) else 0
        for n in descendants(blocks)
    )


def walk_inlines(nodes: Iterable[Inline]) -> list[Inline]:
    """Every inline node in ``nodes``, depth first."""
    return [n for n in descendants(nodes) if not isinstance(n, _BLOCKS)]


def walk_blocks(blocks: Iterable[Block]) -> list[Block]:
    """Every block node in ``blocks``, depth first."""
    return [n for n in descendants(blocks) if isinstance(n, _BLOCKS)]


def body_blocks(body: Body) -> list[Block]:
    """Every block of a body, footnotes included."""
    return [n for n in body_nodes(body) if isinstance(n, _BLOCKS)]


def body_inlines(body: Body) -> list[Inline]:
    """Every inline of a body, footnotes included."""
    return [n for n in body_nodes(body) if not isinstance(n, _BLOCKS)]


_BLOCKS = (
    Paragraph, Heading, CodeBlock, MathBlock, Figure, BulletList, OrderedList, BlockQuote, Table, ThematicBreak,
)
