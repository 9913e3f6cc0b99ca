"""One source file as one chapter file: front matter, introduction, then each question and its answer.

Block-level work lives here (which lines are kept, headings demoted below ``##``, formulas made into
``$$`` blocks, fences closed); each line's inline text goes through ``inline.Inline``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from .inline import Inline, attr_value, math_line
from .scan import Heading, block_tokens
from .structure import Question, Source
from .syntax import FENCE, TAG

_BLOCK_START = re.compile(
    r"(?:`{3,}|~{3,}|#{1,6}(?:\s|$)|>|[-+*](?:\s|$)|\d+[.)](?:\s|$)|(?:[-*_=]\s*){3,}$|=+\s*$|\$\$\s*$)"
)
_RULE = set("-*_= ")  # a line of these separates blocks and says nothing
_WRAPPER_LINE = re.compile(r"(?:</?(?:div|center|p|section|figure|details|summary)\b[^<>]*>\s*)+", re.IGNORECASE)


def chapter_text(source: Source, inline: Inline) -> str:
    """The chapter file for ``source``, which holds at least one question."""
    chapter = _Chapter(
        source=source, inline=inline,
        dropped=frozenset(i for start, end in source.toc for i in range(start, end)),
        headings={h.index: h for h in source.headings},
    )
    front = {
        "id": source.chapter_id,
        "title": source.path.stem,
        "description": source.topic,  # the path is no reader's business (it is in the import's warnings)
    }
    out = ["---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip(), "---", ""]
    intro = chapter.body(0, source.intro_end)
    if intro:
        out += [*intro, ""]
    markers = sorted([q.heading.index for q in source.questions] + [g.index for g in source.groups])
    ends = {start: end for start, end in zip(markers, [*markers[1:], len(source.lines.text)], strict=True)}
    for group in source.groups:
        orphan = [i for i in range(group.index + 1, ends[group.index])
                  if not set(source.lines.text[i].strip()) <= _RULE and i not in chapter.dropped]
        if orphan:
            inline.warn("orphan-text", orphan[0],
                        f"{len(orphan)} line(s) under group heading {group.text!r} belong to no "
                        "numbered question; left out")
    for question in source.questions:
        start = question.heading.index
        out += [chapter.question_heading(question), ""]
        answer = chapter.body(start + 1, ends[start])
        if question.heading.tail:
            answer = [chapter.tail_text(question.heading.tail, start), "", *answer]
        if not answer:
            inline.warn("empty-answer", start, f"question {question.title!r} has no answer")
            answer = ["（原文无解答）"]
        out += [*answer, ""]
    return "\n".join(out).rstrip("\n") + "\n"


def tag_name(topic: str) -> str:
    """A topic folder's name as a tag (no spaces: Anki splits tags on them)."""
    return "_".join(attr_value(topic).split()) or "wethinkin"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Chapter:
    source: Source
    inline: Inline
    dropped: frozenset[int]  # table-of-contents lines
    headings: Mapping[int, Heading]  # by line index

    def question_heading(self, question: Question) -> str:
        # a <br> in a title is a space, as in a table cell
        title = " ".join(self.inline.convert(
            _literal_tags(question.title), question.heading.index, images=False, one_line=True).split())
        # The parser re-reads the text before a heading's {…} block unescaped, so an escaped \$ there
        # would count as a math delimiter; a full-width ＄ reads the same.
        title = title.replace("\\$", "＄")
        if not title.strip("\\ "):
            self.inline.warn("empty-title", question.heading.index, "question heading has no text; titled （无标题）")
            title = "（无标题）"
        attrs = [f"#{question.id}", f'tags="{tag_name(self.source.topic)}"']
        section = attr_value(question.section)
        if section:
            attrs.append(f'section="{section}"')
        return f"## {title} {{{' '.join(attrs)}}}"

    def body(self, start: int, end: int) -> list[str]:
        """Lines [start, end) as content-format Markdown: headings at level 3+, HTML converted."""
        text, in_code, in_math = self.source.lines.text, self.source.lines.in_code, self.source.lines.in_math
        lines: list[str] = []
        levels: list[tuple[int, int]] = []  # (position in lines, source level) of each heading
        for index in range(start, end):
            if index in self.dropped:
                continue
            line = text[index]
            if in_code[index]:
                lines.append(line)
                continue
            math = in_math[index]
            if math and not line.strip():
                continue  # a blank line would end the formula (and TeX rejects one in display math)
            if math:
                # A formula becomes a block of its own: blank lines around it (a $$ block cannot
                # interrupt a paragraph) and no indentation (four spaces would make it code).
                if not in_math[index - 1]:
                    lines.append("")
                lines.append(_math_delimiters(line, math))
                if index + 1 == end or not in_math[index + 1]:
                    lines.append("")
                continue
            heading = self.headings.get(index)
            if heading is not None:
                if not heading.text:
                    continue
                levels.append((len(lines), heading.level))
                lines.append(" ".join(
                    self.inline.convert(_literal_tags(heading.text), index, images=False, one_line=True).split()))
                if heading.tail:
                    lines += ["", self.tail_text(heading.tail, index), ""]
                continue
            lines.extend(self.block_line(line, index))
        _set_heading_levels(lines, levels)
        out = _tidy(lines)
        code = self.source.lines.in_code
        cursor = start
        for opener in _close_fences(out):
            # the opener was copied as written: its first copy from here on is the line to name
            cursor = next((i for i in range(cursor, end) if code[i] and text[i] == opener), start)
            self.inline.warn("unclosed-fence", cursor, "this code fence runs to the end of its list, quote or "
                             "question without a closing line; closed there")
        return out

    def block_line(self, text: str, index: int) -> list[str]:
        stripped = text.strip()
        if _WRAPPER_LINE.fullmatch(stripped):
            return [""]  # a wrapper line: it only separated blocks
        if stripped.startswith("\\[") and stripped.endswith("\\]") and len(stripped) > 4:
            tex = re.sub(r"(?<!\\)\$", "", stripped[2:-2]).strip()
            return ["", "$$", tex, "$$", ""] if tex else [""]
        indent = len(text) - len(text.lstrip())
        if indent >= 4 and re.match(r"<(?:img|div|center|p|a|font|span)\b", stripped, re.IGNORECASE):
            text = stripped  # indented inside a <div>, not code: GitHub read it as part of an HTML block
        converted = self.inline.convert(text, index, images=True, one_line=stripped.startswith("|"))
        pieces = converted.split("\n")
        first = pieces[0].lstrip()[:1]
        if first and first != stripped[:1]:  # "</h2>## x", "<font>```": a removed tag must not leave a block marker
            pieces[0] = _escape_block_start(pieces[0])
        return [pieces[0], *(_escape_block_start(p) for p in pieces[1:])]  # lines a <br> began

    def tail_text(self, text: str, index: int) -> str:
        """Text after ``</h2>`` on the heading's line: GitHub shows it as text in the HTML block, so
        it must not start a fence, list or heading here."""
        return _escape_block_start(self.inline.convert(text.strip(), index, images=True, one_line=True))


