"""Reading the content folder into a Handbook.

The Markdown is parsed once into markdown-it tokens and walked as a ``SyntaxTreeNode`` tree; nothing
here matches regexes over Markdown. All markdown-it vocabulary stays in this module.

Reading happens in two passes, so that links between questions resolve: ``scan`` parses every
chapter file and collects its question ids, ``_ChapterBuilder`` then turns each tree into model
objects that are complete when constructed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from mdit_py_cjk_friendly import cjk_friendly
from mdit_py_plugins.attrs.parse import ParseError as AttrsParseError
from mdit_py_plugins.attrs.parse import parse as parse_attrs
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from .config import read_metadata
from .diagnostics import ContentError, Diagnostic, Report
from .model import (
    ID_PATTERN,
    Asset,
    Block,
    BlockQuote,
    Body,
    BulletList,
    Chapter,
    Code,
    CodeBlock,
    Emph,
    Figure,
    Footnote,
    FootnoteRef,
    Handbook,
    Heading,
    Image,
    Inline,
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
)

FRONT_MATTER_KEYS = ("id", "title", "description")
QUESTION_ATTRIBUTES = ("id", "tags", "difficulty", "section")
_SKIPPED_FILES = {"README.md"}


@cache
def markdown_parser() -> MarkdownIt:
    """The one parser configuration: CommonMark + tables, strikethrough, front matter, footnotes, math."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(footnote_plugin)
    md.use(dollarmath_plugin, allow_labels=False, allow_space=True, allow_digits=False, double_inline=True)
    md.inline.ruler.at("math_inline", _math_inline_rule())
    md.use(cjk_friendly)
    # Keep escaped characters as separate tokens, so an escaped \$ is not mistaken for a stray one.
    md.disable("text_join")
    return md


def _math_inline_rule() -> Callable[[StateInline, bool], bool]:
    """dollarmath's inline rule, minus a wrap-around at the start of a paragraph.

    With ``allow_digits=False`` the plugin rejects ``$…$`` after a digit by reading ``src[pos - 1]``;
    at position 0 that is the paragraph's *last* character, so "$p$ = 0.6" lost its math.
    """
    strict = math_inline_dollar(True, False, True)
    at_start = math_inline_dollar(True, True, True)

    def rule(state: StateInline, silent: bool) -> bool:
        if state.pos > 0:
            return bool(strict(state, silent))
        pushed = len(state.tokens)
        if not at_start(state, silent):
            return False
        if state.src[state.pos : state.pos + 1].isdigit():  # keep "no digit right after the closing $"
            del state.tokens[pushed:]
            state.pos = 0
            return False
        return True

    return rule


# --- public entry points ------------------------------------------------------------------------


def chapter_files(root: Path) -> list[Path]:
    """The chapter files of a content folder, in book order (sorted by file name)."""
    return sorted(
        p for p in root.glob("*.md")
        if p.is_file() and p.name not in _SKIPPED_FILES and not p.name.startswith(("_", "."))
    )


def load_handbook(root: Path) -> tuple[Handbook, tuple[Diagnostic, ...]]:
    """Read and validate a whole content folder.

    :param root: the content folder (holds ``handbook.toml`` and the chapter files).
    :returns: the handbook and the warnings found while reading it.
    :raises ContentError: when the content has errors; it carries every diagnostic.
    """
    root = root.resolve()
    report = Report()
    if not root.is_dir():
        report.error(root, None, "content folder not found")
        raise ContentError(report.items)
    meta = read_metadata(root, report)
    files = chapter_files(root)
    if not files:
        report.error(root, None, "no chapter files (*.md) in the content folder")

    scans = [scan_chapter(path, root, report) for path in files]
    valid = [s for s in scans if s is not None]
    question_ids = _check_ids(valid, report)

    chapters = []
    for number, scanned in enumerate(valid, start=1):
        builder = _ChapterBuilder(scanned, root, question_ids, report)
        chapter = builder.chapter(number)
        if chapter is not None:
            chapters.append(chapter)

    if report.errors or meta is None:
        raise ContentError(report.items)
    return Handbook(root=root, meta=meta, chapters=tuple(chapters)), report.warnings


# --- pass 1: scan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _QuestionHead:
    node: SyntaxTreeNode
    line: int
    id: str
    derived: bool  # the id was not written in the source
    title_nodes: tuple[SyntaxTreeNode, ...]
    attrs: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class _ScannedChapter:
    path: Path
    rel: PurePosixPath
    lines: tuple[str, ...]
    tree: SyntaxTreeNode
    front: dict[str, str]
    questions: tuple[_QuestionHead, ...]


