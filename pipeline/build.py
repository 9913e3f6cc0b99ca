"""The build, read like a table of contents: load the handbook, validate it, run each renderer, record."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .cache import Cache
from .context import Context, Options, Progress, ReadBack, Renderer, Writer
from .diagnostics import ContentError, Diagnostic, HandbookError, Report
from .model import Handbook
from .outputs import CachedOutput, OutputRecord
from .workers import Cancelled, Workers, release_memory
from .writers import RENDERERS

__all__ = ["Options", "OutputError", "build", "read"]


def read(content: Path, cache_dir: Path | None = None) -> tuple[Handbook, tuple[Diagnostic, ...]]:
    """Read and validate the content folder (raises ContentError on errors); each file's reading is
    stored in ``cache_dir``."""
    from .parser import load_handbook  # here: a build with every output from the cache never reads

    return load_handbook(content, Cache(cache_dir))


def build(
    content: Path,
    formats: Iterable[str],
    options: Options,
    *,
    progress: Progress = lambda message: None,
    on_diagnostic: Callable[[Diagnostic], None] = lambda d: None,
    strict: bool = False,
    finish: Callable[[list[Path], Writer], list[Path]] | None = None,
) -> list[Path]:
    """Read the whole handbook, then run each requested renderer in registry order.

    An output whose inputs did not change since a build that made it is taken from the cache instead
    (and left alone when the copy on disk is still the one that build wrote); the handbook is read only
    if some output has to be made.

    Every diagnostic, from reading or from a renderer, goes to ``on_diagnostic`` once, as it is found.

    ``finish`` runs after the last output, with the same writer, while the output folder is still the
    build's (the bundle of ``dist``); it returns what it wrote.

    :returns: the files and folders written.
    :raises ContentError: when the content has errors (or warnings, with ``strict``). Reading errors stop
        the build before any output is written; a renderer that finds errors writes nothing, and the
        outputs it would have replaced stay as they were.
    :raises OutputError: when the output folder cannot be written (exit code 2); the outputs written
        before stay as they were.
    :raises HandbookError: for options the handbook does not fit (``--chapter nope``), before any output
        is written.
    """
    wanted = [name for name in RENDERERS if name in set(formats)]
    stored = Cache.stored
    with OutputFolder.claim(options.out_dir, [RENDERERS[name] for name in wanted]) as folder:
        try:
            written = _build(content, wanted, options, folder.writer, progress, on_diagnostic, strict)
            if finish is not None:
                written += finish(written, folder.writer)
        except OSError as exc:  # the output folder, the cache or a tool's files: the environment
            raise OutputError(_os_message(exc)) from None
    if options.cache_dir is not None and Cache.stored > stored:  # a no-op adds nothing to prune
        try:
            Cache(options.cache_dir).prune()
        except OSError as exc:  # the outputs are written; a cache that cannot be pruned is not a failure
            progress(f"cache not pruned: {_os_message(exc)}")
    return written


def _build(
    content: Path, wanted: list[str], options: Options, writer: Writer, progress: Progress,
    on_diagnostic: Callable[[Diagnostic], None], strict: bool,
) -> list[Path]:
    record = OutputRecord.open(content, options, {name: RENDERERS[name] for name in wanted})
    read_back = ReadBack(options.out_dir)
    # Every key before any output is written (the Anki state is an input of the deck, then an output),
    # except where an output reads back what another one renders in this build (the page map): that key
    # is known once the other has published it.
    cached: dict[str, CachedOutput | None] = {}
    later: set[str] = set()
    for name in wanted:
        producers = _producers(name, wanted)
        if any(cached.get(p) is None for p in producers):
            later.add(name)
        elif record is not None:  # the read-back files as the cached outputs before it will restore them
            cached[name] = record.load(name, record.reader([hit for p in producers if (hit := cached[p])]))
    renders = frozenset(name for name in wanted if name in later or cached.get(name) is None)
    reading = _Reading(content, options.cache_dir, on_diagnostic, strict)
    if renders:
        # Read and validate everything, options included, before the first output is written (a cached
        # output restored first would otherwise replace a file of a build that then fails).
        handbook = reading.handbook()
        for name in wanted:
            check = RENDERERS[name].check
            if name in renders and check is not None:
                check(handbook, options)

    written: list[Path] = []
    results: dict[str, tuple[list[Path], tuple[Diagnostic, ...]]] = {}
    for name in wanted:
        hit = cached.get(name)
        if name in later or hit is None:
            continue
        restored = _restore(name, hit, record, writer, progress, reading, strict)
        if restored is not None:
            results[name] = (restored, hit.found)
    workers = Workers(options.jobs)
    schedule = _Schedule(
        [name for name in wanted if name not in results], record, reading, read_back, workers,
        Context(options=options, report=Report(), progress=progress, writer=writer, renders=renders,
                read_back=read_back, workers=workers),
    )
    try:
        schedule.start()
        shown: set[Diagnostic] = set()  # two outputs that find one problem (a formula) report it once
        for name in wanted:  # diagnostics and failures in registry order, as one output after another
            paths, everything = results[name] if name in results else schedule.result(name)
            written.extend(paths)
            found = tuple(d for d in everything if d not in shown)
            shown.update(found)
            for diagnostic in found:
                on_diagnostic(diagnostic)
            if _fails(found, strict):
                raise ContentError(found)
    except BaseException as exc:
        schedule.stop(interrupted=isinstance(exc, KeyboardInterrupt))
        raise
    finally:
        schedule.close()
    if record is not None:
        record.remember_on_disk()
        if wanted and not reading.done:
            progress("unchanged: outputs from the cache")
    return written


def _fails(found: Sequence[Diagnostic], strict: bool) -> bool:
    """Whether an output's diagnostics stop the build: an error, or with ``--strict`` any warning."""
    return any(d.is_error for d in found) or (strict and bool(found))


