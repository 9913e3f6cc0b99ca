"""Find the source files and read each one into classified lines: code, formulas, headings.

Where CommonMark's own reading matters (which lines are fenced code) this asks our parser for tokens
instead of guessing; the rest is line by line, the honest tool for a dialect whose structure lives in
HTML lines that CommonMark would swallow into HTML blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from markdown_it.token import Token

from ...parser import markdown_parser
from .summary import Sink
from .syntax import ATX, HTML_HEADING, LINK, TAG

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SKIPPED_NAMES = {"readme.md", "notice.md", "license.md"}
_HTML_CLOSE = re.compile(r"</h([1-6])\s*>", re.IGNORECASE)
_ID_ATTR = re.compile(r"""\bid\s*=\s*(["']?)([^"'>]*)(["']?)""", re.IGNORECASE)
# A quoted id runs to a quote that ends the value (followed by a space, "/" or the tag's end).
_QUOTED_ID = re.compile(r"""\bid\s*=\s*(["'])(.*?)\1(?=[\s/]|$)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heading:
    index: int  # 0-based line index
    level: int
    text: str  # visible text, markup stripped
    anchor: str  # the HTML id, or "" (ATX headings)
    html: bool
    tail: str = ""  # text after an HTML heading's end tag, on the same line: it starts the answer


@dataclass(frozen=True, slots=True, kw_only=True)
class Lines:
    """One source file's text, cleaned, with what each line is."""

    rel: PurePosixPath  # relative to SRC
    text: tuple[str, ...]
    in_code: tuple[bool, ...]  # True for code: fence lines and the lines between them, indented code
    in_math: tuple[int, ...]  # see math_lines
    headings: tuple[Heading, ...]


# --- discovery ----------------------------------------------------------------------------------


def source_files(src: Path) -> list[Path]:
    """Markdown files below the topic folders, topics in the order the root README lists them."""
    order = _readme_topic_order(src)
    found = [
        p for p in src.rglob("*.md")
        if p.is_file() and p.parent != src and p.name.lower() not in _SKIPPED_NAMES
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    ]

    def key(path: Path) -> tuple[int, str, str]:
        rel = path.relative_to(src)
        topic = rel.parts[0]
        return (order.get(topic, len(order)), topic, rel.as_posix())

    return sorted(found, key=key)


def _readme_topic_order(src: Path) -> dict[str, int]:
    """Topic folders in the order of the root README's links (the upstream's own reading order)."""
    readme = next((p for p in sorted(src.glob("*")) if p.name.lower() == "readme.md"), None)
    if readme is None:
        return {}
    try:
        text = readme.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}
    order: dict[str, int] = {}
    for match in LINK.finditer(text):
        target = unquote(match.group(3).strip("<>")).strip("./")
        if target and "/" not in target and (src / target).is_dir() and target not in order:
            order[target] = len(order)
    return order


# --- one file -----------------------------------------------------------------------------------


def read_lines(path: Path, rel: PurePosixPath, sink: Sink) -> Lines | None:
    """The file's lines and what each one is; None (reported) when it cannot be read."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        sink.warn("not-utf8", rel, None, f"file is not valid UTF-8 ({exc.reason}); skipped")
        return None
    except OSError as exc:
        sink.warn("unreadable", rel, None, f"cannot read file: {exc.strerror}; skipped")
        return None
    text = tuple(_clean_line(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    in_code = _code_lines(text)
    return Lines(rel=rel, text=text, in_code=in_code, in_math=_math_lines(text, in_code),
                 headings=tuple(_headings(text, in_code, rel, sink)))


def _clean_line(line: str) -> str:
    """Remove zero-width characters; NBSP (used as code indentation) becomes a space.

    A line that began with a zero-width character loses its leading whitespace too: upstream it was
    an invisible paragraph start, and the tab behind it would otherwise make an indented code block.
    """
    if line[:1] in ("\u200b", "\ufeff", "\u2060"):
        line = line.translate(_ZERO_WIDTH).lstrip(" \t")
    return line.translate(_ZERO_WIDTH).replace("\u00a0", " ")


def _code_lines(lines: Sequence[str]) -> tuple[bool, ...]:
    """Which lines are code, as our parser sees them (list context decides, not a regex).

    Fenced and indented code alike: their text is shown as written, so it is copied as written
    (an escape like ``\\<`` would be shown literally there).
    """
    flags = [False] * len(lines)
    for token in block_tokens(lines):
        if token.type in ("fence", "code_block") and token.map is not None:
            for index in range(token.map[0], min(token.map[1], len(lines))):
                flags[index] = True
    return tuple(flags)


def block_tokens(lines: Sequence[str]) -> list[Token]:
    """Our parser's tokens for ``lines``, maps indexing ``lines``; a leading ``---`` is no front matter."""
    tokens = markdown_parser().parse("\n" + "\n".join(lines))
    for token in tokens:
        if token.map is not None:
            token.map = [token.map[0] - 1, token.map[1] - 1]
    return tokens


def _math_lines(lines: Sequence[str], in_code: Sequence[bool]) -> tuple[int, ...]:
    """Display formulas over several lines: from a line opening ``$$`` to the line closing it.

    Also ``$`` … ``$`` and ``\\[`` … ``\\]`` spread over lines (``$\\begin{aligned}`` …
    ``\\end{aligned}$``), which GitHub shows as a formula; those become ``$$`` blocks. Flags: 0 text,
    1 inside a formula, 2 its opening line, 3 its closing line. An opener that never closes (before
    a code fence or a heading) is left alone: its dollars are then escaped as text, which
    ``handbook check`` accepts.
    """
    flags = [0] * len(lines)
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        single = _dollars(stripped) % 2 == 1 and stripped.startswith("$") and not stripped.startswith("$$")
        double = stripped.startswith("$$") and stripped.count("$$") % 2 == 1
        bracket = stripped.startswith("\\[") and "\\]" not in stripped
        if not in_code[index] and (single or double or bracket):
            end = index + 1
            closer = "\\]" if bracket else "$"
            while end < len(lines) and not in_code[end] and closer not in lines[end] \
                    and not HTML_HEADING.match(lines[end]) and not lines[end].startswith("#"):
                end += 1
            boundary = end >= len(lines) or in_code[end] or bool(HTML_HEADING.match(lines[end])) \
                or bool(ATX.match(lines[end]))
            closing = "" if boundary else lines[end].strip()
            if bracket:
                closes = closing.endswith("\\]") and "\\[" not in closing
            elif double:
                closes = closing.count("$$") % 2 == 1 and closing.endswith("$$")
            else:
                closes = (
                    _dollars(closing) % 2 == 1 and closing.endswith("$") and not closing.endswith("$$"))
            if closes:
                for i in range(index, end + 1):
                    flags[i] = 1
                flags[index], flags[end] = 2, 3
                index = end + 1
                continue
        index += 1
    return tuple(flags)


def _dollars(text: str) -> int:
    """How many unescaped ``$`` a line has."""
    return len(re.findall(r"(?<!\\)\$", text))


# --- headings -----------------------------------------------------------------------------------


def _headings(lines: Sequence[str], in_code: Sequence[bool], rel: PurePosixPath, sink: Sink) -> Iterator[Heading]:
    for index, line in enumerate(lines):
        if in_code[index]:
            continue
        html = HTML_HEADING.match(line)
        if html:
            yield _html_heading(index, html, rel, sink)
            continue
        atx = ATX.match(line)
        if atx:
            yield Heading(index=index, level=len(atx.group(1)), text=visible(atx.group(2) or ""),
                          anchor="", html=False)


def _html_heading(index: int, match: re.Match[str], rel: PurePosixPath, sink: Sink) -> Heading:
    """An HTML heading line, recovering from a missing quote or a missing or mismatched end tag.

    The opening tag ends at the first ``>`` outside a quoted value, and a value ends at a quote
    followed by a space, ``/`` or ``>``: so ``id="12.<a>与"b"的区别"`` is one value and the title
    after it is found whole.
    """
    level = int(match.group(1))
    line = match.string
    start = match.start(2)
    end = _open_tag_end(line, start)
    attrs, rest = (line[start:end], line[end + 1:]) if end >= 0 else (match.group(2), match.group(3))
    close = _HTML_CLOSE.search(rest)
    problems = []
    if close is None:
        problems.append(f"no </h{level}>")
        inner = rest
    else:
        inner = rest[: close.start()]
        if int(close.group(1)) != level:
            problems.append(f"<h{level}> closed by </h{close.group(1)}>")
    anchor = ""
    quoted = _QUOTED_ID.search(attrs)
    id_match = _ID_ATTR.search(attrs)
    if quoted:
        anchor = quoted.group(2).strip()
    elif id_match:
        anchor = id_match.group(2).strip()
        if id_match.group(1) != id_match.group(3):
            problems.append("unbalanced quotes in id")
    elif "id" in attrs.lower():
        problems.append("unreadable id attribute")
    # A title repeated in its id is text as written: "<a>" there is no tag.
    text = " ".join(inner.split()) if anchor and " ".join(inner.split()) == " ".join(anchor.split()) else visible(inner)
    if not text and anchor:
        text = anchor
    if problems:
        sink.warn("malformed-heading", rel, index,
                  f"malformed heading tag ({'; '.join(problems)}); read as an <h{level}> titled {text!r}")
    tail = rest[close.end():].strip() if close is not None else ""
    return Heading(index=index, level=level, text=text, anchor=anchor, html=True, tail=tail)


def _open_tag_end(line: str, start: int) -> int:
    """The index of the ``>`` closing a tag whose attributes start at ``start``, or -1."""
    quote = ""
    for position in range(start, len(line)):
        char = line[position]
        if quote:
            if char == quote and (position + 1 == len(line) or line[position + 1] in " \t/>"):
                quote = ""
        elif char in "\"'" and line[start:position].rstrip().endswith("="):
            quote = char
        elif char == ">":
            return position
    return -1


def visible(markup: str) -> str:
    """The text a reader sees: tags removed, whitespace collapsed."""
    text = TAG.sub("", markup)
    return " ".join(text.split())
