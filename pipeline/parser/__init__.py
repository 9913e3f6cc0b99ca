"""Reading the content folder into a Handbook.

The Markdown is parsed once into markdown-it tokens and walked as a ``SyntaxTreeNode`` tree; nothing
here matches regexes over Markdown. All markdown-it vocabulary stays in this module.

Reading happens in two passes, so that links between questions resolve: ``scan`` parses every
chapter file and collects its question ids, ``_ChapterBuilder`` then turns each tree into model
objects that are complete when constructed.
"""

from __future__ import annotations

from pathlib import Path

from ..config import read_metadata
from ..diagnostics import ContentError, Diagnostic, Report
from ..model import Handbook
from .chapter import ChapterBuilder
from .markdown import markdown_parser
from .scan import check_ids, read_source, scan_chapter

__all__ = ["chapter_files", "check", "load_handbook", "markdown_parser", "read_source"]

_SKIPPED_FILES = {"README.md"}


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
    question_ids = check_ids(valid, report)

    chapters = []
    for number, scanned in enumerate(valid, start=1):
        builder = ChapterBuilder(scanned, root, question_ids, report)
        chapter = builder.chapter(number)
        if chapter is not None:
            chapters.append(chapter)

    if report.errors or meta is None:
        raise ContentError(report.items)
    return Handbook(root=root, meta=meta, chapters=tuple(chapters)), report.warnings


def check(root: Path) -> tuple[Diagnostic, ...]:
    """Every diagnostic for a content folder, errors included (never raises ContentError)."""
    try:
        _, warnings = load_handbook(root)
    except ContentError as exc:
        return exc.diagnostics
    return warnings
