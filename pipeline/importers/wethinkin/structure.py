"""A source file's structure: its table of contents, its questions and the groups above them, their ids.

Ids are derived from stable things so that re-importing a newer checkout updates Anki notes in place:

- chapter id: ``wt-`` + hash of the source path relative to SRC;
- question id: ``wt-`` + hash of (source path, normalized title). The normalized title drops the
  question number, case, width and punctuation, so renumbering upstream keeps the ids, but **editing
  a title upstream changes that question's id** (Anki then sees a new note). Two questions with the
  same normalized title in one file get ``-2``, ``-3`` … in order of appearance.

Which headings are questions is decided by rules for the dialect, each a hypothesis: where the file's
own table of contents can confirm or refute one it is asked, and where a rule guesses without it the
guess is a located warning.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .names import anchor_key, digest, is_wenti, normal_title, question_number, without_number
from .scan import Heading, Lines, read_lines
from .summary import Sink
from .toc import Toc, compare, find_toc

_CHAPTER_GROUP = re.compile(r"^第[一二三四五六七八九十百零〇\d]+(?:部分|[章部篇节])")
# Lines that only separate blocks: a group heading stands directly before a question across them.
_SEPARATOR = re.compile(r"^(?:[-*_=\s]*|(?:</?(?:div|center|p|br|hr)\b[^<>]*>\s*)+)$", re.IGNORECASE)


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
    toc_mismatches: int  # disagreements between the table of contents and the questions found
    intro_end: int  # the intro is lines [0, intro_end), minus the TOC


def read_source(path: Path, src: Path, sink: Sink) -> Source | None:
    """Read one file and find its structure; None (reported) when it cannot be read."""
    rel = PurePosixPath(path.relative_to(src).as_posix())
    lines = read_lines(path, rel, sink)
    if lines is None:
        return None
    first = next((h.index for h in lines.headings if _is_candidate(h)), len(lines.text))
    toc = find_toc(lines.text, lines.headings, first)
    in_toc = {i for start, end in toc.ranges for i in range(start, end)}
    headings = tuple(h for h in lines.headings if h.index not in in_toc)
    question_headings, groups = _classify(headings, lines.text, toc, rel, sink, title=path.stem)
    mismatches = compare(toc, question_headings, groups, headings, rel, sink)
    questions = _name_questions(question_headings, groups, rel, sink)
    first = min([q.heading.index for q in questions] + [g.index for g in groups], default=len(lines.text))
    return Source(
        path=path, rel=rel, topic=rel.parts[0], chapter_id="wt-" + digest(rel.as_posix(), 8), lines=lines,
        headings=headings, questions=questions, groups=groups, toc=toc.ranges, toc_mismatches=mismatches,
        intro_end=first,
    )


# --- questions and groups -----------------------------------------------------------------------


def _is_candidate(h: Heading) -> bool:
    """A numbered HTML heading (h1–h3) or a ``问题N`` heading: a question unless it opens a group."""
    return (h.html and h.level <= 3 and question_number(h.text) is not None) or is_wenti(h.text)


def _classify(
    headings: Sequence[Heading], text: Sequence[str], toc: Toc, rel: PurePosixPath, sink: Sink, *, title: str
) -> tuple[tuple[Heading, ...], tuple[Heading, ...]]:
    """Which headings are questions and which group the questions below them; both in line order.

    A question is a numbered HTML heading (h1–h3) or a ``问题N`` heading, and a numbered Markdown
    heading before the first of them when the table of contents lists it or its number runs into
    theirs; a file with neither uses its shallowest numbered ATX headings (``### N. 标题``).
    A numbered heading directly followed by a deeper heading numbered 1 opens a group, unless it is a
    question whose answer has numbered sub-points (see ``_opens_group``). ``第N章``/``第N部分``
    headings are groups; so are, in an ATX file, the headings above the question level, and a
    Markdown heading standing directly before a question, no deeper than it, in the introduction or
    shallower than the question, unless it is the file's own name (a title, not a group).
    """
    candidates = [h for h in headings if _is_candidate(h)]
    atx_level = 0
    if not candidates:
        numbered = [h for h in headings if not h.html and h.level >= 2 and question_number(h.text) is not None]
        if numbered:
            atx_level = min(h.level for h in numbered)
            candidates = [h for h in numbered if h.level == atx_level]
    else:
        candidates = _early_questions(headings, candidates, text, toc, rel, sink) + candidates
    openers = {
        id(a): b for a, b in itertools.pairwise(candidates)
        if b.level > a.level and question_number(b.text) == 1 and not is_wenti(a.text)
    }
    groups: list[Heading] = []
    subpoints: set[int] = set()
    for position, head in enumerate(candidates):
        if id(head) not in openers or id(head) in subpoints:
            continue
        if _opens_group(head, openers[id(head)], candidates, openers, toc, rel, sink):
            groups.append(head)
            continue
        for below in candidates[position + 1:]:
            if below.level <= head.level:
                break
            subpoints.add(id(below))
    group_ids = {id(g) for g in groups}
    questions = [h for h in candidates if id(h) not in subpoints and id(h) not in group_ids]
    chosen = {id(h) for h in candidates}
    groups += [h for h in headings if id(h) not in chosen and h.text and normal_title(h.text) != normal_title(title)
               and _groups_below(h, atx_level, text, questions)]
    groups.sort(key=lambda h: h.index)
    return tuple(questions), tuple(groups)


def _groups_below(heading: Heading, atx_level: int, text: Sequence[str], questions: Sequence[Heading]) -> bool:
    """A heading that is no question candidate but groups the questions after it."""
    if heading.level <= 2 and _CHAPTER_GROUP.match(heading.text):
        return True
    if heading.html:
        return False
    if atx_level:
        return heading.level < atx_level
    following = _next_question(heading, text, questions)
    if following is None:
        return False
    in_intro = heading.index < questions[0].index
    return heading.level < following.level or (in_intro and heading.level <= following.level)


def _early_questions(
    headings: Sequence[Heading], candidates: Sequence[Heading], text: Sequence[str], toc: Toc,
    rel: PurePosixPath, sink: Sink,
) -> list[Heading]:
    """Numbered Markdown headings before the first HTML question that are questions too.

    The table of contents says so when it lists one (not as a group), and the numbers say so when
    they count up from 1 into the first HTML question's. Any other one stays in the introduction,
    with a warning unless it stands directly before a question (then it is a group heading).
    """
    first = candidates[0]
    early = [h for h in headings if not h.html and h.index < first.index and h.level <= 3
             and question_number(h.text) is not None]
    if not early:
        return []
    numbers = [question_number(h.text) for h in [*early, first]]
    if numbers == list(range(1, len(numbers) + 1)):
        return early
    chosen = []
    for h in early:
        position = toc.find(h)
        if position is not None and not toc.has_children(position):
            chosen.append(h)
        elif position is None and _next_question(h, text, candidates) is None:
            sink.warn("heading-guess", rel, h.index,
                      f"numbered heading {h.text!r} before the first question ({first.text!r}) is neither in "
                      "the table of contents nor numbered up to it; kept in the introduction")
    return chosen


def _opens_group(
    head: Heading, first_child: Heading, candidates: Sequence[Heading], openers: dict[int, Heading],
    toc: Toc, rel: PurePosixPath, sink: Sink,
) -> bool:
    """Whether a numbered heading followed by deeper ones numbered from 1 groups them.

    It does when the table of contents nests entries under it or lists the first of them; it is a
    question with numbered sub-points when the table lists it alone. Without a table, it is a
    question when a neighbour at its level is a question numbered next to it (the sub-points
    interrupt a run of questions), which is reported as a guess.
    """
    position = toc.find(head)
    child = toc.find(first_child)
    if position is not None and not toc.has_children(position) and child is None:
        return False
    if position is not None or child is not None:
        return True
    same = [c for c in candidates if c.level == head.level]
    where = next(i for i, c in enumerate(same) if c is head)
    number = question_number(head.text) or 0
    neighbours = same[max(where - 1, 0): where] + same[where + 1: where + 2]
    if any(id(c) not in openers and question_number(c.text) in (number - 1, number + 1) for c in neighbours):
        sink.warn("subpoints-guess", rel, head.index,
                  f"{head.text!r} is followed by headings numbered from 1 but sits in a run of questions; "
                  "read as one question whose answer has numbered sub-points")
        return False
    return True


def _next_question(heading: Heading, text: Sequence[str], questions: Sequence[Heading]) -> Heading | None:
    """The question whose heading follows ``heading`` with only separating lines between them."""
    following = next((q for q in questions if q.index > heading.index), None)
    if following is None:
        return None
    if all(_SEPARATOR.match(text[i].strip()) for i in range(heading.index + 1, following.index)):
        return following
    return None


def _name_questions(
    headings: Sequence[Heading], groups: Sequence[Heading], rel: PurePosixPath, sink: Sink
) -> tuple[Question, ...]:
    """Each question's id, title and section.

    A section runs to the next group; one opened by a numbered heading (whose questions are numbered
    from 1 below it) ends earlier, at a question no deeper than it that does not continue the count.
    """
    events = sorted([(g.index, g) for g in groups] + [(h.index, h) for h in headings], key=lambda e: e[0])
    group_ids = {id(g) for g in groups}
    questions: list[Question] = []
    seen: Counter[str] = Counter()
    section, opener, count = "", None, 0
    for _, head in events:
        if id(head) in group_ids:
            section = _section_name(head.text)
            opener = head if question_number(head.text) is not None and head.html else None
            count = 0
            continue
        number = question_number(head.text)
        if opener is not None and head.level <= opener.level and number != count + 1:
            section, opener = "", None
        count = number or count + 1
        title = without_number(head.text) or head.text
        key = normal_title(title)
        seen[key] += 1
        qid = "wt-" + digest(f"{rel.as_posix()}\n{key}", 10)
        if seen[key] > 1:
            qid = f"{qid}-{seen[key]}"
            sink.warn("duplicate-title", rel, head.index,
                      f"question title {title!r} appears {seen[key]} times in this file; this one is {qid!r}")
        questions.append(Question(heading=head, id=qid, title=title, section=section))
    return tuple(questions)


def _section_name(text: str) -> str:
    name = without_number(text) or text.strip()
    return name.removesuffix("正文").strip()


# --- links between questions --------------------------------------------------------------------


def anchor_table(sources: Sequence[Source]) -> dict[tuple[str, str], str]:
    """(file, anchor key) → question id, from each question heading's id attribute and its text."""
    table: dict[tuple[str, str], str] = {}
    for source in sources:
        for question in source.questions:
            for anchor in (question.heading.anchor, question.heading.text):
                if anchor:
                    table.setdefault((source.rel.as_posix(), anchor_key(anchor)), question.id)
    return table
