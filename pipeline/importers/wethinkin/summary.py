"""What an import reports: warnings about the source, counted by kind, and the summary the CLI prints."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ...diagnostics import Diagnostic, HandbookError, Report


class ImportError_(HandbookError):  # the trailing _ because the builtin ImportError means something else
    """The source or the output folder cannot be used."""


class Sink:
    """Warnings about the source, counted by kind for the summary."""

    def __init__(self) -> None:
        self.report = Report()
        self.kinds: Counter[str] = Counter()

    def warn(self, kind: str, rel: PurePosixPath | str, index: int | None, message: str) -> None:
        """Warn about line ``index`` (0-based, as everywhere in the importer; None: the whole file)."""
        self.kinds[kind] += 1
        self.report.warning(rel, None if index is None else index + 1, message)

    def kinds_by_count(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What one source file became."""

    source: PurePosixPath  # relative to SRC
    chapter_file: str  # "" when the file held no questions and was skipped
    questions: int
    toc_mismatches: int = 0  # disagreements with the file's own table of contents (each a warning)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportSummary:
    """The outcome of an import, for the summary the CLI prints and for tests."""

    out_dir: Path
    files: tuple[FileResult, ...]
    images_copied: int
    remote_images: int  # http(s) images, linked and not embedded unless a build fetches them
    diagnostics: tuple[Diagnostic, ...]
    warning_kinds: tuple[tuple[str, int], ...]  # (kind, count), most frequent first

    @property
    def questions(self) -> int:
        return sum(f.questions for f in self.files)

    def lines(self) -> list[str]:
        """The human summary: files read, questions per file, warnings grouped by kind."""
        out = [f"read {len(self.files)} file(s) into {self.out_dir}"]
        width = max((_display_width(str(f.source)) for f in self.files), default=0)
        for f in self.files:
            where = f"-> {f.chapter_file}" if f.chapter_file else "(no questions; skipped)"
            pad = " " * (width - _display_width(str(f.source)))
            out.append(f"  {f.source}{pad}  {f.questions:4d}  {where}")
        chapters = sum(1 for f in self.files if f.chapter_file)
        out.append(f"{self.questions} question(s) in {chapters} chapter(s); {self.images_copied} image(s) copied")
        if self.remote_images:
            out.append(f"{self.remote_images} remote image(s) kept as links: builds show a placeholder for them "
                       "unless run with --fetch-remote")
        disagreeing = [f for f in self.files if f.toc_mismatches]
        if disagreeing:
            out.append(f"the table of contents disagrees with the questions found in {len(disagreeing)} file(s) "
                       "(see the toc-mismatch warnings):")
            out += [f"  {f.source}  {f.toc_mismatches}" for f in disagreeing]
        if self.warning_kinds:
            out.append("warnings by kind: " + ", ".join(f"{kind} {n}" for kind, n in self.warning_kinds))
        else:
            out.append("no warnings")
        return out


def _display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
