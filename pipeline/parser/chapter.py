"""Pass 2: one scanned chapter turned into model objects that are complete when constructed."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from markdown_it.tree import SyntaxTreeNode

from ..diagnostics import Report
from ..model import (
    Asset,
    Block,
    BlockQuote,
    Body,
    BulletList,
    Chapter,
    CheckSettings,
    Cloze,
    Code,
    CodeBlock,
    Emph,
    Figure,
    Footnote,
    FootnoteRef,
    Heading,
    Image,
    Inline,
    KeyPoints,
    LineBreak,
    Link,
    ListItem,
    Math,
    MathBlock,
    OrderedList,
    Paragraph,
    Question,
    RemoteImage,
    SoftBreak,
    Source,
    Strikeout,
    Strong,
    Table,
    TableCell,
    Text,
    ThematicBreak,
    descendants,
    text_length,
)
from ..resources import image_problem, real_path
from .markdown import line_of, plain_text
from .scan import QuestionHead, ScannedChapter


class ChapterBuilder:
    """Turns one scanned chapter into a Chapter. One builder per file and per build."""

    def __init__(
        self,
        scan: ScannedChapter,
        root: Path,
        question_ids: dict[str, PurePosixPath],
        report: Report,
        check: CheckSettings,
    ) -> None:
        self.check = check
        self.scan = scan
        self.root = root
        self.question_ids = question_ids
        self.report = report
        self.footnote_defs = self._footnote_definitions()
        # Each image file accepted: (the path as written, joined to the chapter's folder; where it resolved).
        self.images_read: list[tuple[Path, Path]] = []

    def chapter(self, number: int) -> Chapter | None:
        scan = self.scan
        heads = {id(h.node): h for h in scan.questions}
        intro: list[SyntaxTreeNode] = []
        groups: list[tuple[QuestionHead, list[SyntaxTreeNode]]] = []
        for node in scan.tree.children:
            if node.type in ("front_matter", "footnote_block"):
                continue
            if node.type == "heading" and node.tag == "h2":
                head = heads.get(id(node))
                if head is not None:
                    groups.append((head, []))
                continue
            if node.type == "heading" and node.tag == "h1":
                self.warn(node, "level-1 heading ignored: the chapter title comes from the front matter")
                continue
            (groups[-1][1] if groups else intro).append(node)

        # Answers are under a level-2 question heading; so is the introduction, once the file has questions.
        intro_body = self.body(intro, level=2 if groups else 1)
        questions = []
        for qnum, (head, nodes) in enumerate(groups, start=1):
            answer = self.body(nodes, level=2)
            key_points, answer = _key_points(answer)
            if not answer.blocks and not key_points.given:
                self.report.warning(scan.rel, head.line, f"empty answer for question {head.id!r}")
            length = text_length(key_points.blocks)
            if length > KEY_POINTS_MAX and self.check.key_points_length:
                where = "key points" if key_points.given else "first paragraph (standing in for key points)"
                self.report.warning(
                    scan.rel, head.line,
                    f"the {where} of question {head.id!r} run to {length} characters (at most {KEY_POINTS_MAX}); "
                    "give a shorter '> [!要点]' callout",
                )
            difficulty = self._difficulty(head)
            tags = tuple(dict.fromkeys(head.attrs.get("tags", "").split()))
            questions.append(
                Question(
                    id=head.id,
                    number=qnum,
                    title=self.inlines(head.title_nodes, head.line, _BodyState(level=2)),
                    title_text=plain_text(head.title_nodes).strip(),
                    answer=answer,
                    tags=tags,
                    difficulty=difficulty,
                    section=head.attrs.get("section", ""),
                    key_points=key_points,
                    follow_ups=_follow_ups(answer.blocks),
                    source=Source(path=scan.rel, line=head.line),
                )
            )
        if not questions:
            return None
        return Chapter(
            id=scan.front["id"],
            number=number,
            title=scan.front["title"],
            description=scan.front["description"],
            intro=intro_body,
            questions=tuple(questions),
            source=Source(path=scan.rel, line=1),
        )

    # -- diagnostics

    def warn(self, node: SyntaxTreeNode | int, message: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.report.warning(self.scan.rel, line, message)

    def error(self, node: SyntaxTreeNode | int, message: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.report.error(self.scan.rel, line, message)

    def _difficulty(self, head: QuestionHead) -> int | None:
        raw = head.attrs.get("difficulty")
        if raw is None:
            return None
        if raw in ("1", "2", "3"):
            return int(raw)
        self.error(head.line, f"difficulty must be 1, 2 or 3, not {raw!r}")
        return None

    # -- blocks

    def body(self, nodes: Sequence[SyntaxTreeNode], *, level: int) -> Body:
        """The blocks of one answer or introduction; ``level`` is the heading it stands under."""
        notes = _BodyState(level=level)
        blocks = self.blocks(nodes, notes)
        footnotes = []
        seen = 0
        while seen < len(notes.order):  # a footnote may itself reference a later one
            key = notes.order[seen]
            seen += 1
            definition = self.footnote_defs.get(key)
            content = self.blocks(definition, notes) if definition is not None else ()
            footnotes.append(Footnote(number=seen, blocks=content))
        return Body(blocks=blocks, footnotes=tuple(footnotes))

    def blocks(self, nodes: Sequence[SyntaxTreeNode], notes: _BodyState) -> tuple[Block, ...]:
        out: list[Block] = []
        for node in nodes:
            block = self.block(node, notes)
            if block is not None:
                out.append(block)
        return tuple(out)

    def block(self, node: SyntaxTreeNode, notes: _BodyState) -> Block | None:
        kind = node.type
        line = line_of(node)
        if kind == "paragraph":
            children = self.inlines(node.children[0].children, line, notes)
            images = [c for c in children if not (isinstance(c, Text) and not c.text.strip())]
            if len(images) == 1 and isinstance(images[0], Image):
                return Figure(image=images[0])
            return Paragraph(children=children)
        if kind == "heading":
            level = int(node.tag[1:])
            if level > notes.level + 1:
                self.warn(node, f"heading level skipped (h{notes.level} to h{level})")
            notes.level = level
            return Heading(level=level, children=self.inlines(node.children[0].children, line, notes))
        if kind in ("fence", "code_block"):
            if kind == "fence":
                self._check_fence_closed(node)
            language = node.info.strip().split(maxsplit=1)[0] if node.info.strip() else ""
            return CodeBlock(code=node.content, language=language)
        if kind == "math_block":
            return MathBlock(tex=node.content.strip(), line=line)
        if kind in ("bullet_list", "ordered_list"):
            items = tuple(ListItem(blocks=self.blocks(item.children, notes)) for item in node.children)
            tight = all(
                p.hidden for item in node.children for p in item.children if p.type == "paragraph"
            )
            if kind == "bullet_list":
                return BulletList(items=items, tight=tight)
            start = node.attrs.get("start", 1)
            return OrderedList(items=items, start=int(start), tight=tight)
        if kind == "blockquote":
            return BlockQuote(blocks=self.blocks(node.children, notes))
        if kind == "table":
            return self._table(node, notes)
        if kind == "hr":
            return ThematicBreak()
        self.warn(node, f"unsupported Markdown element {kind!r} left out")
        return None

    def _check_fence_closed(self, node: SyntaxTreeNode) -> None:
        assert node.map is not None
        start, end = node.map
        marker = node.markup
        last = self.scan.lines[end - 1] if start < end - 1 < len(self.scan.lines) else ""
        # Inside a blockquote or list the closing fence carries the container's "> " or indentation.
        last = last.lstrip(" \t>")
        closing = last.strip()
        if not (closing.startswith(marker) and set(closing) == {marker[0]}):
            self.error(node, f"unclosed code fence {marker} (it runs to the end of the file)")

    def _table(self, node: SyntaxTreeNode, notes: _BodyState) -> Table:
        header: tuple[TableCell, ...] = ()
        rows: list[tuple[TableCell, ...]] = []
        for section in node.children:
            for row in section.children:
                line = line_of(row)
                cells = tuple(
                    TableCell(
                        children=self.inlines(cell.children[0].children if cell.children else [], line, notes),
                        align=_cell_align(cell),
                    )
                    for cell in row.children
                )
                if section.type == "thead":
                    header = cells
                else:
                    rows.append(cells)
        return Table(header=header, rows=tuple(rows))

    # -- inlines

    def inlines(self, nodes: Sequence[SyntaxTreeNode], line: int, notes: _BodyState) -> tuple[Inline, ...]:
        out: list[Inline] = []
        for node in nodes:
            kind = node.type
            if kind == "text":
                self._check_dollars(node.content, line)
                out.append(Text(text=node.content))
            elif kind == "text_special":
                out.append(Text(text=node.content))
            elif kind == "code_inline":
                out.append(Code(text=node.content))
            elif kind == "softbreak":
                out.append(SoftBreak())
                line += 1
            elif kind == "hardbreak":
                out.append(LineBreak())
                line += 1
            elif kind == "em":
                out.append(Emph(children=self.inlines(node.children, line, notes)))
            elif kind == "strong":
                out.append(Strong(children=self.inlines(node.children, line, notes)))
            elif kind == "s":
                out.append(Strikeout(children=self.inlines(node.children, line, notes)))
            elif kind == "cloze":
                out.append(Cloze(children=self.inlines(node.children, line, notes)))
            elif kind == "math_inline":
                out.append(Math(tex=node.content.strip(), display=False, line=line))
            elif kind == "math_inline_double":
                out.append(Math(tex=node.content.strip(), display=True, line=line))
            elif kind == "link":
                out.append(self._link(node, line, notes))
            elif kind == "image":
                image = self._image(node, line)
                if image is not None:
                    out.append(image)
            elif kind == "footnote_ref":
                out.append(FootnoteRef(number=notes.number(node.meta["id"])))
            else:
                self.warn(line, f"unsupported inline element {kind!r} shown as text")
                out.append(Text(text=plain_text([node])))
        return _merge_text(out)

    def _check_dollars(self, text: str, line: int) -> None:
        if "$$" in text:
            self.error(line, "unterminated $$ math (no closing $$)")
        elif "$" in text:
            self.warn(line, "unterminated $ math (write \\$ for a literal dollar sign)")

    def _link(self, node: SyntaxTreeNode, line: int, notes: _BodyState) -> Link:
        href = str(node.attrs.get("href", ""))
        title = str(node.attrs.get("title", ""))
        children = self.inlines(node.children, line, notes)
        if urlsplit(href).scheme.lower() not in _LINK_SCHEMES:
            self.warn(line, f"link location {href!r} not allowed (http:, https:, mailto: or a question); shown as text")
            href = ""
        target = _internal_target(href)
        question_id = None
        if target is not None:
            chapter_file = urlsplit(href).path
            if target not in self.question_ids:
                self.warn(line, f"link to unknown question id {target!r}")
            elif chapter_file and self._chapter_of(chapter_file) != self.question_ids[target]:
                self.warn(
                    line, f"link {href!r}: question {target!r} is in {self.question_ids[target]}, "
                    f"not in {unquote(chapter_file)!r}",
                )
            else:
                question_id = target
        return Link(children=children, url=href, title=title, question_id=question_id)

    def _chapter_of(self, link_path: str) -> PurePosixPath | None:
        """The chapter file (relative to the content root) a link's path names, or None outside it."""
        target = os.path.normpath(self.scan.rel.parent / unquote(link_path))
        return None if target.startswith("..") else PurePosixPath(target)

    def _image(self, node: SyntaxTreeNode, line: int) -> Image | None:
        src = str(node.attrs.get("src", ""))
        alt = node.content
        title = str(node.attrs.get("title", ""))
        parts = urlsplit(src)
        if parts.scheme in ("http", "https"):
            return Image(alt=alt, target=RemoteImage(url=src), title=title, line=line)
        if parts.scheme or parts.netloc or src.startswith("/"):
            self.error(line, f"unsupported image location {src!r} (use a path relative to the chapter file)")
            return None
        relative = PurePosixPath(unquote(parts.path))
        if not relative.parts:
            self.error(line, "image without a location")
            return None
        written = self.scan.path.parent / relative
        try:
            resolved = real_path(written)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.error(line, f"image path is a symlink loop: {src!r}")
            else:
                self.error(line, f"image file not found: {src!r}")
            return None
        try:
            inside = resolved.relative_to(self.root)
        except ValueError:
            self.error(line, f"image path escapes the content folder: {src!r}")
            return None
        if not resolved.is_file():
            self.error(line, f"image file not found: {src!r}")
            return None
        for problem in image_problem(resolved):
            self.error(line, f"image {src!r} refused: {problem}")
            return None
        if not alt.strip() and self.check.alt_text:
            self.warn(line, f"image {src!r} has no alt text")
        self.images_read.append((written, resolved))
        return Image(alt=alt, target=Asset(path=PurePosixPath(inside.as_posix())), title=title, line=line)

    def _footnote_definitions(self) -> dict[int, list[SyntaxTreeNode]]:
        defs: dict[int, list[SyntaxTreeNode]] = {}
        for node in self.scan.tree.children:
            if node.type != "footnote_block":
                continue
            for note in node.children:
                defs[int(note.meta["id"])] = [c for c in note.children if c.type != "footnote_anchor"]
        return defs


