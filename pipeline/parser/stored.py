"""Each chapter file's reading, stored in the cache, so that a build after a one-answer edit reads
(parses and checks) only the file that changed.

Two entries per file, both pickles of model objects and diagnostics (the cache checksums its entries;
a damaged or unreadable one is a miss, and the file is read again):

- the scan (pass 1): the chapter's ids and the diagnostics of scanning it, keyed by the file's path and
  bytes and the pipeline's code (``tool_key``): scanning reads nothing else;
- the chapter (pass 2): the Chapter and the diagnostics of building it, keyed by the scan's key, the
  chapter's number, the whole question-id table (links between questions resolve against it), the
  check settings and the content folder. Building a chapter also reads the images it shows: the entry
  lists each (where the path as written resolved, the sha256 of its bytes), and a hit whose images no
  longer resolve to the same bytes is a miss. Only a chapter built without errors is stored, so every
  image it names was checked and listed.

A replayed entry reports its diagnostics into the build's report in the place the reading would have,
so the diagnostics are the same, in the same order, as those of a reading without the cache.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeGuard

from ..cache import Cache, FileDigests, key, tool_key
from ..diagnostics import Diagnostic, Report
from ..model import Chapter, CheckSettings
from ..resources import real_path
from .chapter import ChapterBuilder
from .scan import ChapterIds, ScannedChapter, scan_chapter

_NAMESPACE = "reading"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """One chapter file after pass 1: its ids (None when it cannot be read as a chapter) and the key
    the chapter entry builds on; ``scanned`` is the tree itself, None when the scan came from the cache."""

    path: Path
    entry: str
    ids: ChapterIds | None
    scanned: ScannedChapter | None


class StoredReading:
    """The cache's side of ``load_handbook``; with ``Cache(None)`` it reads every file, stores nothing."""

    def __init__(self, cache: Cache, root: Path) -> None:
        self.cache = cache
        self.root = root
        self.digests = FileDigests(cache, root)

    def scan(self, path: Path, report: Report) -> ScanResult:
        """Pass 1 for one file: replayed from the cache, else scanned (and stored)."""
        rel = path.relative_to(self.root).as_posix()
        try:
            entry = key(tool_key(), "scan", rel, path.read_bytes())
        except OSError:
            entry = ""  # scan_chapter reports it
        stored = self._load(entry)
        if stored is not None:
            ids, found = stored
            if isinstance(ids, ChapterIds | None) and _is_diagnostics(found):
                report.extend(found)
                return ScanResult(path=path, entry=entry, ids=ids, scanned=None)
        own = Report()
        scanned = scan_chapter(path, self.root, own)
        report.extend(own.items)
        ids = scanned.ids() if scanned is not None else None
        if entry:
            self._store(entry, (ids, own.items))
        return ScanResult(path=path, entry=entry, ids=ids, scanned=scanned)

    def chapter(
        self,
        scan: ScanResult,
        number: int,
        question_ids: Mapping[str, PurePosixPath],
        ids_key: str,
        check: CheckSettings,
        report: Report,
    ) -> Chapter | None:
        """Pass 2 for one file: replayed from the cache, else built (and stored when it has no errors)."""
        entry = key(scan.entry, "chapter", str(number), ids_key, repr(check), str(self.root)) if scan.entry else ""
        stored = self._load(entry)
        if stored is not None:
            chapter, found, images = stored
            if isinstance(chapter, Chapter | None) and _is_diagnostics(found) and self._same_images(images):
                report.extend(found)
                return chapter
        scanned = scan.scanned
        if scanned is None:  # the scan came from the cache: scan again for the tree, its diagnostics known
            scanned = scan_chapter(scan.path, self.root, Report())
            assert scanned is not None, "a file whose stored scan succeeded scans again"
        own = Report()
        builder = ChapterBuilder(scanned, self.root, dict(question_ids), own, check)
        chapter = builder.chapter(number)
        report.extend(own.items)
        if entry and not own.errors:
            images = [(str(written), str(real), self.digests.digest(real)) for written, real in builder.images_read]
            if all(digest is not None for _, _, digest in images):
                self._store(entry, (chapter, own.items, images))
        return chapter

    def save(self) -> None:
        self.digests.save()

    def _same_images(self, images: object) -> bool:
        """Whether every image a stored chapter read still resolves to the same file with the same bytes."""
        if not isinstance(images, list):
            return False
        for written, real, digest in images:
            try:
                if str(real_path(Path(written))) != real:
                    return False
            except OSError:
                return False
            if self.digests.digest(Path(real)) != digest:
                return False
        return True

    def _load(self, entry: str) -> tuple[object, ...] | None:
        payload = self.cache.get(_NAMESPACE, entry) if entry else None
        if payload is None:
            return None
        try:
            value = pickle.loads(payload)
        except Exception:  # a damaged entry (the key holds the code and Python version that wrote it)
            return None
        return value if isinstance(value, tuple) else None

    def _store(self, entry: str, value: tuple[object, ...]) -> None:
        self.cache.put(_NAMESPACE, entry, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _is_diagnostics(value: object) -> TypeGuard[tuple[Diagnostic, ...]]:
    return isinstance(value, tuple) and all(isinstance(item, Diagnostic) for item in value)


def ids_key(question_ids: Mapping[str, PurePosixPath]) -> str:
    """A key over the question-id table every chapter's links resolve against."""
    return key(*(f"{qid}\n{where}" for qid, where in sorted(question_ids.items())))

