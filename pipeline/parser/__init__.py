"""Reading the content folder into a Handbook.

The Markdown is parsed once into markdown-it tokens and walked as a ``SyntaxTreeNode`` tree; nothing
here matches regexes over Markdown. All markdown-it vocabulary stays in this module.

Reading happens in two passes, so that links between questions resolve: ``scan`` parses every
chapter file and collects its question ids, ``_ChapterBuilder`` then turns each tree into model
objects that are complete when constructed.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ..cache import Cache
from ..config import read_metadata
from ..diagnostics import ContentError, Diagnostic, Report
from ..model import CheckSettings, Handbook
from ..resources import inside, real_path
from .markdown import markdown_parser
from .scan import check_ids, read_source
from .stored import StoredReading, ids_key

__all__ = ["chapter_files", "check", "load_handbook", "markdown_parser", "read_source"]

_SKIPPED_FILES = {"README.md"}


def chapter_files(root: Path, report: Report | None = None) -> list[Path]:
    """The chapter files of a content folder, in book order (sorted by file name). A ``*.md`` that is
    not a readable file inside the folder (a dangling symlink, a folder, a symlink loop, a link to a file
    outside) is reported, never silently left out of the book."""
    found = []
    for path in sorted(root.glob("*.md")):
        if path.name in _SKIPPED_FILES or path.name.startswith(("_", ".")):
            continue
        problem = _chapter_file_problem(path, root)
        if problem is None:
            found.append(path)
        elif report is not None:
            report.error(path.name, None, f"not a chapter file: {problem}")
    return found


def _chapter_file_problem(path: Path, root: Path) -> str | None:
    try:
        real = real_path(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return "a symlink to nothing" if path.is_symlink() else f"cannot be read ({exc.strerror or exc})"
    if real.is_dir():
        return "a folder"
    if not real.is_file():
        return "not a regular file"
    if not inside(real, root):
        return "a symlink to a file outside the content folder"
    return None


def load_handbook(root: Path, cache: Cache | None = None) -> tuple[Handbook, tuple[Diagnostic, ...]]:
    """Read and validate a whole content folder.

    :param root: the content folder (holds ``handbook.toml`` and the chapter files).
    :param cache: where each file's reading is stored (``parser/stored.py``): a file unchanged since
        a build read it is not parsed again. The handbook and the diagnostics are the same either way.
    :returns: the handbook and the warnings found while reading it.
    :raises ContentError: when the content has errors; it carries every diagnostic.
    """
    report = Report()
    try:
        root = real_path(root)
    except OSError as exc:
        report.error(root, None, f"content folder not found ({exc.strerror or exc})")
        raise ContentError(report.items) from None
    if not root.is_dir():
        report.error(root, None, "content folder not found (not a folder)")
        raise ContentError(report.items)
    meta = read_metadata(root, report)
    files = chapter_files(root, report)
    if not files:
        report.error(root, None, "no chapter files (*.md) in the content folder")

    stored = StoredReading(cache or Cache(None), root)
    scans = [stored.scan(path, report) for path in files]
    valid = [s for s in scans if s.ids is not None]
    question_ids = check_ids([s.ids for s in valid if s.ids is not None], report)

    chapters = []
    table = ids_key(question_ids)
    for number, scan in enumerate(valid, start=1):
        chapter = stored.chapter(scan, number, question_ids, table, meta.check if meta else CheckSettings(), report)
        if chapter is not None:
            chapters.append(chapter)
    stored.save()

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
