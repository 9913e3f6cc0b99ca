"""What both PDF editions show around the chapters, decided in Python: the frame's values (cover,
metadata, page settings), the tag index, the ruled lines of the practice edition, the build date."""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import CONFIG_NAME
from ..context import Context, Options
from ..labels import Labels
from ..locations import TEMPLATES
from ..model import Chapter, Handbook, Question, text_length
from ..output_names import PDF_NAME
from ..output_names import PRACTICE_NAME as PRACTICE_NAME

OUTPUT_NAME = PDF_NAME

# A light Pygments style: colored tokens on a pale background print well in color and in grey.
CODE_STYLE = "friendly"
STYLESHEET = TEMPLATES / "pdf" / "pdf.css"
# What sets the page numbers the stamps draw in the parts' boxes: in the parts' stylesheet and the stamps'.
NUMBERS_STYLESHEET = TEMPLATES / "pdf" / "numbers.css"

# handbook.toml's margins go into CSS verbatim, so only plain lengths pass.
_MARGINS = re.compile(r"(?:\d+(?:\.\d+)?(?:mm|cm|in|pt|pc|px|Q)\s+){0,3}\d+(?:\.\d+)?(?:mm|cm|in|pt|pc|px|Q)")
# Ruled lines under each question of the practice edition: one per this many characters of the printed
# answer, within bounds (a one-line answer still needs room; a 6,000-character one does not get 3 pages).
_CHARACTERS_PER_LINE = 200
MIN_ANSWER_LINES = 6
MAX_ANSWER_LINES = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class TagEntry:
    """One entry of the tag index: a tag and its questions, in book order."""

    tag: str
    questions: tuple[tuple[Chapter, Question], ...]


def answer_lines(question: Question) -> int:
    """How many ruled lines the practice edition leaves for answering ``question``: scaled to the length
    of its printed answer, from MIN_ANSWER_LINES to MAX_ANSWER_LINES."""
    given = question.key_points.blocks if question.key_points.given else ()
    length = text_length((*given, *question.answer.blocks))
    return max(MIN_ANSWER_LINES, min(MAX_ANSWER_LINES, round(length / _CHARACTERS_PER_LINE)))


def tag_index(handbook: Handbook) -> tuple[TagEntry, ...]:
    """Every tag with its questions, tags sorted by code point, questions in book order."""
    found: dict[str, list[tuple[Chapter, Question]]] = {}
    for chapter in handbook.chapters:
        for question in chapter.questions:
            for tag in question.tags:
                found.setdefault(tag, []).append((chapter, question))
    return tuple(TagEntry(tag=tag, questions=tuple(found[tag])) for tag in sorted(found))


def build_date(handbook: Handbook, options: Options) -> datetime:
    """The date printed on the cover and stored in the metadata: SOURCE_DATE_EPOCH, else the newest
    source file's modification time (so an unchanged source gives an unchanged PDF)."""
    if options.source_date_epoch is not None:
        return datetime.fromtimestamp(options.source_date_epoch, tz=UTC)
    sources = [handbook.root / CONFIG_NAME, *(handbook.root / c.source.path for c in handbook.chapters)]
    newest = max((int(p.stat().st_mtime) for p in sources if p.is_file()), default=0)
    return datetime.fromtimestamp(newest, tz=UTC)


def frame_values(handbook: Handbook, options: Options) -> dict[str, Any]:
    """What the outer frames show besides the chapters: cover, metadata, page settings, index."""
    meta = handbook.meta
    date = build_date(handbook, options)
    return {
        "handbook": handbook,
        "meta": meta,
        "page_size": meta.page.size.lower(),
        "page_margins": meta.page.margins.strip(),
        "subject": meta.description or meta.subtitle or meta.title,
        "keywords": ", ".join(entry.tag for entry in tag_index(handbook)),
        "date": date.strftime("%Y-%m-%d"),
        "timestamp": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tag_index": tag_index(handbook),
    }


def page_settings_valid(handbook: Handbook, ctx: Context) -> bool:
    margins = handbook.meta.page.margins.strip()
    if _MARGINS.fullmatch(margins):
        return True
    ctx.report.error(
        CONFIG_NAME,
        None,
        f"'pdf.margins' must be one to four lengths such as \"22mm 20mm 24mm 20mm\", not {margins!r}",
    )
    return False


def tool_folder(stack: contextlib.ExitStack, cache_dir: Path | None, name: str) -> Path:
    """``cache_dir`` itself, or with ``--no-cache`` a temporary folder removed after the build.

    Fonts and fetched images are derived tool resources, but "no cache" means neither reading nor
    writing one: such a build derives its fonts again (about 30 s).
    """
    if cache_dir is not None:
        return cache_dir
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"handbook-{name}-")))


def parts_folder(stack: contextlib.ExitStack, cache_dir: Path | None) -> Path:
    """Where laid-out parts' PDFs go: beside their cache entries, or with ``--no-cache`` a temporary
    folder removed after the build."""
    if cache_dir is not None:
        return cache_dir / "pdf-parts"
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handbook-parts-")))


def page_ref_css(words: Labels) -> str:
    """The page number a cross-reference prints after its text, in the handbook's language."""
    before, after = _css_string(words["page_ref_before"]), _css_string(words["page_ref_after"])
    return (
        f"a.xref::after {{ content: {before} target-counter(attr(href url), page) {after}; }}\n"
        f".part a.xref::after {{ content: {before} target-counter(attr(href url), ref-page) {after}; }}"
    )


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
