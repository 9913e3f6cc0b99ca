"""Pass 1: every chapter file parsed into a syntax tree, its front matter read, its question headings
and ids found, so that pass 2 can resolve links between questions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.attrs.parse import HANDLERS as ATTRS_HANDLERS
from mdit_py_plugins.attrs.parse import ParseError as AttrsParseError
from mdit_py_plugins.attrs.parse import State as AttrsState
from mdit_py_plugins.attrs.parse import TokenState
from mdit_py_plugins.attrs.parse import parse as parse_attrs

from ..diagnostics import Report
from ..model import ID_PATTERN
from ..xmltext import describe, not_xml, without_not_xml
from .markdown import line_of, markdown_parser, plain_text

FRONT_MATTER_KEYS = ("id", "title", "description")
QUESTION_ATTRIBUTES = ("id", "tags", "difficulty", "section")


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionHead:
    node: SyntaxTreeNode
    line: int
    id: str
    derived: bool  # the id was not written in the source
    title_nodes: tuple[SyntaxTreeNode, ...]
    attrs: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChapterIds:
    """What pass 2 of every other file needs from a chapter file: its ids, with their lines."""

    rel: PurePosixPath
    chapter_id: str
    questions: tuple[tuple[str, int], ...]  # (question id, line)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannedChapter:
    path: Path
    rel: PurePosixPath
    lines: tuple[str, ...]
    tree: SyntaxTreeNode
    front: dict[str, str]
    questions: tuple[QuestionHead, ...]

    def ids(self) -> ChapterIds:
        return ChapterIds(
            rel=self.rel, chapter_id=self.front["id"], questions=tuple((h.id, h.line) for h in self.questions)
        )


def read_source(path: Path, rel: PurePosixPath | str, report: Report) -> str | None:
    """A source file's text with BOM and CRLF removed, or None (reported) when it is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.error(rel, None, f"cannot read the file: {exc.strerror or exc}")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.error(rel, line, f"file is not valid UTF-8 (byte {data[exc.start]:#04x})")
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not not_xml(text):
        return text
    lines = text.split("\n")
    for number, content in enumerate(lines, start=1):
        if found := not_xml(content):
            report.warning(rel, number, f"control character {describe(found)} removed (no output can hold it)")
    return without_not_xml(text)


def scan_chapter(path: Path, root: Path, report: Report) -> ScannedChapter | None:
    rel = PurePosixPath(path.relative_to(root).as_posix())
    text = read_source(path, rel, report)
    if text is None:
        return None
    tokens = markdown_parser().parse(text)
    _clean_tokens(tokens, 1, rel, report)
    problem = _structure_problem(tokens)
    if problem is not None:
        report.error(rel, *problem)
        return None
    tree = SyntaxTreeNode(tokens)
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
    return ScannedChapter(
        path=path, rel=rel, lines=tuple(text.split("\n")), tree=tree, front=front, questions=tuple(heads)
    )


MAX_NESTING = 40  # beyond this no reader follows the text, and the recursive readers after this one stop


def _structure_problem(tokens: Sequence[Token]) -> tuple[int, str] | None:
    """The line and description of the first place the tokens nest deeper than ``MAX_NESTING`` or close
    what they did not open (markdown-it's footnotes do that for ``[^1]: >[^1]:``), or None. Iterative,
    so that it runs where building the tree (recursive, and strict about balance) would not."""
    stack: list[tuple[Sequence[Token], int, int]] = [(tokens, 0, 1)]  # (tokens, index, line)
    opened: list[str] = []
    while stack:
        items, index, line = stack.pop()
        while index < len(items):
            token = items[index]
            index += 1
            if token.map:
                line = token.map[0] + 1
            if token.nesting == 1:
                opened.append(token.type.removesuffix("_open"))
                if len(opened) > MAX_NESTING:
                    return line, (
                        f"Markdown nested more than {MAX_NESTING} levels deep (emphasis, links, lists and quotes "
                        "inside each other)"
                    )
            elif token.nesting == -1 and (not opened or opened.pop() != token.type.removesuffix("_close")):
                return line, "Markdown the parser cannot follow (a footnote definition inside a quote or list?)"
            if token.children:
                stack.append((items, index, line))
                items, index = token.children, 0
    return None


def _clean_tokens(tokens: Sequence[Token], line: int, rel: PurePosixPath, report: Report) -> None:
    """Remove characters XML cannot hold from what markdown-it made of the text: character references
    (``&#12;``) give them back after the source was cleaned."""
    work: list[tuple[Token, int]] = [(t, line) for t in tokens]
    while work:
        token, line = work.pop()
        if token.map:
            line = token.map[0] + 1
        found = not_xml(token.content) + not_xml(token.info)
        if found:
            token.content = without_not_xml(token.content)
            token.info = without_not_xml(token.info)
        for name, value in list(token.attrs.items()):
            if isinstance(value, str) and not_xml(value):
                found += not_xml(value)
                token.attrs[name] = without_not_xml(value)
        if found:
            report.warning(rel, line, f"control character {describe(found)} removed (no output can hold it)")
        work.extend((child, line) for child in token.children or ())


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
        text = str(value).strip()
        if found := not_xml(text):
            report.warning(rel, 1, f"control character {describe(found)} removed from {key!r}")
            text = without_not_xml(text)
        front[key] = text
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
) -> QuestionHead | None:
    line = line_of(node)
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
        for twice in _declared_twice(attrs_text):
            report.error(rel, line, f"question attribute {twice!r} given more than once in {attrs_text!r}")
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
    return QuestionHead(
        node=node, line=line, id=qid, derived=derived, title_nodes=tuple(title_nodes), attrs=attrs
    )


class _RecordingTokens(TokenState):
    """The attribute parser's tokens, kept in order: its result keeps only the last of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def append(self, start: int, end: int, ttype: str) -> None:
        super().append(start, end, ttype)
        self.seen.append((ttype, self._text[start:end] if ttype == "key" else ""))

    _text = ""


def _declared_twice(attrs_text: str) -> list[str]:
    """Attributes written twice (``{#a1 #a2}``, two ``tags=``): the parser silently keeps the last."""
    tokens = _RecordingTokens()
    tokens._text = attrs_text
    state = AttrsState.START
    try:
        for pos, char in enumerate(attrs_text):
            state = ATTRS_HANDLERS[state](char, pos, tokens)
            if state == AttrsState.DONE:
                break
    except (AttrsParseError, KeyError):
        return []
    counts: dict[str, int] = {}
    for ttype, key in tokens.seen:
        name = "id" if ttype == "id" else key if ttype == "key" else ""
        if name and name != "class":
            counts[name] = counts.get(name, 0) + 1
    return [name for name, count in counts.items() if count > 1]


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

def check_ids(scans: Sequence[ChapterIds], report: Report) -> dict[str, PurePosixPath]:
    """Report duplicate chapter and question ids; return every question id with its file."""
    chapters: dict[str, PurePosixPath] = {}
    questions: dict[str, tuple[PurePosixPath, int]] = {}
    for scan in scans:
        cid = scan.chapter_id
        if cid in chapters:
            report.error(scan.rel, 1, f"duplicate chapter id {cid!r} (also in {chapters[cid]})")
        else:
            chapters[cid] = scan.rel
        for qid, qline in scan.questions:
            if qid in questions:
                where, line = questions[qid]
                report.error(scan.rel, qline, f"duplicate question id {qid!r} (also at {where}:{line})")
            else:
                questions[qid] = (scan.rel, qline)
    return {qid: where for qid, (where, _) in questions.items()}
