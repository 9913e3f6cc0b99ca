"""The build, read like a table of contents: read the handbook, then run each requested output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, HandbookError, Report
from .model import Handbook
from .parser import load_handbook

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Settings for one build, shared by every output.

    :param out_dir: where outputs are written (``handbook.pdf``, ``html/``, …).
    :param cache_dir: where derived fonts and rendered formulas are kept between builds; None disables it.
    :param source_date_epoch: the timestamp written into outputs, for reproducible builds.
    :param fetch_remote: fetch remote images (otherwise they become placeholders with their URL).
    :param jobs: worker processes for outputs that parallelize.
    :param chapters: only these chapter ids (Anki subset builds); empty means all.
    :param tags: only questions with one of these tags (Anki subset builds); empty means all.
    """

    out_dir: Path
    cache_dir: Path | None = None
    source_date_epoch: int | None = None
    fetch_remote: bool = False
    jobs: int = 1
    chapters: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    project_root: Path = field(default_factory=lambda: Path(__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a renderer gets besides the handbook: options, a diagnostics sink, a progress line,
    and the writer that guards outputs."""

    options: Options
    report: Report
    progress: Progress
    writer: Writer


class Writer:
    """Writes output files atomically (temporary file, then rename) and refuses to write one path
    twice in a build, so two outputs can never silently overwrite each other."""

    def __init__(self) -> None:
        self._written: set[Path] = set()

    def write_bytes(self, path: Path, data: bytes) -> Path:
        self._claim(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def write_text(self, path: Path, text: str) -> Path:
        return self.write_bytes(path, text.encode("utf-8"))

    def replace_dir(self, path: Path, fill: Callable[[Path], None]) -> Path:
        """Build a whole folder beside ``path`` with ``fill``, then swap it in."""
        self._claim(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            fill(staging)
            staging.chmod(0o755)
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                _rmtree(old)
            if path.exists():
                path.rename(old)
            staging.rename(path)
            if old.exists():
                _rmtree(old)
        except BaseException:
            _rmtree(staging)
            raise
        return path

    def _claim(self, path: Path) -> None:
        resolved = path.resolve()
        if resolved in self._written:
            raise HandbookError(f"{path}: this build already wrote that file")
        self._written.add(resolved)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


Renderer = Callable[[Handbook, Context], Sequence[Path]]


def read(content: Path) -> tuple[Handbook, tuple[Diagnostic, ...]]:
    """Read and validate the content folder (raises ContentError on errors)."""
    return load_handbook(content)


def build(
    content: Path,
    formats: Iterable[str],
    options: Options,
    *,
    progress: Progress = lambda message: None,
    on_diagnostic: Callable[[Diagnostic], None] = lambda d: None,
    strict: bool = False,
) -> list[Path]:
    """Read the whole handbook, then run each requested renderer in registry order.

    Every diagnostic, from reading or from a renderer, goes to ``on_diagnostic`` once, as it is found.

    :returns: the files and folders written.
    :raises ContentError: when the content has errors (or warnings, with ``strict``). Reading errors stop
        the build before any output is written; a renderer that finds errors writes nothing, and the
        outputs it would have replaced stay as they were.
    """
    from .diagnostics import ContentError
    from .writers import RENDERERS

    try:
        handbook, warnings = read(content)
    except ContentError as exc:
        for diagnostic in exc.diagnostics:
            on_diagnostic(diagnostic)
        raise
    for warning in warnings:
        on_diagnostic(warning)
    if strict and warnings:
        raise ContentError(warnings)

    context = Context(options=options, report=Report(), progress=progress, writer=Writer())
    written: list[Path] = []
    wanted = set(formats)
    shown = 0
    for name, render in RENDERERS.items():
        if name not in wanted:
            continue
        progress(f"building {name}")
        written.extend(render(handbook, context))
        found = context.report.items[shown:]
        shown += len(found)
        for diagnostic in found:
            on_diagnostic(diagnostic)
        if any(d.is_error for d in found) or (strict and found):
            raise ContentError(found)
    return written