def _literal_tags(text: str) -> str:
    """A heading's text is text: what still looks like a tag there was written as text (``<a>`` in
    ``12.<a>与"b"的区别``), so its ``<`` becomes an entity the inline conversion leaves alone."""
    return TAG.sub(lambda m: "&lt;" + m.group(0)[1:], text)


def _math_delimiters(text: str, math: int) -> str:
    """A line of a formula over several lines, delimited by ``$$`` whatever the source used.

    Any other unescaped ``$`` goes: inside display math it can only end the formula early.
    """
    tex = math_line(text).strip()
    if math == 2:
        tex = tex.removeprefix("$$") if tex.startswith("$$") else tex.removeprefix("\\[").removeprefix("$")
    elif math == 3:
        tex = tex.removesuffix("$$") if tex.endswith("$$") else tex.removesuffix("\\]").removesuffix("$")
    tex = re.sub(r"(?<!\\)\$", "", tex)
    # the delimiters on lines of their own: "$$| a |" could otherwise start a table
    if math in (2, 3) and tex.strip():
        return f"$$\n{tex}" if math == 2 else f"{tex}\n$$"
    return "$$" if math in (2, 3) else tex


def _set_heading_levels(lines: list[str], levels: Sequence[tuple[int, int]]) -> None:
    """Answer headings start at ### and never skip a level, keeping their relative order."""
    ranks = {level: rank for rank, level in enumerate(sorted({lvl for _, lvl in levels}))}
    previous = 2
    for position, level in levels:
        new = min(3 + ranks[level], previous + 1, 6)
        previous = new
        lines[position] = f"\n{'#' * new} {lines[position]}\n"


def _escape_block_start(line: str) -> str:
    """Text that must stay a paragraph line: escape what would open a fence, heading, list or quote."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    if not _BLOCK_START.match(body):
        return line
    if body.startswith("$$"):
        return indent + "\\$\\$" + body[2:]
    digits = re.match(r"\d+", body)
    if digits:  # "1." cannot be escaped at the digit, only at its delimiter
        return indent + body[: digits.end()] + "\\" + body[digits.end():]
    return indent + "\\" + body


def _close_fences(lines: list[str]) -> list[str]:
    """Close every code fence that only ends with its container or the text; returns their openers.

    Asks our own parser which lines open fences: indentation, lists and quotes decide that, and a
    line-by-line guess gets them wrong. The closer repeats the opener's quote markers and indentation.
    """
    closed: list[str] = []
    for _ in range(3):  # a closer can change what follows it; settle in a few passes
        open_fences = []
        for token in block_tokens(lines):
            if token.type != "fence" or token.map is None:
                continue
            start, end = token.map
            last = end - 1
            while last > start and not lines[last].strip():
                last -= 1
            closing = lines[last].strip().lstrip("> ").strip()
            if last > start and closing.startswith(token.markup) and set(closing) == {token.markup[0]}:
                continue
            opener = lines[start].expandtabs(4)
            column = opener.find(token.markup)
            prefix = "".join(ch if ch == ">" else " " for ch in opener[: max(column, 0)])
            open_fences.append((last + 1, prefix + token.markup))
            closed.append(lines[start])
        if not open_fences:
            break
        for position, closer in reversed(open_fences):
            lines.insert(position, closer)
    return closed


def _tidy(lines: Sequence[str]) -> list[str]:
    """Split embedded newlines, collapse blank runs outside code, trim blank lines at both ends."""
    out: list[str] = []
    fence = ""
    for line in (piece for item in lines for piece in item.split("\n")):
        match = FENCE.match(line)
        if fence:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = ""
        elif match:
            fence = match.group(1)
        elif not line.strip():
            line = ""
            if out and not out[-1]:
                continue
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out
