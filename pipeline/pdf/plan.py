"""Where each part of an edition starts: the plan the stamps and the assembly follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .engine import Part

# Page-reference stand-ins: ids of empty elements that carry another anchor's page number.
REF_PREFIX = "ref-"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Where each part starts in the edition (0-based page indexes) and the blank pages between."""

    front: int
    chapters: tuple[int, ...]
    back: int
    blanks: tuple[int, ...]
    total: int


def make_plan(front_pages: int, chapter_pages: Sequence[int], back_pages: int, *, right_hand: bool) -> Plan:
    """Chapters (and the tag index) of the book open on right-hand, odd-numbered pages: a blank page
    goes before one that would start on an even number."""
    count = front_pages
    starts: list[int] = []
    blanks: list[int] = []
    for pages in [*chapter_pages, back_pages]:
        if right_hand and count % 2 == 1 and pages:
            blanks.append(count)
            count += 1
        starts.append(count)
        count += pages
    return Plan(front=0, chapters=tuple(starts[:-1]), back=starts[-1], blanks=tuple(blanks), total=count)


def edition_anchors(plan: Plan, chapter_parts: Sequence[Part]) -> dict[str, tuple[int, float, float]]:
    """Every anchor of the chapters at its page in the edition (the page-refs' stand-ins left out)."""
    found: dict[str, tuple[int, float, float]] = {}
    for start, part in zip(plan.chapters, chapter_parts, strict=True):
        for name, (index, x, y) in part.anchors.items():
            if not name.startswith(REF_PREFIX):
                found.setdefault(name, (start + index, x, y))
    return found
