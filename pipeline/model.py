"""The document model: plain, frozen data that knows nothing about any output format.

A Handbook holds Chapters, a Chapter holds Questions, a Question holds an Answer. Answer text is a
small tree of Block and Inline nodes (in the spirit of Pandoc's AST). Math and images stay
unrendered here: each output renders TeX and resolves asset URLs in its own way, through the hooks
the shared templates call (see ``pipeline.render``).

Every node has a ``kind`` class attribute; templates dispatch on it, one macro per kind.
"""

from __future__ import annotations

import re
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


Inline = Text | Code | Emph | Strong | Strikeout | Link | Image | Math | SoftBreak | LineBreak | FootnoteRef


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
        found: set[Asset] = set()
        for chapter in self.chapters:
            found.update(_assets_in_body(chapter.intro))
            for question in chapter.questions:
                found.update(_assets_in_inlines(question.title))
                found.update(_assets_in_body(question.answer))
        return tuple(sorted(found, key=lambda a: a.path.as_posix()))


def walk_inlines(nodes: tuple[Inline, ...]) -> list[Inline]:
    """Every inline node in ``nodes``, depth first."""
    out: list[Inline] = []
    for node in nodes:
        out.append(node)
        if isinstance(node, Emph | Strong | Strikeout | Link):
            out.extend(walk_inlines(node.children))
    return out


def walk_blocks(blocks: tuple[Block, ...]) -> list[Block]:
    """Every block node in ``blocks``, depth first."""
    out: list[Block] = []
    for block in blocks:
        out.append(block)
        if isinstance(block, BulletList | OrderedList):
            for item in block.items:
                out.extend(walk_blocks(item.blocks))
        elif isinstance(block, BlockQuote):
            out.extend(walk_blocks(block.blocks))
    return out


def body_blocks(body: Body) -> list[Block]:
    """Every block of a body, footnotes included."""
    out = walk_blocks(body.blocks)
    for note in body.footnotes:
        out.extend(walk_blocks(note.blocks))
    return out


def block_inlines(block: Block) -> list[Inline]:
    """Every inline node directly carried by ``block`` (not its nested blocks)."""
    if isinstance(block, Paragraph | Heading):
        return walk_inlines(block.children)
    if isinstance(block, Figure):
        return [block.image]
    if isinstance(block, Table):
        cells = block.header + tuple(c for row in block.rows for c in row)
        return [n for cell in cells for n in walk_inlines(cell.children)]
    return []


def body_inlines(body: Body) -> list[Inline]:
    return [n for b in body_blocks(body) for n in block_inlines(b)]


def _assets_in_inlines(nodes: tuple[Inline, ...]) -> list[Asset]:
    return [n.target for n in walk_inlines(nodes) if isinstance(n, Image) and isinstance(n.target, Asset)]


def _assets_in_body(body: Body) -> list[Asset]:
    return [
        n.target for n in body_inlines(body) if isinstance(n, Image) and isinstance(n.target, Asset)
    ]


def math_in(handbook: Handbook) -> list[Math | MathBlock]:
    """Every formula of the handbook, in document order (titles, intros, answers)."""
    out: list[Math | MathBlock] = []
    for chapter in handbook.chapters:
        bodies = [chapter.intro]
        for question in chapter.questions:
            out.extend(n for n in walk_inlines(question.title) if isinstance(n, Math))
            bodies.append(question.answer)
        for body in bodies:
            for block in body_blocks(body):
                if isinstance(block, MathBlock):
                    out.append(block)
                out.extend(n for n in block_inlines(block) if isinstance(n, Math))
    return out