KEY_POINTS_MAX = 300
# The first line of a block quote that makes it the answer's key points (compared without case).
KEY_POINTS_MARKERS = ("[!要点]", "[!summary]")
# The heading inside an answer whose list holds follow-up questions.
FOLLOW_UP_HEADINGS = ("面试追问", "追问", "follow-up questions", "follow-ups")


def _key_points(answer: Body) -> tuple[KeyPoints, Body]:
    """The answer's key points, and the answer without the callout that gave them."""
    blocks = answer.blocks
    if blocks and isinstance(blocks[0], BlockQuote):
        inner = _without_marker(blocks[0].blocks)
        if inner is not None:
            rest = Body(blocks=blocks[1:], footnotes=answer.footnotes)
            return KeyPoints(blocks=inner, given=True), rest
    first = next((b for b in blocks if isinstance(b, Paragraph)), None)
    return KeyPoints(blocks=(first,) if first is not None else (), given=False), answer


def _without_marker(blocks: tuple[Block, ...]) -> tuple[Block, ...] | None:
    """The callout's blocks without its ``[!要点]`` line; None when the quote is no key-points callout."""
    if not blocks or not isinstance(blocks[0], Paragraph):
        return None
    children = blocks[0].children
    if not children or not isinstance(children[0], Text):
        return None
    text = children[0].text
    marker = next((m for m in KEY_POINTS_MARKERS if text.casefold().startswith(m.casefold())), None)
    if marker is None:
        return None
    head = text[len(marker):].lstrip()
    rest: list[Inline] = [Text(text=head)] if head else []
    rest += children[1:]
    while rest and isinstance(rest[0], SoftBreak | LineBreak):
        rest.pop(0)
    first = (Paragraph(children=tuple(rest)),) if rest else ()
    return (*first, *blocks[1:])