def read_source(path: Path, rel: PurePosixPath | str, report: Report) -> str | None:
    """A source file's text with BOM and CRLF removed, or None (reported) when it is not UTF-8."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.error(rel, line, f"file is not valid UTF-8 (byte {data[exc.start]:#04x})")
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def scan_chapter(path: Path, root: Path, report: Report) -> _ScannedChapter | None:
    rel = PurePosixPath(path.relative_to(root).as_posix())
    text = read_source(path, rel, report)
    if text is None:
        return None
    tree = SyntaxTreeNode(markdown_parser().parse(text))
    front = _front_matter(tree, rel, report)
    if front is None:
        return None
    heads = []
    for node in tree.children:
        if node.type == "heading" and node.tag == "h2":
            head = _question_head(node, front["id"], rel, report)
            if head is not None:
                heads.append(head)
    if not heads:
        report.error(rel, None, "empty chapter: no questions (a question is a level-2 heading, ## …)")
    return _ScannedChapter(
        path=path, rel=rel, lines=tuple(text.split("\n")), tree=tree, front=front, questions=tuple(heads)
    )


def _front_matter(tree: SyntaxTreeNode, rel: PurePosixPath, report: Report) -> dict[str, str] | None:
    first = tree.children[0] if tree.children else None
    if first is None or first.type != "front_matter":
        report.error(rel, 1, "missing front matter (a --- block with id and title at the top of the file)")
        return None
    try:
        data = yaml.safe_load(first.content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        report.error(rel, line, f"invalid YAML in front matter: {getattr(exc, 'problem', exc)}")
        return None
    if not isinstance(data, dict):
        report.error(rel, 1, "front matter must be a mapping with id and title")
        return None
    for key in sorted(str(k) for k in data if k not in FRONT_MATTER_KEYS):
        report.warning(rel, 1, f"unknown front matter key {key!r} (known: {', '.join(FRONT_MATTER_KEYS)})")
    front: dict[str, str] = {}
    ok = True
    for key in FRONT_MATTER_KEYS:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str | int | float):
            report.error(rel, 1, f"front matter {key!r} must be a string")
            ok = False
            continue
        front[key] = str(value).strip()
    for key in ("id", "title"):
        if ok and not front[key]:
            report.error(rel, 1, f"front matter is missing {key!r}")
            ok = False
    if ok and not ID_PATTERN.match(front["id"]):
        report.error(rel, 1, f"chapter id {front['id']!r} must be lowercase letters, digits and hyphens")
        ok = False
    return front if ok else None


def _question_head(
    node: SyntaxTreeNode, chapter_id: str, rel: PurePosixPath, report: Report
) -> _QuestionHead | None:
    line = _line(node)
    inline = node.children[0]
    title_nodes, attrs_text = _split_trailing_attrs(inline.children)
    attrs: dict[str, str] = {}
    if attrs_text is not None:
        try:
            _, parsed = parse_attrs(attrs_text)
        except AttrsParseError as exc:
            report.error(rel, line, f"invalid heading attributes {attrs_text!r}: {exc}")
            parsed = {}
        attrs = {str(k): str(v) for k, v in parsed.items()}
    if "class" in attrs:
        report.warning(rel, line, f"classes on a question heading are ignored: {attrs.pop('class')!r}")
    for key in sorted(set(attrs) - set(QUESTION_ATTRIBUTES)):
        report.warning(rel, line, f"unknown question attribute {key!r} (known: {', '.join(QUESTION_ATTRIBUTES)})")
    title_text = plain_text(title_nodes).strip()
    if not title_text:
        report.error(rel, line, "question heading has no title")
        return None
    qid = attrs.get("id", "")
    derived = False
    if not qid:
        qid = derive_question_id(chapter_id, title_text)
        derived = True
        report.warning(
            rel, line,
            f"question has no id; using {qid!r} (add {{#{qid}}} to the heading so that editing the title "
            "keeps its Anki history)",
        )
    elif not ID_PATTERN.match(qid):
        report.error(rel, line, f"question id {qid!r} must be lowercase letters, digits and hyphens")
        return None
    return _QuestionHead(
        node=node, line=line, id=qid, derived=derived, title_nodes=tuple(title_nodes), attrs=attrs
    )


def derive_question_id(chapter_id: str, title: str) -> str:
    """A stable id for a question written without one: the chapter id and a hash of the title."""
    digest = hashlib.sha1(f"{chapter_id}\n{title}".encode()).hexdigest()[:8]
    return f"{chapter_id}-{digest}"


def _split_trailing_attrs(
    children: Sequence[SyntaxTreeNode],
) -> tuple[list[SyntaxTreeNode], str | None]:
    """Split ``Title {#id key=value}`` into the title's nodes and the attribute text.

    The title keeps its own nodes (escapes stay ``text_special``); only the text node in which the
    attribute block starts is cut.
    """
    nodes = list(children)
    cut = len(nodes)
    while cut > 0 and nodes[cut - 1].type in ("text", "text_special"):
        cut -= 1
    tail = "".join(n.content for n in nodes[cut:])
    stripped = tail.rstrip()
    if not stripped.endswith("}") or "{" not in stripped:
        return nodes, None
    start = None
    for candidate in (i for i, ch in enumerate(stripped) if ch == "{"):
        try:
            end, _ = parse_attrs(stripped[candidate:])
        except AttrsParseError:
            continue
        if candidate + end + 1 == len(stripped):  # ``end`` is the index of the closing brace
            start = candidate
            break
    if start is None:  # looks like attributes but does not parse: let the caller report it
        return nodes, stripped[stripped.rfind("{"):]
    title = nodes[:cut]
    offset = 0
    for node in nodes[cut:]:
        length = len(node.content)
        if offset + length <= start:
            title.append(node)
        elif offset < start:
            title.append(_text_node(node.content[: start - offset]))
        offset += length
    if title and title[-1].type == "text":
        trimmed = title[-1].content.rstrip()
        title[-1:] = [_text_node(trimmed)] if trimmed else []
    return title, stripped[start:]


def _text_node(content: str) -> SyntaxTreeNode:
    token = Token("text", "", 0, content=content)
    return SyntaxTreeNode([token]).children[0]


def plain_text(nodes: Sequence[SyntaxTreeNode]) -> str:
    """The visible text of inline nodes: math as its TeX, breaks as spaces."""
    parts: list[str] = []
    for node in nodes:
        if node.type in ("text", "text_special", "code_inline"):
            parts.append(node.content)
        elif node.type in ("math_inline", "math_inline_double"):
            parts.append(f"${node.content}$")
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif node.type == "image":
            parts.append(node.content)
        else:
            parts.append(plain_text(node.children))
    return "".join(parts)


def _check_ids(scans: Sequence[_ScannedChapter], report: Report) -> dict[str, PurePosixPath]:
    """Report duplicate chapter and question ids; return every question id with its file."""
    chapters: dict[str, PurePosixPath] = {}
    questions: dict[str, tuple[PurePosixPath, int]] = {}
    for scan in scans:
        cid = scan.front["id"]
        if cid in chapters:
            report.error(scan.rel, 1, f"duplicate chapter id {cid!r} (also in {chapters[cid]})")
        else:
            chapters[cid] = scan.rel
        for head in scan.questions:
            if head.id in questions:
                where, line = questions[head.id]
                report.error(scan.rel, head.line, f"duplicate question id {head.id!r} (also at {where}:{line})")
            else:
                questions[head.id] = (scan.rel, head.line)
    return {qid: where for qid, (where, _) in questions.items()}


def _line(node: SyntaxTreeNode) -> int:
    """The 1-based source line of a block node (markdown-it maps are 0-based)."""
    return node.map[0] + 1 if node.map else 1


# --- pass 2: build ------------------------------------------------------------------------------


class _ChapterBuilder:
    """Turns one scanned chapter into a Chapter. One builder per file and per build."""

    def __init__(
        self,
        scan: _ScannedChapter,
        root: Path,
        question_ids: dict[str, PurePosixPath],
        report: Report,
    ) -> None:
        self.scan = scan
        self.root = root
        self.question_ids = question_ids
        self.report = report
        self.footnote_defs = self._footnote_definitions()
        self.heading_level = 1

    def chapter(self, number: int) -> Chapter | None:
        scan = self.scan
        heads = {id(h.node): h for h in scan.questions}
        intro: list[SyntaxTreeNode] = []
        groups: list[tuple[_QuestionHead, list[SyntaxTreeNode]]] = []
        for node in scan.tree.children:
            if node.type in ("front_matter", "footnote_block"):
                continue
            if node.type == "heading" and node.tag == "h2":
                head = heads.get(id(node))
                if head is not None:
                    groups.append((head, []))
                    self.heading_level = 2
                continue
            if node.type == "heading" and node.tag == "h1":
                self.warn(node, "level-1 heading ignored: the chapter title comes from the front matter")
                continue
            (groups[-1][1] if groups else intro).append(node)

        intro_body = self.body(intro)
        questions = []
        for qnum, (head, nodes) in enumerate(groups, start=1):
            self.heading_level = 2
            answer = self.body(nodes)
            if not answer.blocks:
                self.report.warning(scan.rel, head.line, f"empty answer for question {head.id!r}")
            difficulty = self._difficulty(head)
            tags = tuple(dict.fromkeys(head.attrs.get("tags", "").split()))
            questions.append(
                Question(
                    id=head.id,
                    number=qnum,
                    title=self.inlines(head.title_nodes, head.line, _Notes()),
                    title_text=plain_text(head.title_nodes).strip(),
                    answer=answer,
                    tags=tags,
                    difficulty=difficulty,
                    section=head.attrs.get("section", ""),
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
        line = node if isinstance(node, int) else _line(node)
        self.report.warning(self.scan.rel, line, message)

    def error(self, node: SyntaxTreeNode | int, message: str) -> None:
        line = node if isinstance(node, int) else _line(node)
        self.report.error(self.scan.rel, line, message)

    def _difficulty(self, head: _QuestionHead) -> int | None:
        raw = head.attrs.get("difficulty")
        if raw is None:
            return None
        if raw in ("1", "2", "3"):
            return int(raw)
        self.error(head.line, f"difficulty must be 1, 2 or 3, not {raw!r}")
        return None

    # -- blocks

    def body(self, nodes: Sequence[SyntaxTreeNode]) -> Body:
        notes = _Notes()
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

    def blocks(self, nodes: Sequence[SyntaxTreeNode], notes: _Notes) -> tuple[Block, ...]:
        out: list[Block] = []
        for node in nodes:
            block = self.block(node, notes)
            if block is not None:
                out.append(block)
        return tuple(out)

    def block(self, node: SyntaxTreeNode, notes: _Notes) -> Block | None:
        kind = node.type
        line = _line(node)
        if kind == "paragraph":
            children = self.inlines(node.children[0].children, line, notes)
            images = [c for c in children if not (isinstance(c, Text) and not c.text.strip())]
            if len(images) == 1 and isinstance(images[0], Image):
                return Figure(image=images[0])
            return Paragraph(children=children)
        if kind == "heading":
            level = int(node.tag[1:])
            if level > self.heading_level + 1:
                self.warn(node, f"heading level skipped (h{self.heading_level} to h{level})")
            self.heading_level = level
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

    def _table(self, node: SyntaxTreeNode, notes: _Notes) -> Table:
        header: tuple[TableCell, ...] = ()
        rows: list[tuple[TableCell, ...]] = []
        for section in node.children:
            for row in section.children:
                line = _line(row)
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

    def inlines(self, nodes: Sequence[SyntaxTreeNode], line: int, notes: _Notes) -> tuple[Inline, ...]:
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

    def _link(self, node: SyntaxTreeNode, line: int, notes: _Notes) -> Link:
        href = str(node.attrs.get("href", ""))
        title = str(node.attrs.get("title", ""))
        children = self.inlines(node.children, line, notes)
        target = _internal_target(href)
        question_id = None
        if target is not None:
            if target in self.question_ids:
                question_id = target
            else:
                self.warn(line, f"link to unknown question id {target!r}")
        return Link(children=children, url=href, title=title, question_id=question_id)

    def _image(self, node: SyntaxTreeNode, line: int) -> Image | None:
        src = str(node.attrs.get("src", ""))
        alt = node.content
        title = str(node.attrs.get("title", ""))
        parts = urlsplit(src)
        if parts.scheme in ("http", "https"):
            return Image(alt=alt, target=RemoteImage(url=src), title=title)
        if parts.scheme or parts.netloc or src.startswith("/"):
            self.error(line, f"unsupported image location {src!r} (use a path relative to the chapter file)")
            return None
        relative = PurePosixPath(unquote(parts.path))
        resolved = (self.scan.path.parent / relative).resolve()
        try:
            inside = resolved.relative_to(self.root)
        except ValueError:
            self.error(line, f"image path escapes the content folder: {src!r}")
            return None
        if not resolved.is_file():
            self.error(line, f"image file not found: {src!r}")
            return None
        if not alt.strip():
            self.warn(line, f"image {src!r} has no alt text")
        return Image(alt=alt, target=Asset(path=PurePosixPath(inside.as_posix())), title=title)

    def _footnote_definitions(self) -> dict[int, list[SyntaxTreeNode]]:
        defs: dict[int, list[SyntaxTreeNode]] = {}
        for node in self.scan.tree.children:
            if node.type != "footnote_block":
                continue
            for note in node.children:
                defs[int(note.meta["id"])] = [c for c in note.children if c.type != "footnote_anchor"]
        return defs


class _Notes:
    """Footnote numbering within one body: numbers follow the order of first reference."""

    def __init__(self) -> None:
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


def check(root: Path) -> tuple[Diagnostic, ...]:
    """Every diagnostic for a content folder, errors included (never raises ContentError)."""
    try:
        _, warnings = load_handbook(root)
    except ContentError as exc:
        return exc.diagnostics
    return warnings
