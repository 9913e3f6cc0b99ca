"""Which questions a study output holds: all of them, or those chosen by ``--chapter`` and ``--tag``
(the Anki deck and the printable cards choose alike)."""

from __future__ import annotations

from collections.abc import Iterable

from .diagnostics import HandbookError
from .model import Chapter, Handbook, Question

Selected = tuple[int, Chapter, Question]  # (position in the whole handbook, 1-based; chapter; question)


def select(handbook: Handbook, chapters: Iterable[str], tags: Iterable[str]) -> list[Selected]:
    """The questions of the deck, in handbook order: those of ``chapters`` (all when empty) that carry
    one of ``tags`` (any when empty). Positions count through the whole handbook, so a subset deck
    orders its new cards exactly as the full deck does.

    :raises HandbookError: for an unknown chapter id or tag, or when nothing is left.
    """
    wanted_chapters = tuple(dict.fromkeys(chapters))
    wanted_tags = tuple(dict.fromkeys(tags))
    known_chapters = [c.id for c in handbook.chapters]
    unknown = [c for c in wanted_chapters if c not in known_chapters]
    if unknown:
        raise HandbookError(
            f"unknown chapter id {', '.join(map(repr, unknown))}; the chapters are: {', '.join(known_chapters)}"
        )
    known_tags = {t for q in handbook.questions for t in q.tags}
    unknown = [t for t in wanted_tags if t not in known_tags]
    if unknown:
        raise HandbookError(
            f"no question has the tag {', '.join(map(repr, unknown))}; the tags are: "
            f"{', '.join(sorted(known_tags)) or '(none)'}"
        )

    numbered = enumerate(((c, q) for c in handbook.chapters for q in c.questions), start=1)
    selected = [
        (position, chapter, question)
        for position, (chapter, question) in numbered
        if (not wanted_chapters or chapter.id in wanted_chapters)
        and (not wanted_tags or set(question.tags) & set(wanted_tags))
    ]
    if not selected:
        raise HandbookError("no question matches the chosen chapters and tags together")
    return selected
