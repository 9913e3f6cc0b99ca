"""Whole outputs in the cache: a build whose inputs did not change copies each output from the cache
instead of reading the handbook, and leaves files on disk alone that still hold what it wrote.

``OutputCache`` stores what a renderer wrote (file bytes once each, as blobs) with its diagnostics;
``OnDisk`` remembers each written file's status; ``OutputRecord`` is the build's view of both: one key per
output format over the tool, the content folder and the options.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .cache import Cache, FileDigests, file_status, key, tool_key
from .context import Options, Renderer, Writer, read_output
from .diagnostics import Diagnostic, Severity


def content_key(content: Path, digests: FileDigests, *, with_times: bool) -> str:
    """A key over every file of the content folder (hidden ones aside: their paths and the sha256 of
    their bytes, remembered by file status in ``digests``); with their modification times too when the
    build date comes from them (no SOURCE_DATE_EPOCH)."""
    files: list[Path] = []
    # os.walk does not follow symlinked folders: a symlink loop in the content folder ends nothing here
    # (the parser reports it where it is used; a file it may read lies inside the folder anyway).
    for folder, dirs, names in os.walk(content):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(folder, n) for n in names if not n.startswith(".") and Path(folder, n).is_file()]
    files.sort()
    parts = []
    for path in files:
        parts += [path.relative_to(content).as_posix(), digests.digest(path) or "\0missing"]
    times = []
    for path in files if with_times else ():
        try:
            times.append(str(path.stat().st_mtime_ns))
        except OSError:
            times.append("gone")
    digests.save()
    return key(*parts, *times)


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedOutput:
    """What a renderer wrote (files by path relative to the output folder, with the sha256 of their
    bytes; folders as lists of such files) and the diagnostics it reported."""

    files: tuple[tuple[str, str], ...]
    folders: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    reading: tuple[Diagnostic, ...]
    found: tuple[Diagnostic, ...]


class OutputCache:
    """Whole outputs of a renderer, stored by a key over the tool, the content and the options, so that
    a build with nothing changed copies them instead of reading the handbook at all. File bytes are
    stored once per distinct content (``blobs``)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def load(self, entry: str) -> CachedOutput | None:
        record = self.cache.get_record("outputs", entry)
        if record is None:
            return None
        header = record[0]
        try:
            cached = CachedOutput(
                files=tuple((str(p), str(h)) for p, h in header["files"]),
                folders=tuple((str(d), tuple((str(p), str(h)) for p, h in items)) for d, items in header["folders"]),
                reading=tuple(_diagnostic(d) for d in header["reading"]),
                found=tuple(_diagnostic(d) for d in header["found"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        hashes = [h for _, h in cached.files] + [h for _, items in cached.folders for _, h in items]
        # A blob lost makes the whole output a miss; a damaged one is found when it is read (``blob``).
        if not all(self.cache.has("blobs", h) for h in hashes):
            return None
        return cached

    def blob(self, digest: str) -> bytes | None:
        """A stored file's bytes; None when they are lost or damaged."""
        return self.cache.get("blobs", digest)

    def save(
        self,
        entries: Iterable[str],
        out_dir: Path,
        written: Sequence[Path],
        reading: Sequence[Diagnostic],
        found: Sequence[Diagnostic],
    ) -> CachedOutput:
        """Store what a renderer wrote under each of ``entries`` (the files' bytes once)."""
        files: list[list[str]] = []
        folders: list[list[Any]] = []
        for path in written:
            if path.is_dir():
                items = [
                    [p.relative_to(path).as_posix(), self._store(p)] for p in sorted(path.rglob("*")) if p.is_file()
                ]
                folders.append([path.relative_to(out_dir).as_posix(), items])
            else:
                files.append([path.relative_to(out_dir).as_posix(), self._store(path)])
        header = {
            "files": files,
            "folders": folders,
            "reading": [_encode(d) for d in reading],
            "found": [_encode(d) for d in found],
        }
        for entry in entries:
            self.cache.put_record("outputs", entry, header)
        return CachedOutput(
            files=tuple((p, h) for p, h in files),
            folders=tuple((d, tuple((p, h) for p, h in items)) for d, items in folders),
            reading=tuple(reading),
            found=tuple(found),
        )

    def _store(self, path: Path) -> str:
        data = path.read_bytes()
        raw = hashlib.sha256(data).digest()
        digest = raw.hex()
        # Not read back to check: a damaged blob is found (and removed) when an output is restored
        # from it, and that output is then built and stored again.
        if not self.cache.has("blobs", digest):
            self.cache.put("blobs", digest, data, digest=raw)  # the blob's checksum is its name
        return digest


class OnDisk:
    """What the last builds wrote into an output folder: each file's sha256 with the size, modification
    time, inode and change time it had just after the write. A file whose status is still the same holds
    those bytes, so a rebuild that would copy the same bytes again leaves it alone (make and git trust
    file status the same way); a file someone touched, replaced or removed is written again."""

    def __init__(self, cache: Cache, out_dir: Path) -> None:
        self.cache = cache
        self.out_dir = out_dir
        self.entry = key("on-disk", str(out_dir.resolve()))
        record = cache.get_record("on-disk", self.entry)
        self.files: dict[str, list[Any]] = dict(record[0].get("files", {})) if record else {}
        self._changed = False

    def unchanged(self, path: str, digest: str) -> bool:
        known = self.files.get(path)
        return known is not None and known[0] == digest and known[1:] == file_status(self.out_dir / path)

    def unchanged_folder(self, folder: str, items: Sequence[tuple[str, str]]) -> bool:
        """Every file of the folder unchanged, and no other file in it."""
        root = self.out_dir / folder
        present = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()} if root.is_dir() else None
        if present != {path for path, _ in items}:
            return False
        return all(self.unchanged(f"{folder}/{path}", digest) for path, digest in items)

    def wrote(self, output: CachedOutput) -> None:
        """Record the status of ``output``'s files as they are now, just written or found intact."""
        for path, digest in output.files:
            self._record(path, digest)
        for folder, items in output.folders:
            for path, digest in items:
                self._record(f"{folder}/{path}", digest)

    def save(self) -> None:
        if self._changed:
            self.cache.put_record("on-disk", self.entry, {"files": self.files})
            self._changed = False

    def _record(self, path: str, digest: str) -> None:
        status = file_status(self.out_dir / path)
        value = [digest, *status] if status is not None else None
        if value is None:
            self._changed |= self.files.pop(path, None) is not None
        elif self.files.get(path) != value:
            self.files[path] = value
            self._changed = True



def _encode(diagnostic: Diagnostic) -> list[Any]:
    is_text = isinstance(diagnostic.path, str)
    return [str(diagnostic.path), is_text, diagnostic.line, diagnostic.severity.value, diagnostic.message]


def _diagnostic(value: Any) -> Diagnostic:
    path, is_text, line, severity, message = value
    return Diagnostic(
        path=str(path) if is_text else PurePosixPath(path),
        line=None if line is None else int(line),
        severity=Severity(severity),
        message=str(message),
    )


class OutputRecord:
    """The build's view of the output cache: one key per output format over the tool, the content
    folder, the options that shape outputs, and the files of the output folder that an output reads back
    (``reads_back``: the Anki state) and what the output takes from the machine (``system_key``)."""

    def __init__(
        self, store: OutputCache, base: str, out_dir: Path, renderers: Mapping[str, Renderer], selection: str = ""
    ) -> None:
        self.selection = selection  # --chapter/--tag, as a key part of the outputs they shape
        self.store = store
        self.base = base
        self.out_dir = out_dir
        self.renderers = renderers
        self.on_disk = OnDisk(store.cache, out_dir)
        self._keys: dict[str, str] = {}

    @classmethod
    def open(
        cls, content: Path, options: Options, renderers: Mapping[str, Renderer]
    ) -> OutputRecord | None:
        """The record for a build of ``renderers``; only the keys of those that use ``--chapter``/``--tag``
        hold the selection (an HTML build with ``--chapter`` is the same HTML)."""
        # Remote images are whatever the network answers: such builds are never cached whole.
        if options.cache_dir is None or options.fetch_remote or not content.is_dir():
            return None
        cache = Cache(options.cache_dir)
        base = key(
            tool_key(),
            content_key(content, FileDigests(cache, content), with_times=options.source_date_epoch is None),
            repr(options.source_date_epoch),
        )
        selection = repr((options.chapters, options.tags))
        return cls(OutputCache(cache), base, options.out_dir, renderers, selection)

    def key(self, name: str, read: Callable[[str], bytes | None] | None = None) -> str:
        """``read``: the read-back files' bytes as this build knows them (published before they are
        written); by default as in the output folder."""
        renderer = self.renderers[name]
        read = read or functools.partial(read_output, self.out_dir)
        files: list[str | bytes] = []
        for path in sorted(renderer.reads_back):
            data = read(path)
            files += [path, b"\0missing" if data is None else data]  # as file_key has it
        selection = self.selection if renderer.uses_selection else ""
        return key(self.base, name, selection, key(*files), renderer.system_key())

    def reader(self, restored: Sequence[CachedOutput]) -> Callable[[str], bytes | None]:
        """Read-back files as the output folder will hold them once the ``restored`` outputs are in place."""

        def read(path: str) -> bytes | None:
            for hit in restored:
                for name, digest in hit.files:
                    if name == path:
                        return self.store.blob(digest)
            return read_output(self.out_dir, path)

        return read

    def load(self, name: str, read: Callable[[str], bytes | None] | None = None) -> CachedOutput | None:
        self._keys[name] = self.key(name, read)
        return self.store.load(self._keys[name])

    def save(
        self, name: str, paths: Sequence[Path], reading: Sequence[Diagnostic], found: Sequence[Diagnostic]
    ) -> None:
        # Also under the key as it is now when the output rewrote a file it reads back (the Anki state):
        # a rebuild will ask with that one.
        entries = dict.fromkeys([self._keys[name], self.key(name)])
        self.on_disk.wrote(self.store.save(entries, self.out_dir, paths, reading, found))

    def restore(self, hit: CachedOutput, writer: Writer) -> list[Path] | None:
        """Put a cached output in place: files still as the last build wrote them are left alone, the
        others are copied from the cache. None, with nothing written, when a copy is damaged."""
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
