"""The build, read like a table of contents: read the handbook, then run each requested output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import system
from .cache import Cache, CachedOutput, OnDisk, OutputCache, content_key, file_key, tool_key
from .cache import key as cache_key
from .diagnostics import Diagnostic, HandbookError, Report
from .locations import SOURCE_ROOT
from .model import Handbook
from .parser import load_handbook

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Settings for one build, shared by every output.

    :param out_dir: where outputs are written (``handbook.pdf``, ``html/``, …).
    :param cache_dir: where derived fonts, rendered formulas, laid-out PDF parts and whole outputs are kept
        between builds (pipeline/cache.py); None disables it.
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
    project_root: Path = SOURCE_ROOT


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a renderer gets besides the handbook: options, a diagnostics sink, a progress line,
    the writer that guards outputs, the outputs this build renders (rather than takes from the cache),
    and ``shared``: results one renderer leaves for a later one (the HTML pages, which the EPUB
    packages too), by name; the later one removes what it takes."""

    options: Options
    report: Report
    progress: Progress
    writer: Writer
    renders: frozenset[str] = frozenset()
    shared: dict[str, Any] = field(default_factory=dict)


class Writer:
    """Writes output files atomically (temporary file, then rename) and refuses to write one path
    twice in a build, so two outputs can never silently overwrite each other."""

    def __init__(self) -> None:
        self._written: set[Path] = set()

    def write_bytes(self, path: Path, data: bytes) -> Path:
        staged = self.stage(path)
        try:
            staged.temporary.write_bytes(data)
            return staged.commit()
        finally:
            staged.discard()

    def stage(self, path: Path) -> Staged:
        """A temporary file beside ``path`` to fill (by name: a library can write to it), then ``commit``
        in place of ``path``, or ``discard``."""
        self._claim(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        return Staged(path=path, temporary=Path(tmp))

    def keep(self, path: Path) -> Path:
        """Count ``path`` as written by this build without touching it (it already holds the output)."""
        self._claim(path)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    """An output being written: ``temporary`` becomes ``path`` on ``commit``."""

    path: Path
    temporary: Path

    def commit(self) -> Path:
        os.chmod(self.temporary, 0o644)
        os.replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file if it was not committed (a no-op after ``commit``)."""
        self.temporary.unlink(missing_ok=True)


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

    An output whose inputs did not change since a build that made it is taken from the cache instead
    (and left alone when the copy on disk is still the one that build wrote); the handbook is read only
    if some output has to be made.

    Every diagnostic, from reading or from a renderer, goes to ``on_diagnostic`` once, as it is found.

    :returns: the files and folders written.
    :raises ContentError: when the content has errors (or warnings, with ``strict``). Reading errors stop
        the build before any output is written; a renderer that finds errors writes nothing, and the
        outputs it would have replaced stay as they were.
    """
    from .diagnostics import ContentError
    from .writers import RENDERERS

    wanted = [name for name in RENDERERS if name in set(formats)]
    outputs = _OutputCache.open(content, options)
    # Every key before any output is written: the Anki state is an input of the deck, then an output.
    cached = {name: outputs.load(name) for name in wanted} if outputs else {}
    renders = frozenset(name for name in wanted if cached.get(name) is None)
    context = Context(options=options, report=Report(), progress=progress, writer=Writer(), renders=renders)

    handbook: Handbook | None = None
    reading: tuple[Diagnostic, ...] | None = None  # the reading warnings, once reported

    def report_reading(warnings: tuple[Diagnostic, ...]) -> None:
        nonlocal reading
        if reading is None:
            reading = warnings
            for warning in warnings:
                on_diagnostic(warning)
            if strict and warnings:
                raise ContentError(warnings)

    written: list[Path] = []
    shown = 0
    for name in wanted:
        hit = cached.get(name)
        if hit is not None:
            report_reading(hit.reading)  # what reading would report (the content is the same), before writing
            if strict and hit.found:
                for diagnostic in hit.found:
                    on_diagnostic(diagnostic)
                raise ContentError(hit.found)
        paths = outputs.restore(hit, context) if outputs is not None and hit is not None else None
        if hit is not None and paths is not None:
            progress(f"{name}: unchanged, from the cache")
            found: tuple[Diagnostic, ...] = hit.found
        else:
            if handbook is None:
                try:
                    handbook, warnings = read(content)
                except ContentError as exc:
                    for diagnostic in exc.diagnostics:
                        on_diagnostic(diagnostic)
                    raise
                report_reading(warnings)
            progress(f"building {name}")
            paths = list(RENDERERS[name](handbook, context))
            found = context.report.items[shown:]
            shown += len(found)
            if outputs is not None and not any(d.is_error for d in found):
                outputs.save(name, paths, reading or (), found)
        written.extend(paths)
        for diagnostic in found:
            on_diagnostic(diagnostic)
        if any(d.is_error for d in found) or (strict and found):
            raise ContentError(found)
    if outputs is not None:
        outputs.remember_on_disk()
        if wanted and handbook is None:
            progress("unchanged: outputs from the cache")
    if options.cache_dir is not None:
        Cache(options.cache_dir).prune()
    return written


class _OutputCache:
    """The build's view of the output cache (pipeline/cache.py): one key per output format over the
    tool, the content folder, the options that shape outputs, and files of the output folder that an
    output reads back (the Anki state)."""

    def __init__(self, store: OutputCache, base: str, out_dir: Path) -> None:
        self.store = store
        self.base = base
        self.out_dir = out_dir
        self.on_disk = OnDisk(store.cache, out_dir)
        self._keys: dict[str, str] = {}

    @classmethod
    def open(cls, content: Path, options: Options) -> _OutputCache | None:
        # Remote images are whatever the network answers: such builds are never cached whole.
        if options.cache_dir is None or options.fetch_remote or not content.is_dir():
            return None
        base = cache_key(
            tool_key(),
            content_key(content, with_times=options.source_date_epoch is None),
            repr((options.source_date_epoch, options.chapters, options.tags)),
        )
        return cls(OutputCache(Cache(options.cache_dir)), base, options.out_dir)

    def key(self, name: str) -> str:
        from .anki import STATE_FILE

        read_back = [self.out_dir / STATE_FILE] if name == "anki" else []
        # The PDF's bytes also depend on the text libraries and fonts WeasyPrint finds on the system.
        layout = system.layout_fingerprint() if name == "pdf" else ""
        return cache_key(self.base, name, file_key(read_back, self.out_dir), layout)

    def load(self, name: str) -> CachedOutput | None:
        self._keys[name] = self.key(name)
        return self.store.load(self._keys[name])

    def save(
        self, name: str, paths: Sequence[Path], reading: Sequence[Diagnostic], found: Sequence[Diagnostic]
    ) -> None:
        # Also under the key as it is now when the output rewrote a file it reads back (the Anki state):
        # a rebuild will ask with that one.
        entries = dict.fromkeys([self._keys[name], self.key(name)])
        self.on_disk.wrote(self.store.save(entries, self.out_dir, paths, reading, found))

    def restore(self, hit: CachedOutput, context: Context) -> list[Path] | None:
        """Put a cached output in place: files still as the last build wrote them are left alone, the
        others are copied from the cache. None, with nothing written, when a copy is damaged."""
        writer = context.writer
        out = self.out_dir
        kept = [(path, digest) for path, digest in hit.files if self.on_disk.unchanged(path, digest)]
        folders = [(folder, items) for folder, items in hit.folders if not self.on_disk.unchanged_folder(folder, items)]
        needed = {digest for path, digest in hit.files if (path, digest) not in kept}
        needed |= {digest for _, items in folders for _, digest in items}
        loaded = {digest: self.store.blob(digest) for digest in sorted(needed)}
        blobs = {digest: data for digest, data in loaded.items() if data is not None}
        if len(blobs) < len(loaded):
            return None  # damaged: the output is made again, never patched
        written: list[Path] = []
        for path, digest in hit.files:
            if (path, digest) in kept:
                written.append(writer.keep(out / path))
            else:
                written.append(writer.write_bytes(out / path, blobs[digest]))
        changed = dict(folders)
        for folder, items in hit.folders:
            if folder not in changed:
                written.append(writer.keep(out / folder))
                continue

            def fill(staging: Path, items: tuple[tuple[str, str], ...] = items) -> None:
                for path, digest in items:
                    target = staging / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(blobs[digest])

            written.append(writer.replace_dir(out / folder, fill))
        self.on_disk.wrote(hit)
        return written

    def remember_on_disk(self) -> None:
        self.on_disk.save()
