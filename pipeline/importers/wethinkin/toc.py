"""A file's own table of contents: where it is, what it lists, and whether the questions found agree.

Most files open with a ``# 目录`` list of in-page links; some have the list without the heading. The
list is dropped from the chapter (the handbook makes its own), but it is the author's statement of
which headings are questions, so it is read: the structure step asks it when a heading is ambiguous,
and afterwards every disagreement between it and the questions found is a located warning. Upstream
lists are sometimes stale, so it is evidence, never the answer: a warning is better than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from .names import heading_keys, question_number
from .scan import Heading
from .summary import Sink
from .syntax import ATX, LINK

_TOC_TITLES = {"目录", "目 录", "contents", "table of contents"}
_LIST_LINK = re.compile(r"^(?:[-*+]|\d+[.)])\s+\[")
_RULE = set("-*_= ")


@dataclass(frozen=True, slots=True, kw_only=True)
class TocEntry:
    index: int  # 0-based line
    depth: int  # indentation columns of the list item; a sub-heading inside the list is -1
    text: str  # the label
    keys: frozenset[str]  # see names.heading_keys
    parent: int | None  # position in Toc.entries of the entry this one is nested under


@dataclass(frozen=True, slots=True, kw_only=True)
class Toc:
    ranges: tuple[tuple[int, int], ...]  # [start, end) line ranges, dropped from the chapter
    entries: tuple[TocEntry, ...]

    def find(self, heading: Heading) -> int | None:
        """The position of the entry naming ``heading``, or None."""
        return self.match([heading])[0]

    def match(self, headings: Sequence[Heading]) -> list[int | None]:
        """The entry naming each heading, each entry used once: the one sharing most keys, in order."""
        taken: set[int] = set()
        last = -1
        found: list[int | None] = []
        for heading in headings:
            keys = heading_keys(heading.text, heading.anchor)
            scored = [(len(e.keys & keys), i > last, -i) for i, e in enumerate(self.entries)
                      if i not in taken and e.depth >= 0 and e.keys & keys]
            if not scored:
                found.append(None)
                continue
            position = -max(scored)[2]
            taken.add(position)
            last = position
            found.append(position)
        return found

    def has_children(self, position: int) -> bool:
        return any(e.parent == position for e in self.entries)


def find_toc(lines: Sequence[str], headings: Sequence[Heading], first_question: int) -> Toc:
    """The table of contents: under a ``目录`` heading, or else a run of in-page links at the top.

    :param first_question: the index of the first line that can be a question heading; a list at
        the top must start before it.
    """
    ranges = list(_titled_ranges(lines, headings))
    if not ranges:
        top = _untitled_range(lines, headings, first_question)
        if top is not None:
            ranges.append(top)
    return Toc(ranges=tuple(ranges), entries=tuple(_entries(lines, ranges)))


def _titled_ranges(lines: Sequence[str], headings: Sequence[Heading]) -> Iterator[tuple[int, int]]:
    """A ``# 目录`` heading and the link list under it (with its ``## 第一章`` sub-headings)."""
    for heading in headings:
        if heading.text.strip().lower() not in _TOC_TITLES:
            continue
        end = heading.index + 1
        while end < len(lines) and _toc_line(lines, end):
            end += 1
        yield (heading.index, end)


def _untitled_range(lines: Sequence[str], headings: Sequence[Heading], first_question: int) -> tuple[int, int] | None:
    """A list of in-page links before any text of the file: a table of contents without its title."""
    heading_lines = {h.index for h in headings}
    start = 0
    while start < min(first_question, len(lines)):
        stripped = lines[start].strip()
        if _in_page_item(stripped):
            break
        if stripped and not set(stripped) <= _RULE and start not in heading_lines:
            return None  # text comes first: a list after it is part of the introduction
        start += 1
    else:
        return None
    end = start
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not set(stripped) <= _RULE and not _in_page_item(stripped):
            break
        end += 1
    return (start, end)


