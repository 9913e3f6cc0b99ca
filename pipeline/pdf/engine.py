"""Laying out parts: each a WeasyPrint document of its own, laid out in a pool of worker processes
(``--jobs``) or taken from the cache when its inputs are unchanged. Workers write each part's PDF to a
file beside its cache entry and return only what the assembly needs to know about its pages."""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import system
from ..cache import Cache, key, write_atomically
from ..fonts import FontSet
from ..workers import Workers, release_memory
from .images import fetcher
from .weasylog import NOTDEF_MESSAGE, capture, message_of

_PX_TO_PT = 0.75  # 72 PDF points per inch / 96 CSS pixels per inch
# Boxes a part keeps for page numbers the stamps draw (templates/pdf/parts.html.j2, page_number), and
# the element at the page area's top left corner they are placed from (part.html.j2).
SLOT_PREFIX = "slot-"
_ORIGIN = "page-origin"


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One document to lay out: its HTML, its stylesheet and the first half of its PDF /ID."""

    html: str
    css: str
    base_url: str
    identifier: str
    inputs: str = ""  # a key over the files the HTML links to (images), which the HTML only names
    asset_root: str = ""  # where handbook-asset: URLs point; not part of any cache key
    file_roots: tuple[str, ...] = ()  # folders file: URLs may read besides asset_root (fonts, fetched images)


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """A laid-out part: its PDF (a file the assembly opens in place: the build process never holds the
    parts' bytes), and what the assembly needs to know about its pages."""

    path: str
    sha256: str
    pages: int
    anchors: dict[str, tuple[int, float, float]]  # id → (page index, x, y in PDF points)
    bookmarks: tuple[tuple[int, str, int, float, float], ...]  # (level, label, page index, x, y)
    # Page-number boxes: (name after SLOT_PREFIX, page index, left, top, width in CSS px from the page area)
    slots: tuple[tuple[str, int, float, float, float], ...]
    records: tuple[tuple[str, tuple[str, ...]], ...]  # WeasyPrint's warnings: (message, arguments)


# Per worker process: the parsed stylesheets with their font configuration, reused across parts.
_STYLES: dict[str, tuple[Any, Any, tuple[tuple[str, tuple[str, ...]], ...]]] = {}


def lay_out(job: Job, destination: str) -> Part:
    """Lay out one part with WeasyPrint (in a worker process, or in the build's own with one job) and
    write its PDF to ``destination``."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    url_fetcher = fetcher(job.asset_root, job.file_roots)
    styles = _STYLES.get(job.css)
    if styles is None:
        if len(_STYLES) >= 4:  # one build uses three stylesheets; a long-lived process sees more
            _STYLES.clear()
        font_config = FontConfiguration()
        # What parsing the stylesheet logs is kept with it: every part laid out with it reports it, in
        # whichever process parsed it (a worker's log is not the build's).
        with capture() as css_logged:
            stylesheet = weasyprint.CSS(
                string=job.css, base_url=job.base_url, font_config=font_config, url_fetcher=url_fetcher
            )
        styles = _STYLES[job.css] = (font_config, stylesheet, tuple(_portable(r) for r in css_logged))
    font_config, stylesheet, css_records = styles
    with capture() as logged:
        document = weasyprint.HTML(string=job.html, base_url=job.base_url, url_fetcher=url_fetcher).render(
            stylesheets=[stylesheet], font_config=font_config
        )
        pdf = bytes(document.write_pdf(pdf_identifier=job.identifier.encode("ascii")))
        write_atomically(Path(destination), lambda handle: handle.write(pdf))
    anchors: dict[str, tuple[int, float, float]] = {}
    boxes: list[tuple[str, int, float, float, float]] = []
    for index, page in enumerate(document.pages):
        for name, (x, y, right, *_) in page.anchors.items():
            if name.startswith(SLOT_PREFIX):
                boxes.append((name.removeprefix(SLOT_PREFIX), index, x, y, right - x))
            else:
                anchors.setdefault(name, (index, x * _PX_TO_PT, (page.height - y) * _PX_TO_PT))
    # Every page of a part has the same margins: the first page's corner is every page's.
    origin_x, origin_y = document.pages[0].anchors.get(_ORIGIN, (0.0, 0.0))[:2]
    slots = tuple(
        (name, index, round(x - origin_x, 3), round(y - origin_y, 3), round(width, 3))
        for name, index, x, y, width in boxes
    )
    bookmarks: list[tuple[int, str, int, float, float]] = []

    def flatten(tree: Any, level: int) -> None:
        for label, (page_index, x, y), children, _state in tree:
            bookmarks.append((level, str(label), int(page_index), float(x), float(y)))
            flatten(children, level + 1)

    flatten(document.make_bookmark_tree(scale=_PX_TO_PT, transform_pages=True), 1)
    records = css_records + tuple(_portable(r) for r in logged)
    pages = len(document.pages)
    del document
    release_memory()
    return Part(
        path=destination,
        sha256=hashlib.sha256(pdf).hexdigest(),
        pages=pages,
        anchors=anchors,
        bookmarks=tuple(bookmarks),
        slots=slots,
        records=records,
    )


def _portable(record: logging.LogRecord) -> tuple[str, tuple[str, ...]]:
    """A log record as it crosses to the build process: its message formatted here, where its arguments
    still have their types ("%d" of a string would fail there). A missing glyph keeps the character as
    its one argument, which weasylog.py reports where the text uses it."""
    message = message_of(record)
    if str(record.msg).startswith(NOTDEF_MESSAGE) and isinstance(record.args, tuple) and record.args:
        return NOTDEF_MESSAGE, (str(record.args[0]),)
    return message, ()


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fingerprint(part: Part) -> str:
    """What an assembly takes from a part: its PDF's bytes, its anchors (in any order: the cache stores
    them sorted) and bookmarks."""
    return repr((part.sha256, sorted(part.anchors.items()), part.bookmarks))


class Engine:
    """Lays out parts: from the cache when their inputs are unchanged, else in worker processes."""

    def __init__(
        self,
        *,
        workers: Workers,
        cache: Cache,
        parts: Path,
        base_key: str,
        base_url: str,
        asset_root: str,
        file_roots: tuple[str, ...] = (),
        part_css: str,
        stamp_css: str,
    ) -> None:
        self.workers = workers
        workers.at_close(_STYLES.clear)  # with one job, parts leave their fonts in this process
        self.cache = cache
        self.parts = parts  # where the parts' PDFs are written: beside their cache entries, or a scratch folder
        self.base_key = base_key
        self.base_url = base_url
        self.asset_root = asset_root
        self.file_roots = file_roots
        self.part_css = part_css
        self.stamp_css = stamp_css
        self._laid_out: set[str] = set()  # entries laid out (not taken from the cache) in this build
        self._started: dict[str, concurrent.futures.Future[Part]] = {}

    def job(self, html: str, identifier: str, *, stamps: bool = False, inputs: str = "") -> Job:
        css = self.stamp_css if stamps else self.part_css
        return Job(
            html=html, css=css, base_url=self.base_url, identifier=identifier, inputs=inputs,
            asset_root=self.asset_root, file_roots=self.file_roots,
        )

    def run(self, jobs: Sequence[Job]) -> list[Part]:
        """Lay out ``jobs`` (or take them from the cache) and wait for all of them."""
        return [future.result() for future in self.submit(jobs)]

    def submit(self, jobs: Sequence[Job]) -> list[concurrent.futures.Future[Part]]:
        """Start laying out ``jobs``; a job already started in this build is not started again."""
        futures: list[concurrent.futures.Future[Part] | None] = []
        missing: list[tuple[int, str]] = []
        for job in jobs:
            entry = self._entry(job)
            future = self._started.get(entry)
            if future is None:
                part = self._cached(entry)
                if part is not None:
                    future = self._started[entry] = concurrent.futures.Future()
                    future.set_result(part)
                else:
                    missing.append((len(futures), entry))
            futures.append(future)
        # The longest parts first, so that no worker is left alone with a long one at the end.
        for index, entry in sorted(missing, key=lambda item: -len(jobs[item[0]].html)):
            future = self._start(jobs[index])
            future.add_done_callback(functools.partial(self._store, entry))
            futures[index] = self._started[entry] = future
        self.workers.fed.set()
        return [future for future in futures if future is not None]

    def forget_finished(self) -> None:
        """Let go of finished parts (their PDF bytes): only started ones are still asked for."""
        self._started = {entry: future for entry, future in self._started.items() if not future.done()}

    def was_laid_out(self, job: Job) -> bool:
        """Whether this build laid ``job`` out (rather than taking it from the cache)."""
        return self._entry(job) in self._laid_out

    def _entry(self, job: Job) -> str:
        return key(self.base_key, job.css, job.html, job.identifier, job.inputs)

    def reuse_assembled(self, entry: str, destination: Path) -> bool:
        """Copy an edition assembled before from the same parts to ``destination``, if the cache has it
        intact (a rebuild that changed nothing of this edition, e.g. the practice edition after an
        answer was edited, or a template the PDF does not use)."""
        record = self.cache.get_record("editions", entry)
        if record is None:
            return False
        path = self._pdf_path(entry)
        try:
            if file_sha256(path) != record[0].get("sha256"):
                return False
            shutil.copyfile(path, destination)
        except OSError:
            return False
        self.cache.touch(path)
        return True

    def keep_assembled(self, entry: str, source: Path) -> None:
        """Keep a copy of an assembled edition for ``reuse_assembled``."""
        if self.cache.folder is None:
            return
        target = self._pdf_path(entry)
        with source.open("rb") as assembled:
            write_atomically(target, lambda handle: shutil.copyfileobj(assembled, handle))
        self.cache.put_record("editions", entry, {"sha256": file_sha256(target)})

    def _pdf_path(self, entry: str) -> Path:
        return self.parts / entry[:2] / f"{entry}.pdf"

    def _start(self, job: Job) -> concurrent.futures.Future[Part]:
        entry = self._entry(job)
        self._laid_out.add(entry)
        return self.workers.submit(lay_out, job, str(self._pdf_path(entry)))

    def _cached(self, entry: str) -> Part | None:
        record = self.cache.get_record("pdf-parts", entry)
        if record is None:
            return None
        header = record[0]
        path = self._pdf_path(entry)
        try:
            intact = file_sha256(path) == header["sha256"]
        except (OSError, KeyError):
            intact = False
        if not intact:
            return None  # the PDF beside the entry is missing or damaged: lay the part out again
        self.cache.touch(path)
        try:
            return Part(
                path=str(path),
                sha256=str(header["sha256"]),
                pages=int(header["pages"]),
                anchors={str(k): (int(v[0]), float(v[1]), float(v[2])) for k, v in header["anchors"].items()},
                bookmarks=tuple(
                    (int(b[0]), str(b[1]), int(b[2]), float(b[3]), float(b[4])) for b in header["bookmarks"]
                ),
                slots=tuple(
                    (str(s[0]), int(s[1]), float(s[2]), float(s[3]), float(s[4])) for s in header["slots"]
                ),
                records=tuple((str(m), tuple(str(a) for a in args)) for m, args in header["records"]),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None  # an entry of another shape: lay the part out again

    def _store(self, entry: str, done: concurrent.futures.Future[Part]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        part = done.result()
        header = {
            "sha256": part.sha256,
            "pages": part.pages,
            "anchors": {k: list(v) for k, v in part.anchors.items()},
            "bookmarks": [list(b) for b in part.bookmarks],
            "slots": [list(b) for b in part.slots],
            "records": [[m, list(args)] for m, args in part.records],
        }
        self.cache.put_record("pdf-parts", entry, header)


def layout_key(fonts: FontSet) -> str:
    """What a part's layout depends on besides its HTML and CSS (which name every template's output):
    the layout engine's versions, this package's code, the fonts' bytes, the system's text libraries and
    fallback fonts (pipeline/system.py). Not the whole pipeline: a template
    that changes only the front matter re-lays out only the front matter."""
    versions = [f"{name}=={metadata.version(name)}" for name in ("weasyprint", "pydyf", "pikepdf")]
    code = [path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py"))]
    return key(*versions, *code, fonts.fingerprint(), system.layout_fingerprint())