def _producers(name: str, wanted: Sequence[str]) -> list[str]:
    """The outputs of this build that write a file ``name`` reads back (the PDF's page map)."""
    reads = set(RENDERERS[name].reads_back)
    return [other for other in wanted if other != name and reads & set(RENDERERS[other].files)]


class _Schedule:
    """The outputs a build makes, side by side: each renderer in a thread of its own (they mostly wait for
    the workers, or for what another publishes), the layouts of all of them on the one pool of workers.

    An output starts when what it needs is there: the outputs it is ``after`` have finished, the files it
    reads back are published (or their writer has finished). It commits its files only once every output
    before it in the registry has succeeded, so a failed build writes what one output after another would
    have. The results are bytes-for-bytes those of one output at a time: only when work runs differs."""

    def __init__(
        self, names: list[str], record: OutputRecord | None, reading: _Reading, read_back: ReadBack,
        workers: Workers, context: Context,
    ) -> None:
        self.names = names
        self.record = record
        self.reading = reading
        self.read_back = read_back
        self.workers = workers
        self.context = context
        self.stopped = threading.Event()
        self._done = {name: threading.Event() for name in names}
        self._ok: dict[str, bool] = {}
        self._results: dict[str, tuple[list[Path], tuple[Diagnostic, ...]]] = {}
        self._errors: dict[str, BaseException] = {}
        self._threads: list[threading.Thread] = []
        self._interrupted = False

    def start(self) -> None:
        if not self.names:
            return
        for name in self.names:
            RENDERERS[name].load()
        if self.workers.jobs > 1 and any(RENDERERS[name].uses_workers for name in self.names):
            self.workers.start()  # from this (main) thread: they then ignore Ctrl-C
        for name in self.names:
            thread = threading.Thread(target=self._run, args=(name,), name=f"render-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def result(self, name: str) -> tuple[list[Path], tuple[Diagnostic, ...]]:
        """Wait for ``name``; re-raise what stopped it."""
        while not self._done[name].wait(0.2):  # a timed wait: Ctrl-C reaches this thread meanwhile
            pass
        if name in self._errors:
            raise self._errors[name]
        return self._results[name]

    def stop(self, *, interrupted: bool = False) -> None:
        """An error or Ctrl-C: nothing more starts or commits; the workers are killed at once."""
        self.stopped.set()
        self._interrupted = interrupted
        self.workers.close(abort=True)

    def close(self) -> None:
        self.workers.close(abort=self.stopped.is_set())
        for thread in self._threads:
            # A renderer busy in Python finishes its step, then stops at its gate (and removes what it
            # staged); after Ctrl-C it is not waited for long: the next build sweeps what it leaves.
            thread.join(timeout=2 if self._interrupted else None)

    def _run(self, name: str) -> None:
        renderer = RENDERERS[name]
        try:
            for other in renderer.after:
                if other in self._done:
                    self._done[other].wait()
            for file in renderer.reads_back:
                if any(file in RENDERERS[p].files for p in _producers(name, self.names)):
                    self.read_back.wait(file)
            if not renderer.uses_workers and any(RENDERERS[n].uses_workers for n in self.names):
                self.workers.fed.wait()  # the layouts first: this Python work would hold them up
            if self.stopped.is_set():
                raise Cancelled()
            context = replace(self.context, report=Report(), writer=self.context.writer.view(lambda: self._gate(name)))
            self._results[name] = self._make(name, context)
            found = self._results[name][1]
            self._ok[name] = not _fails(found, self.reading.strict)
        except BaseException as exc:  # handed to the main thread, which raises it in registry order
            self._errors[name] = exc
            self._ok[name] = False
        finally:
            release_memory()  # what the renderer held (pages, images, a packed output) goes back to the system
            self.read_back.release(renderer.files)
            if renderer.uses_workers:
                self.workers.fed.set()  # it gave up before handing work over, or has finished
            self._done[name].set()

    def _make(self, name: str, context: Context) -> tuple[list[Path], tuple[Diagnostic, ...]]:
        """The output from the cache when its key (known only now, for a reader of published files) has
        an entry, else rendered."""
        record = self.record
        hit = record.load(name, self.read_back.read) if record is not None else None
        if hit is not None:
            paths = _restore(name, hit, record, context.writer, context.progress, self.reading, self.reading.strict)
            if paths is not None:
                return paths, hit.found
        paths, found = _render(name, self.reading.handbook(), context)
        if record is not None and not any(d.is_error for d in found):
            record.save(name, paths, self.reading.warnings, found)
        return paths, found

    def _gate(self, name: str) -> None:
        """Before ``name`` puts a file in place: every output before it has succeeded."""
        for other in self.names[: self.names.index(name)]:
            while not self._done[other].wait(0.2):
                if self.stopped.is_set():
                    raise Cancelled()
            if not self._ok.get(other, False):
                raise Cancelled()
        if self.stopped.is_set():
            raise Cancelled()


def _os_message(exc: OSError) -> str:
    """One line for a fault of the environment: what, where."""
    reason = exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {reason}" if where else reason


class OutputError(HandbookError):
    """The output folder (or the cache) cannot be written: read-only, full, not a folder, busy."""

    exit_code = 2


class OutputFolder:
    """The output folder of one build: made if missing, locked against a second build writing into it
    at the same time, swept of the temporaries that killed builds left behind, and checked, before
    anything is written, for things in the way of an output (a folder named like a file output, a
    user's file named like a folder output)."""

    def __init__(self, out_dir: Path, handle: int) -> None:
        self.out_dir = out_dir
        self.writer = Writer()
        self._handle = handle

    @classmethod
    @contextlib.contextmanager
    def claim(cls, out_dir: Path, renderers: Sequence[Renderer]) -> Iterator[OutputFolder]:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            # The folder itself is locked (flock works on a folder's descriptor): no lock file to leave.
            handle = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise OutputError(f"cannot write to the output folder {out_dir}: {_os_message(exc)}") from None
        if not os.access(out_dir, os.W_OK):
            os.close(handle)
            raise OutputError(f"cannot write to the output folder {out_dir}: it is read-only")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise OutputError(f"another build is writing to {out_dir}; wait for it to finish") from None
            folder = cls(out_dir, handle)
            folder._check(renderers)
            folder._sweep(list(RENDERERS.values()))  # every output's: the lock says no build uses them
            yield folder
        finally:
            os.close(handle)  # releases the lock, as the system does when a build is killed

    def _check(self, renderers: Sequence[Renderer]) -> None:
        for renderer in renderers:
            for name in renderer.files:
                path = self.out_dir / name
                if path.is_dir() and not path.is_symlink():
                    raise OutputError(f"{path} is a folder, where the build writes a file; move it away")
            for name in renderer.folders:
                path = self.out_dir / name
                if path.is_symlink() or (path.exists() and not path.is_dir()):
                    raise OutputError(f"{path} is not a folder the build made; move it away")

    def _sweep(self, renderers: Sequence[Renderer]) -> None:
        """Remove what Writer leaves only when a build is killed: ``.NAME.XXXXXXXX.tmp`` files, staging
        folders ``.NAME.XXXXXXXX`` and ``.NAME.old``. The lock says no other build is using them."""
        names = {n for r in renderers for n in (*r.files, *r.folders, *r.reads_back)}
        for entry in self.out_dir.iterdir():
            match = _TEMPORARY.match(entry.name)
            name = match.group("name") if match else ""
            if not (name in names or (name.startswith("handbook") and name.endswith(".zip"))):  # dist
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


# tempfile.mkstemp / mkdtemp names: 8 characters of [a-z0-9_] between the prefix and the suffix.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:[a-z0-9_]{8}(?:\.tmp)?|old)$")


def _restore(
    name: str, hit: CachedOutput, record: OutputRecord | None, writer: Writer, progress: Progress,
    reading: _Reading, strict: bool,
) -> list[Path] | None:
    """Put a cached output in place; None when a copy in the cache was damaged (then it is rendered)."""
    reading.report(hit.reading)  # what reading would report (the content is the same), before writing
    if strict and hit.found:
        reading.show(hit.found)
        raise ContentError(hit.found)
    paths = record.restore(hit, writer) if record is not None else None
    if paths is not None:
        progress(f"{name}: unchanged, from the cache")
    return paths


def _render(name: str, handbook: Handbook, context: Context) -> tuple[list[Path], tuple[Diagnostic, ...]]:
    """Run one renderer; returns what it wrote and the diagnostics it found."""
    context.progress(f"building {name}")
    paths = list(RENDERERS[name].render(handbook, context))
    return paths, context.report.items


class _Reading:
    """The handbook, read at most once per build and only when some output is rendered; its warnings
    are reported once, whether they come from reading or from a cached output's record."""

    def __init__(
        self, content: Path, cache_dir: Path | None, show: Callable[[Diagnostic], None], strict: bool
    ) -> None:
        self.content = content
        self.cache_dir = cache_dir
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
                self._handbook, warnings = read(self.content, self.cache_dir)
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