def _in_page_item(stripped: str) -> bool:
    match = LINK.search(stripped)
    return bool(_LIST_LINK.match(stripped)) and match is not None and match.group(3).strip("<>").startswith("#")


def _toc_line(lines: Sequence[str], index: int) -> bool:
    stripped = lines[index].strip()
    if not stripped or set(stripped) <= _RULE:
        return True
    if _LIST_LINK.match(stripped) or stripped.startswith("["):
        return True
    if ATX.match(lines[index]):  # a sub-heading of the TOC only when a link list follows it
        following = next((line.strip() for line in lines[index + 1:] if line.strip()), "")
        return bool(_LIST_LINK.match(following))
    return False


def _entries(lines: Sequence[str], ranges: Sequence[tuple[int, int]]) -> Iterator[TocEntry]:
    stack: list[tuple[int, int]] = []  # (depth, position) of the entries enclosing the next one
    position = 0
    for start, end in ranges:
        for index in range(start, end):
            line = lines[index]
            atx = ATX.match(line)
            if atx:
                text, target, depth = atx.group(2) or "", "", -1
                if text.strip().lower() in _TOC_TITLES:
                    continue
            else:
                stripped = line.strip()
                match = LINK.search(stripped)
                if not (_LIST_LINK.match(stripped) or stripped.startswith("[")) or match is None:
                    continue
                text, target = match.group(2), match.group(3).strip("<>")
                depth = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
            while stack and stack[-1][0] >= depth:
                stack.pop()
            fragment = urlsplit(target).fragment if "#" in target else target
            yield TocEntry(index=index, depth=depth, text=" ".join(text.split()),
                           keys=heading_keys(text, fragment), parent=stack[-1][1] if stack else None)
            stack.append((depth, position))
            position += 1


# --- the check ----------------------------------------------------------------------------------


def compare(
    toc: Toc, questions: Sequence[Heading], groups: Sequence[Heading], headings: Sequence[Heading],
    rel: PurePosixPath, sink: Sink,
) -> int:
    """Warn at each disagreement between the table of contents and the structure found; how many.

    An entry and a question with the same number that match nothing else differ in wording (one
    warning); any other entry naming no question or group is reported at the entry; when the list
    names questions at all, a question it does not name is reported at the question.
    """
    if not toc.entries:
        return 0
    found = dict(zip((id(h) for h in questions), toc.match(questions), strict=True))
    named = sorted([*questions, *groups], key=lambda h: h.index)
    taken = {p for p in toc.match(named) if p is not None}
    lists_questions = any(p is not None for p in found.values())
    mismatches = 0
    unlisted = [q for q in questions if found[id(q)] is None] if lists_questions else []
    reported: set[int] = set()
    for position, entry in enumerate(toc.entries):
        if entry.depth < 0 or position in taken:
            continue
        if entry.parent in reported:  # the entry above it was reported: once is enough
            reported.add(position)
            continue
        number = question_number(entry.text)
        twin = next((q for q in unlisted if number is not None and question_number(q.text) == number), None)
        if twin is not None:
            unlisted.remove(twin)
            sink.warn("toc-mismatch", rel, twin.index,
                      f"question {twin.text!r} is listed in the table of contents (line {entry.index + 1}) "
                      f"as {entry.text!r}")
            mismatches += 1
            continue
        same = next((h for h in headings if heading_keys(h.text, h.anchor) & entry.keys), None)
        if same is None:
            what = "no heading matches it"
        elif any(same is h for h in named):
            what = f"line {same.index + 1} is named by another entry"
        else:
            what = f"line {same.index + 1} has it as a heading inside an answer"
        below = sum(1 for e in toc.entries if e.parent == position)
        if below:
            what += f"; nor are the {below} entries under it"
        reported.add(position)
        sink.warn("toc-mismatch", rel, entry.index,
                  f"table of contents lists {entry.text!r}, which is no question or group here ({what})")
        mismatches += 1
    for question in unlisted:
        sink.warn("toc-mismatch", rel, question.index,
                  f"question {question.text!r} is not in the file's table of contents")
        mismatches += 1
    return mismatches