def _follow_ups(blocks: tuple[Block, ...]) -> tuple[tuple[Inline, ...], ...]:
    """The prompts of the answer's follow-up list: each item's leading bold question, or its first
    paragraph when the item does not open with one."""
    for index, block in enumerate(blocks):
        if not (isinstance(block, Heading) and _plain(block.children).strip().casefold() in FOLLOW_UP_HEADINGS):
            continue
        for after in blocks[index + 1:]:
            if isinstance(after, Heading) and after.level <= block.level:
                break
            if isinstance(after, BulletList | OrderedList):
                return tuple(p for p in (_prompt(item.blocks) for item in after.items) if p)
    return ()


def _prompt(blocks: tuple[Block, ...]) -> tuple[Inline, ...]:
    if not blocks or not isinstance(blocks[0], Paragraph):
        return ()
    children = blocks[0].children
    if children and isinstance(children[0], Strong):
        return children[0].children
    return children


def _plain(nodes: Sequence[Inline]) -> str:
    return "".join(
        n.text if isinstance(n, Text | Code) else n.tex if isinstance(n, Math) else ""
        for n in descendants(nodes)
    )


_LINK_SCHEMES = ("", "http", "https", "mailto")


class _BodyState:
    """What reading one body carries from block to block: the level of the last heading (to report a
    skipped level) and footnote numbering, in order of first reference."""

    def __init__(self, *, level: int) -> None:
        self.level = level
        self.order: list[int] = []

    def number(self, key: Any) -> int:
        key = int(key)
        if key not in self.order:
            self.order.append(key)
        return self.order.index(key) + 1


def _internal_target(href: str) -> str | None:
    """The question id a link points at (``#id`` or ``chapter.md#id``), or None for other links."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.fragment:
        return None
    if parts.path and not parts.path.endswith(".md"):
        return None
    return unquote(parts.fragment)


def _cell_align(cell: SyntaxTreeNode) -> str:
    style = str(cell.attrs.get("style", ""))
    return style.removeprefix("text-align:") if style.startswith("text-align:") else ""


def _merge_text(nodes: list[Inline]) -> tuple[Inline, ...]:
    """Join adjacent Text nodes (escapes arrive as separate tokens) and drop empty ones."""
    out: list[Inline] = []
    for node in nodes:
        if isinstance(node, Text) and not node.text:
            continue
        if isinstance(node, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(text=out[-1].text + node.text)
        else:
            out.append(node)
    return tuple(out)
