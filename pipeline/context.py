"""What every renderer receives besides the handbook: the build's options, a context with the
diagnostics sink and progress line, and the writer that guards the output folder.

A leaf module: it imports nothing else of the pipeline but diagnostics and the model, so renderers,
the registry and the build can all import it without a cycle.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from .diagnostics import HandbookError, Report
from .model import Handbook
from .workers import Workers

Progress = Callable[[str], None]
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class HandoffKey(Generic[T]):
    """The name of a result one renderer hands to a later one, typed by what it holds."""

    name: str


class Handoff:
    """Results one renderer leaves for a later one in the same build (the rendered HTML pages, which the
    EPUB packages too: the registry runs it ``after`` the HTML). The later one ``take``\\s what it needs,
    which also lets it go."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}

    def put(self, key: HandoffKey[T], value: T) -> None:
        self._values[key.name] = value

    def take(self, key: HandoffKey[T]) -> T | None:
        value = self._values.pop(key.name, None)
        return value  # type: ignore[return-value]  # put() stored a T under this key


class ReadBack:
    """The files of the output folder that outputs read back (``Renderer.reads_back``: the page map), as
    this build knows them: published by the output that writes them as soon as their content is final
    (the PDF knows every question's page long before its practice edition is assembled), else as on disk.
    An output that reads one back starts when it is published, or when its writer has finished."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._published: dict[str, bytes] = {}
        self._ready: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _event(self, name: str) -> threading.Event:
        with self._lock:
            return self._ready.setdefault(name, threading.Event())

    def publish(self, name: str, data: bytes) -> None:
        """``data`` is what this build will write to ``name``, if it succeeds."""
        self._published[name] = data
        self._event(name).set()

    def release(self, names: Sequence[str]) -> None:
        """The output writing ``names`` has finished (or failed) without publishing them: stop waiting."""
        for name in names:
            self._event(name).set()

    def wait(self, name: str) -> None:
        self._event(name).wait()

    def read(self, name: str) -> bytes | None:
        """The file's bytes as published in this build, else as on disk; None when there is none."""
        if name in self._published:
            return self._published[name]
        return read_output(self.out_dir, name)


def read_output(out_dir: Path, name: str) -> bytes | None:
    """A file of the output folder as it is there; None when it is missing or unreadable."""
    try:
        return (out_dir / name).read_bytes()
    except OSError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a renderer gets besides the handbook: options, a diagnostics sink, a progress line, the
    writer that guards outputs, the outputs this build renders (rather than takes from the cache), the
    handoff between renderers, the read-back files and the build's one pool of workers."""

    options: Options
    report: Report
    progress: Progress
    writer: Writer
    renders: frozenset[str] = frozenset()
    handoff: Handoff = field(default_factory=Handoff)
    read_back: ReadBack | None = None
    workers: Workers = field(default_factory=lambda: Workers(1))
    # Held while a renderer has a whole output in memory (assembling a PDF, packing the EPUB or the deck):
    # renderers run side by side, and their peaks together would be the build's (never held to commit).
    bulk: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, name: str, data: bytes) -> None:
        """Make a read-back file's final content known to the outputs that wait for it."""
        if self.read_back is not None:
            self.read_back.publish(name, data)

    def read(self, name: str) -> bytes | None:
        """A read-back file: as published in this build, else as in the output folder."""
        if self.read_back is not None:
            return self.read_back.read(name)
        return read_output(self.options.out_dir, name)


Render = Callable[[Handbook, Context], Sequence[Path]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Renderer:
    """One entry of the output registry (pipeline/writers.py).

    :param render: writes the output's files and returns their paths.
    :param reads_back: files of the output folder the renderer reads as input besides the content
        (the Anki state): they are part of the output's cache key.
    :param system_key: what the output's bytes take from the machine (the text libraries and fonts
        WeasyPrint finds, a system font the HTML carries), as a key; part of the output's cache key.
    :param files: the files it writes into the output folder, and ``folders``, the folders: checked before
        a build writes anything (a folder where a file goes, a user's file where a folder goes) and
        swept of temporaries that killed builds left.
    :param check: validates the build's options against the handbook (the Anki selection) before any
        output is written; raises HandbookError.
    :param uses_selection: whether ``--chapter``/``--tag`` shape this output (part of its cache key).
    :param after: outputs whose handoff this one takes: it starts once they have finished.
    :param uses_workers: whether it lays out on the build's workers (they are started early for it).
    :param load: imports what ``render`` needs (the build calls it before renderers run side by side).
    """

    render: Render
    reads_back: tuple[str, ...] = ()
    system_key: Callable[[], str] = lambda: ""
    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    check: Callable[[Handbook, Options], None] | None = None
    uses_selection: bool = False
    after: tuple[str, ...] = ()
    uses_workers: bool = False
    load: Callable[[], object] = lambda: None


class Writer:
    """Writes output files atomically (temporary file, then rename) and refuses to write one path
    twice in a build, so two outputs can never silently overwrite each other.

    The renderers of a build run side by side; each gets a ``view`` whose ``gate`` runs before anything
    of its output is put in place (the build's gate waits until every output before it in the registry
    has succeeded, so a failed build commits what a one-at-a-time build would have)."""

    def __init__(self, gate: Callable[[], None] = lambda: None, written: set[Path] | None = None) -> None:
        self._written: set[Path] = set() if written is None else written
        self._gate = gate

    def view(self, gate: Callable[[], None]) -> Writer:
        """A writer sharing this one's record of written paths, whose commits first pass ``gate``."""
        return Writer(gate, self._written)

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
        return Staged(path=path, temporary=Path(tmp), gate=self._gate)

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
            self._gate()
            old = path.with_name(f".{path.name}.old")
            _remove(old)
            if path.exists() or path.is_symlink():
                path.rename(old)
            staging.rename(path)
            _remove(old)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return path

    def _claim(self, path: Path) -> None:
        resolved = path.resolve()
        if resolved in self._written:
            raise HandbookError(f"{path}: this build already wrote that file")
        self._written.add(resolved)


def _remove(path: Path) -> None:
    """Remove a folder, a file or a symlink (never what a symlink points to); nothing if missing."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    """An output being written: ``temporary`` becomes ``path`` on ``commit``."""

    path: Path
    temporary: Path
    gate: Callable[[], None] = lambda: None

    def commit(self) -> Path:
        self.gate()
        os.chmod(self.temporary, 0o644)
        os.replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file if it was not committed (a no-op after ``commit``)."""
        self.temporary.unlink(missing_ok=True)
