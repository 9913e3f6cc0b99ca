"""The build, read like a table of contents: load the handbook, validate it, run each renderer, record."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .cache import Cache
from .context import Context, Options, Progress, Writer
from .diagnostics import ContentError, Diagnostic, Report
from .model import Handbook
from .outputs import CachedOutput, OutputRecord
from .parser import load_handbook
from .writers import RENDERERS

__all__ = ["Options", "build", "read"]


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

    An output whose inputs did not change since a build that made it is taken from the cache instead
    (and left alone when the copy on disk is still the one that build wrote); the handbook is read only
    if some output has to be made.

    Every diagnostic, from reading or from a renderer, goes to ``on_diagnostic`` once, as it is found.

    :returns: the files and folders written.
    :raises ContentError: when the content has errors (or warnings, with ``strict``). Reading errors stop
        the build before any output is written; a renderer that finds errors writes nothing, and the
        outputs it would have replaced stay as they were.
    """
    wanted = [name for name in RENDERERS if name in set(formats)]
    record = OutputRecord.open(content, options, {name: RENDERERS[name] for name in wanted})
    # Every key before any output is written: the Anki state is an input of the deck, then an output.
    cached = {name: record.load(name) for name in wanted} if record else {}
    renders = frozenset(name for name in wanted if cached.get(name) is None)
    context = Context(options=options, report=Report(), progress=progress, writer=Writer(), renders=renders)
    reading = _Reading(content, on_diagnostic, strict)

    written: list[Path] = []
    for name in wanted:
        hit = cached.get(name)
        paths = _restore(name, hit, record, context, reading, strict) if hit is not None else None
        if paths is not None and hit is not None:
            found = hit.found
        else:
            paths, found = _render(name, reading.handbook(), context)
            if record is not None and not any(d.is_error for d in found):
                record.save(name, paths, reading.warnings, found)
        written.extend(paths)
        for diagnostic in found:
            on_diagnostic(diagnostic)
        if any(d.is_error for d in found) or (strict and found):
            raise ContentError(found)
    if record is not None:
        record.remember_on_disk()
        if wanted and not reading.done:
            progress("unchanged: outputs from the cache")
    if options.cache_dir is not None:
        Cache(options.cache_dir).prune()
    return written


def _restore(
    name: str, hit: CachedOutput, record: OutputRecord | None, context: Context, reading: _Reading, strict: bool
) -> list[Path] | None:
    """Put a cached output in place; None when a copy in the cache was damaged (then it is rendered)."""
    reading.report(hit.reading)  # what reading would report (the content is the same), before writing
    if strict and hit.found:
        reading.show(hit.found)
        raise ContentError(hit.found)
    paths = record.restore(hit, context) if record is not None else None
    if paths is not None:
        context.progress(f"{name}: unchanged, from the cache")
    return paths


def _render(name: str, handbook: Handbook, context: Context) -> tuple[list[Path], tuple[Diagnostic, ...]]:
    """Run one renderer; returns what it wrote and the diagnostics it found."""
    context.progress(f"building {name}")
    shown = len(context.report.items)
    paths = list(RENDERERS[name].render(handbook, context))
    return paths, context.report.items[shown:]


class _Reading:
    """The handbook, read at most once per build and only when some output is rendered; its warnings
    are reported once, whether they come from reading or from a cached output's record."""

    def __init__(self, content: Path, show: Callable[[Diagnostic], None], strict: bool) -> None:
        self.content = content
        self._show = show
        self.strict = strict
        self._handbook: Handbook | None = None
        self.warnings: tuple[Diagnostic, ...] = ()
        self._reported = False

    @property
    def done(self) -> bool:
        return self._handbook is not None

    def handbook(self) -> Handbook:
        if self._handbook is None:
            try:
                self._handbook, warnings = read(self.content)
            except ContentError as exc:
                self.show(exc.diagnostics)
                raise
            self.report(warnings)
        return self._handbook

    def report(self, warnings: tuple[Diagnostic, ...]) -> None:
        if self._reported:
            return
        self._reported = True
        self.warnings = warnings
        self.show(warnings)
        if self.strict and warnings:
            raise ContentError(warnings)

    def show(self, diagnostics: Iterable[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self._show(diagnostic)
