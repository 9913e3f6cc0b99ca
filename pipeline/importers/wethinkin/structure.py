"""A source file's structure: its table of contents, its questions and the groups above them, their ids.

Ids are derived from stable things so that re-importing a newer checkout updates Anki notes in place:

- chapter id: ``wt-`` + hash of the source path relative to SRC;
- question id: ``wt-`` + hash of (source path, normalized title). The normalized title drops the
  question number, case, width and punctuation, so renumbering upstream keeps the ids, but **editing
  a title upstream changes that question's id** (Anki then sees a new note). Two questions with the
  same normalized title in one file get ``-2``, ``-3`` … in order of appearance.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from .scan import Heading, Lines, read_lines
from .summary import Sink
from .syntax import ATX

# A question number at the start of a heading: "12.标题", "3、标题", "问题4：标题", "问题5. 标题".
NUMBER = re.compile(r"^\s*(?:问题\s*(?P<q>\d+)\s*[：:.．、]?|(?P<n>\d+)\s*[.、．])\s*")
_CHAPTER_GROUP = re.compile(r"^第[一二三四五六七八九十百零〇\d]+[章部篇节]")
_TOC_TITLES = {"目录", "目 录", "contents", "table of contents"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    heading: Heading
    id: str
    title: str  # without its number
    section: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One source file read: its lines and the questions and groups found in them."""

    path: Path
    rel: PurePosixPath
    topic: str
    chapter_id: str
    lines: Lines
    headings: tuple[Heading, ...]  # outside the table of contents
    questions: tuple[Question, ...]
    groups: tuple[Heading, ...]
    toc: tuple[tuple[int, int], ...]  # dropped [start, end) line ranges
    intro_end: int  # the intro is lines [0, intro_end), minus the TOC


def read_source(path: Path, src: Path, sink: Sink) -> Source | None:
    """Read one file and find its structure; None (reported) when it cannot be read."""
    rel = PurePosixPath(path.relative_to(src).as_posix())
    lines = read_lines(path, rel, sink)
    if lines is None:
        return None
    toc = tuple(_toc_ranges(lines.text, lines.headings))
    in_toc = {i for start, end in toc for i in range(start, end)}
    headings = tuple(h for h in lines.headings if h.index not in in_toc)
    questions, groups = _classify(headings, rel, sink)
    first = min([q.heading.index for q in questions] + [g.index for g in groups], default=len(lines.text))
    return Source(
        path=path, rel=rel, topic=rel.parts[0], chapter_id="wt-" + _digest(rel.as_posix(), 8), lines=lines,
        headings=headings, questions=questions, groups=groups, toc=toc, intro_end=first,
    )


# --- table of contents --------------------------------------------------------------------------


def _toc_ranges(lines: Sequence[str], headings: Sequence[Heading]) -> Iterator[tuple[int, int]]:
    """A ``# 目录`` heading and the link list under it (with its ``## 第一章`` sub-headings)."""
    for heading in headings:
        if heading.text.strip().lower() not in _TOC_TITLES:
            continue
        end = heading.index + 1
        while end < len(lines) and _toc_line(lines, end):
            end += 1
        yield (heading.index, end)


def _toc_line(lines: Sequence[str], index: int) -> bool:
    stripped = lines[index].strip()
    if not stripped or set(stripped) <= set("-*_= "):
        return True
    if re.match(r"^(?:[-*+]|\d+[.)])\s+\[", stripped) or stripped.startswith("["):
        return True
    if ATX.match(lines[index]):  # a sub-heading of the TOC only when a link list follows it
        following = next((line.strip() for line in lines[index + 1:] if line.strip()), "")
        return bool(re.match(r"^(?:[-*+]|\d+[.)])\s+\[", following))
    return False


# --- questions and groups -----------------------------------------------------------------------


def _question_number(text: str) -> int | None:
    match = NUMBER.match(text)
    if match is None:
        return None
    return int(match.group("q") or match.group("n"))


def _is_wenti(text: str) -> bool:
    return bool(re.match(r"^\s*问题\s*\d", text))


def _classify(
    headings: Sequence[Heading], rel: PurePosixPath, sink: Sink
) -> tuple[tuple[Question, ...], tuple[Heading, ...]]:
    """Which headings are questions and which group the questions below them.

    A question is a numbered HTML heading (h1–h3) or a ``问题N`` heading; a file with neither uses
    its shallowest numbered ATX headings (``### N. 标题``). A numbered heading directly followed by
    a deeper heading numbered 1 opens a group; so do ``第N章`` headings and, in an ATX file, the
    headings above the question level.
    """
    candidates = [
        h for h in headings
        if (h.html and h.level <= 3 and _question_number(h.text) is not None) or _is_wenti(h.text)
    ]
    atx_level = 0
    if not candidates:
        numbered = [h for h in headings if not h.html and h.level >= 2 and _question_number(h.text) is not None]
        if numbered:
            atx_level = min(h.level for h in numbered)
            candidates = [h for h in numbered if h.level == atx_level]
    group_ids = {
        id(a) for a, b in itertools.pairwise(candidates)
        if b.level > a.level and _question_number(b.text) == 1 and not _is_wenti(a.text)
    }
    groups = [h for h in candidates if id(h) in group_ids]
    chosen = {id(h) for h in candidates}
    for h in headings:
        if id(h) in chosen or h.html:
            continue
        if (h.level <= 2 and _CHAPTER_GROUP.match(h.text)) or (atx_level and h.level < atx_level):
            groups.append(h)
    groups.sort(key=lambda h: h.index)

    questions: list[Question] = []
    seen: Counter[str] = Counter()
    group_iter = iter(groups)
    next_group = next(group_iter, None)
    section = ""
    for head in candidates:
        if id(head) in group_ids:
            continue
        while next_group is not None and next_group.index < head.index:
            section = _section_name(next_group.text)
            next_group = next(group_iter, None)
        title = NUMBER.sub("", head.text, count=1).strip() or head.text
        key = _normal_title(title)
        seen[key] += 1
        qid = "wt-" + _digest(f"{rel.as_posix()}\n{key}", 10)
        if seen[key] > 1:
            qid = f"{qid}-{seen[key]}"
            sink.warn("duplicate-title", rel, head.index + 1,
                      f"question title {title!r} appears {seen[key]} times in this file; this one is {qid!r}")
        questions.append(Question(heading=head, id=qid, title=title, section=section))
    return tuple(questions), tuple(groups)


def _section_name(text: str) -> str:
    name = NUMBER.sub("", text, count=1).strip() or text.strip()
    return name.removesuffix("正文").strip()


def _normal_title(title: str) -> str:
    """What identifies a question: its title without width, case, spacing or punctuation."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


# --- links between questions --------------------------------------------------------------------


def anchor_key(anchor: str) -> str:
    """What an in-page anchor (``#1.标题``, ``#user-content-…``) and a heading have in common."""
    text = unquote(anchor).removeprefix("user-content-")
    return _normal_title(text)


def anchor_table(sources: Sequence[Source]) -> dict[tuple[str, str], str]:
    """(file, anchor key) → question id, from each question heading's id attribute and its text."""
    table: dict[tuple[str, str], str] = {}
    for source in sources:
        for question in source.questions:
            for anchor in (question.heading.anchor, question.heading.text):
                if anchor:
                    table.setdefault((source.rel.as_posix(), anchor_key(anchor)), question.id)
    return table
