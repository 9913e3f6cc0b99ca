"""The PDF handbook and its practice edition: the shared templates laid out by WeasyPrint.

As in Pandoc's ``makePDF``, the PDF is the HTML rendering plus an engine. The frames in
``templates/pdf/`` render chapters and questions through the shared partials; ``pdf.css`` turns them into
a book (cover, contents, running headers, bookmarks, tag index). WeasyPrint's vocabulary stays in this
module (and pikepdf's, which assembles the parts).

One build writes two files from the same source:

- ``handbook.pdf``, the full book;
- ``handbook-practice.pdf``, questions only with ruled space for answers; each question names the
  page of its answer in the full book.

Each edition is laid out in parts (every chapter, the front matter, the tag index) by worker processes
and through the cache, then assembled; docs/performance.md explains how and what it gains.
``book.html.j2`` and ``practice.html.j2`` are the same editions as one document each: the benchmark's
baseline (bench/baseline.py) lays them out, with ``_stylesheet_text`` and ``_question_pages``.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import ctypes
import functools
import hashlib
import logging
import mimetypes
import multiprocessing
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pikepdf

from . import system
from .build import Context, Options
from .cache import Cache, file_key, key, write_atomically
from .config import CONFIG_NAME
from .fonts import FontSet, ensure_fonts
from .formulas import math_hook
from .locations import TEMPLATES
from .model import (
    Asset,
    Body,
    Chapter,
    Handbook,
    Image,
    Link,
    Question,
    RemoteImage,
    Source,
    body_inlines,
    walk_inlines,
)
from .remote import FetchError, RemoteCache
from .render import Hooks, chapter_anchor, environment, pygments_css, question_anchor

OUTPUT_NAME = "handbook.pdf"
PRACTICE_NAME = "handbook-practice.pdf"

# A light Pygments style: colored tokens on a pale background print well in color and in grey.
CODE_STYLE = "friendly"
STYLESHEET = TEMPLATES / "pdf" / "pdf.css"

# handbook.toml's margins go into CSS verbatim, so only plain lengths pass.
_MARGINS = re.compile(r"(?:\d+(?:\.\d+)?(?:mm|cm|in|pt|pc|px|Q)\s+){0,3}\d+(?:\.\d+)?(?:mm|cm|in|pt|pc|px|Q)")
# What WeasyPrint logs when no font has a glyph for a character (weasyprint/draw/text.py).
_NOTDEF_MESSAGE = ".notdef glyph rendered"
# Ruled lines under each question of the practice edition, by difficulty.
_ANSWER_LINES = {1: 7, 2: 10, 3: 14}
_DEFAULT_ANSWER_LINES = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class TagEntry:
    """One entry of the tag index: a tag and its questions, in book order."""

    tag: str
    questions: tuple[tuple[Chapter, Question], ...]


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write ``handbook.pdf`` and ``handbook-practice.pdf``; nothing when the build found errors.

    WeasyPrint lays out on one core, so each edition is cut into parts laid out on their own, in
    ``ctx.options.jobs`` worker processes and through the cache: every chapter, then the front matter
    (cover, contents) and the tag index once every chapter's page count is known. A chapter's layout
    does not depend on where it starts: it opens on a right-hand page and left and right pages differ
    only in their running heads, which are stamped on with the page numbers when pikepdf assembles the
    parts; the assembly also writes the outline and points every link at its final page.
    """
    if not _page_settings_valid(handbook, ctx):
        return []
    errors_before = len(ctx.report.errors)
    system.require("pdf")  # before WeasyPrint loads: a missing library is one line naming its package
    with contextlib.ExitStack() as stack:
        ctx.progress("pdf: fonts")
        fonts = ensure_fonts(_tool_folder(stack, ctx.options.cache_dir, "fonts"), progress=ctx.progress)
        images = _image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            # Every cross-reference reads its page number from the part's page-refs (see _Edition).
            question_href=lambda qid: f"#{REF_PREFIX}{question_anchor(qid)}",
        )
        env = environment(hooks, {"answer_lines": answer_lines})
        frame = _frame_values(handbook, ctx.options)
        base_url = handbook.root.resolve().as_uri() + "/"
        font_css = fonts.css()
        if ctx.options.cache_dir is not None:
            parts = ctx.options.cache_dir / "pdf-parts"
        else:
            parts = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handbook-parts-")))
        out = ctx.options.out_dir
        staged = [ctx.writer.stage(out / OUTPUT_NAME), ctx.writer.stage(out / PRACTICE_NAME)]
        for output in staged:
            stack.callback(output.discard)  # the previous files stay unless both editions are made
        engine = _Engine(
            jobs=ctx.options.jobs,
            cache=Cache(ctx.options.cache_dir),
            parts=parts,
            base_key=_layout_key(fonts),
            base_url=base_url,
            asset_root=str(handbook.root.resolve()),
            part_css="\n".join([font_css, pygments_css(CODE_STYLE, "pre.code"), _read(STYLESHEET), _HIDE_MARGINS]),
            stamp_css="\n".join([font_css, _read(STAMP_STYLESHEET)]),
        )
        stack.callback(engine.close)
        with _weasyprint_diagnostics(handbook, ctx) as collector:
            edition = functools.partial(
                _Edition, handbook=handbook, env=env, frame=frame, engine=engine, ctx=ctx, records=collector.records
            )
            book = edition(name="book", title="", destination=staged[0].temporary)
            practice = edition(name="practice", title="练习版", destination=staged[1].temporary)

            def start_practice(numbers: dict[str, int]) -> None:
                practice.start_chapters({"answer_pages": _answer_pages(handbook, numbers)})

            answer_pages, front_pages = book.build(
                with_index=bool(frame["tag_index"]), right_hand=True, extra={}, on_numbers=start_practice
            )
            # The practice edition's contents list the same chapters and questions: the same length, or
            # else one more front matter layout finds out.
            practice.build(
                with_index=False, right_hand=False, extra={"answer_pages": answer_pages}, front_pages=front_pages
            )

        # What WeasyPrint logged is reported once its block ends: a missing glyph is an error.
        if len(ctx.report.errors) > errors_before:
            return []  # a PDF with missing glyphs is not a result; the previous files stay
        return [output.commit() for output in staged]


# --- parts: laid out on their own, in worker processes, through the cache -----------------------

REF_PREFIX = "ref-"
ASSET_SCHEME = "handbook-asset"
INDEX_TITLE = "标签索引"
PART_TEMPLATE = "pdf/part.html.j2"
STAMP_TEMPLATE = "pdf/stamps.html.j2"
STAMP_STYLESHEET = TEMPLATES / "pdf" / "stamps.css"
# A part draws no margin boxes: the stamps bring them, with page numbers only the assembly knows.
_HIDE_MARGINS = "@page { @top-left { content: none; } @top-right { content: none; } @bottom-center { content: none; } }"
_STAMP_NAME = pikepdf.Name("/HandbookStamp")  # the stamp's form XObject in each page's resources
_PX_TO_PT = 0.75  # 72 PDF points per inch / 96 CSS pixels per inch
# Rounds of laying out chapters again when the page numbers their cross-references print moved.
_MAX_ROUNDS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """One document to lay out: its HTML, its stylesheet and the first half of its PDF /ID."""

    html: str
    css: str
    base_url: str
    identifier: str
    inputs: str = ""  # a key over the files the HTML links to (images), which the HTML only names
    asset_root: str = ""  # where handbook-asset: URLs point; not part of any cache key


@dataclass(frozen=True, slots=True, kw_only=True)
class _Part:
    """A laid-out part: its PDF (a file the assembly opens in place: the build process never holds the
    parts' bytes), and what the assembly needs to know about its pages."""

    path: str
    sha256: str
    pages: int
    anchors: dict[str, tuple[int, float, float]]  # id → (page index, x, y in PDF points)
    bookmarks: tuple[tuple[int, str, int, float, float], ...]  # (level, label, page index, x, y)
    records: tuple[tuple[str, tuple[str, ...]], ...]  # WeasyPrint's warnings: (message, arguments)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stamp:
    """What is drawn in one page's margins."""

    folio: str = ""
    left: str = ""
    right: str = ""


# Per worker process: the parsed stylesheets with their font configuration, reused across parts.
_STYLES: dict[str, tuple[Any, Any]] = {}


def _lay_out(job: _Job, destination: str) -> _Part:
    """Lay out one part with WeasyPrint (in a worker process, or in the build's own with one job) and
    write its PDF to ``destination``."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    if job.css not in _STYLES:
        if len(_STYLES) >= 4:  # one build uses two stylesheets; a long-lived process sees more
            _STYLES.clear()
        font_config = FontConfiguration()
        _STYLES[job.css] = (font_config, weasyprint.CSS(string=job.css, base_url=job.base_url, font_config=font_config))
    font_config, stylesheet = _STYLES[job.css]
    fetcher = _fetcher(job.asset_root)
    logger = logging.getLogger("weasyprint")
    collector = _Collector()
    level = logger.level
    logger.addHandler(collector)
    if not logger.isEnabledFor(logging.WARNING):
        logger.setLevel(logging.WARNING)
    try:
        document = weasyprint.HTML(string=job.html, base_url=job.base_url, url_fetcher=fetcher).render(
            stylesheets=[stylesheet], font_config=font_config
        )
        pdf = bytes(document.write_pdf(pdf_identifier=job.identifier.encode("ascii")))
        write_atomically(Path(destination), lambda handle: handle.write(pdf))
    finally:
        logger.removeHandler(collector)
        logger.setLevel(level)
    anchors: dict[str, tuple[int, float, float]] = {}
    for index, page in enumerate(document.pages):
        for name, (x, y, *_) in page.anchors.items():
            anchors.setdefault(name, (index, x * _PX_TO_PT, (page.height - y) * _PX_TO_PT))
    bookmarks: list[tuple[int, str, int, float, float]] = []

    def flatten(tree: Any, level: int) -> None:
        for label, (page_index, x, y), children, _state in tree:
            bookmarks.append((level, str(label), int(page_index), float(x), float(y)))
            flatten(children, level + 1)

    flatten(document.make_bookmark_tree(scale=_PX_TO_PT, transform_pages=True), 1)
    records = tuple(
        (str(r.msg), tuple(str(a) for a in r.args) if isinstance(r.args, tuple) else ()) for r in collector.records
    )
    pages = len(document.pages)
    del document
    _release_memory()
    return _Part(
        path=destination,
        sha256=hashlib.sha256(pdf).hexdigest(),
        pages=pages,
        anchors=anchors,
        bookmarks=tuple(bookmarks),
        records=records,
    )


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _fingerprint(part: _Part) -> str:
    """What an assembly takes from a part: its PDF's bytes, its anchors (in any order: the cache stores
    them sorted) and bookmarks."""
    return repr((part.sha256, sorted(part.anchors.items()), part.bookmarks))


def _release_memory() -> None:
    """Give memory freed by a layout or an assembly back to the system.

    glibc keeps freed heap memory for reuse: a worker that laid out a big chapter, or the build after
    assembling a book with qpdf, would otherwise hold its high-water mark (~300 MB) while idle, and the
    build's peak is the sum over its processes (docs/performance.md). Elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's, among the symbols the interpreter already loaded
    except (OSError, AttributeError):
        return None


class _Engine:
    """Lays out parts: from the cache when their inputs are unchanged, else in worker processes."""

    def __init__(
        self,
        *,
        jobs: int,
        cache: Cache,
        parts: Path,
        base_key: str,
        base_url: str,
        asset_root: str,
        part_css: str,
        stamp_css: str,
    ) -> None:
        self.jobs = jobs
        self.cache = cache
        self.parts = parts  # where the parts' PDFs are written: beside their cache entries, or a scratch folder
        self.base_key = base_key
        self.base_url = base_url
        self.asset_root = asset_root
        self.part_css = part_css
        self.stamp_css = stamp_css
        self._laid_out: set[str] = set()  # entries laid out (not taken from the cache) in this build
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._started: dict[str, concurrent.futures.Future[_Part]] = {}

    def job(self, html: str, identifier: str, *, stamps: bool = False, inputs: str = "") -> _Job:
        css = self.stamp_css if stamps else self.part_css
        return _Job(
            html=html, css=css, base_url=self.base_url, identifier=identifier, inputs=inputs, asset_root=self.asset_root
        )

    def run(self, jobs: Sequence[_Job]) -> list[_Part]:
        """Lay out ``jobs`` (or take them from the cache) and wait for all of them."""
        return [future.result() for future in self.submit(jobs)]

    def submit(self, jobs: Sequence[_Job]) -> list[concurrent.futures.Future[_Part]]:
        """Start laying out ``jobs``; a job already started in this build is not started again."""
        futures: list[concurrent.futures.Future[_Part] | None] = []
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
        return [future for future in futures if future is not None]

    def forget_finished(self) -> None:
        """Let go of finished parts (their PDF bytes): only started ones are still asked for."""
        self._started = {entry: future for entry, future in self._started.items() if not future.done()}

    def was_laid_out(self, job: _Job) -> bool:
        """Whether this build laid ``job`` out (rather than taking it from the cache)."""
        return self._entry(job) in self._laid_out

    def _entry(self, job: _Job) -> str:
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
            if _file_sha256(path) != record[0].get("sha256"):
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
        self.cache.put_record("editions", entry, {"sha256": _file_sha256(target)})

    def _pdf_path(self, entry: str) -> Path:
        return self.parts / entry[:2] / f"{entry}.pdf"

    def _start(self, job: _Job) -> concurrent.futures.Future[_Part]:
        entry = self._entry(job)
        self._laid_out.add(entry)
        destination = str(self._pdf_path(entry))
        if self.jobs == 1:
            future: concurrent.futures.Future[_Part] = concurrent.futures.Future()
            future.set_result(_lay_out(job, destination))
            return future
        if self._pool is None:
            # spawn: fresh workers, not copies of this process and everything it holds (peak memory).
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self._pool.submit(_lay_out, job, destination)

    def close(self) -> None:
        # Parts laid out in this process (one job) left their font configuration here; WeasyPrint's
        # cleanup of it fails noisily if it waits for the interpreter's shutdown.
        _STYLES.clear()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _cached(self, entry: str) -> _Part | None:
        record = self.cache.get_record("pdf-parts", entry)
        if record is None:
            return None
        header = record[0]
        path = self._pdf_path(entry)
        try:
            intact = _file_sha256(path) == header["sha256"]
        except (OSError, KeyError):
            intact = False
        if not intact:
            return None  # the PDF beside the entry is missing or damaged: lay the part out again
        self.cache.touch(path)
        try:
            return _Part(
                path=str(path),
                sha256=str(header["sha256"]),
                pages=int(header["pages"]),
                anchors={str(k): (int(v[0]), float(v[1]), float(v[2])) for k, v in header["anchors"].items()},
                bookmarks=tuple(
                    (int(b[0]), str(b[1]), int(b[2]), float(b[3]), float(b[4])) for b in header["bookmarks"]
                ),
                records=tuple((str(m), tuple(str(a) for a in args)) for m, args in header["records"]),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None  # an entry of another shape: lay the part out again

    def _store(self, entry: str, done: concurrent.futures.Future[_Part]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        part = done.result()
        header = {
            "sha256": part.sha256,
            "pages": part.pages,
            "anchors": {k: list(v) for k, v in part.anchors.items()},
            "bookmarks": [list(b) for b in part.bookmarks],
            "records": [[m, list(args)] for m, args in part.records],
        }
        self.cache.put_record("pdf-parts", entry, header)


# --- an edition: parts, page numbers, assembly ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """Where each part starts in the edition (0-based page indexes) and the blank pages between."""

    front: int
    chapters: tuple[int, ...]
    back: int
    blanks: tuple[int, ...]
    total: int


def _plan(front_pages: int, chapter_pages: Sequence[int], back_pages: int, *, right_hand: bool) -> _Plan:
    """Chapters (and the tag index) of the book open on right-hand, odd-numbered pages: a blank page
    goes before one that would start on an even number."""
    count = front_pages
    starts: list[int] = []
    blanks: list[int] = []
    for pages in [*chapter_pages, back_pages]:
        if right_hand and count % 2 == 1 and pages:
            blanks.append(count)
            count += 1
        starts.append(count)
        count += pages
    return _Plan(front=0, chapters=tuple(starts[:-1]), back=starts[-1], blanks=tuple(blanks), total=count)


class _Edition:
    """One PDF edition assembled from its parts."""

    def __init__(
        self,
        *,
        name: str,
        title: str,
        handbook: Handbook,
        env: Any,
        frame: dict[str, Any],
        engine: _Engine,
        ctx: Context,
        records: list[logging.LogRecord],
        destination: Path,
    ) -> None:
        self.name = name
        self.destination = destination
        self.title = title
        self.handbook = handbook
        self.env = env
        self.frame = frame
        self.engine = engine
        self.ctx = ctx
        self.records = records

    def build(
        self,
        *,
        with_index: bool,
        right_hand: bool,
        extra: dict[str, Any],
        front_pages: int | None = None,
        on_numbers: Callable[[dict[str, int]], None] = lambda numbers: None,
    ) -> tuple[dict[str, int], int]:
        """Write the edition's PDF to its destination; returns the page number of every question and the
        front matter's page count.

        ``front_pages`` is a guess of the front matter's length (checked, and corrected if wrong); without
        it, the length the last build found is the guess, and without that the front matter is first laid
        out with unknown page numbers beside the chapters to learn it.
        ``on_numbers`` hears the page numbers as soon as they are known, once the front matter, the tag
        index and the stamps are started: the practice edition's chapters, which print them, follow.
        """
        handbook = self.handbook
        engine = self.engine
        refs_of = [_chapter_refs(c) for c in handbook.chapters]
        numbers: dict[str, int] = {}  # anchor → page number; 0 (unknown) before the first layout
        self.ctx.progress(f"pdf: laying out the {self.name}'s chapters")
        if front_pages is None:
            front_pages = self._remembered_front_pages()
        placeholder = self._front(numbers, extra, with_index=with_index) if front_pages is None else None
        for round_number in range(_MAX_ROUNDS):
            jobs = [
                self._chapter_job(c, refs, numbers, extra) for c, refs in zip(handbook.chapters, refs_of, strict=True)
            ]
            chapter_parts = engine.run(jobs)
            counts = [part.pages for part in chapter_parts]
            fresh = sum(engine.was_laid_out(job) for job in jobs)
            self.ctx.progress(f"pdf: {self.name}: {fresh} of {len(jobs)} chapters laid out, the rest from the cache")
            if placeholder is not None:
                front_pages = placeholder.result().pages
                placeholder = None
            assert front_pages is not None
            for _ in range(_MAX_ROUNDS):
                plan = _plan(front_pages, counts, 1 if with_index else 0, right_hand=right_hand)
                found = {name: where[0] + 1 for name, where in _anchors(plan, chapter_parts).items()}
                if with_index:
                    found["tag-index"] = plan.back + 1
                self.ctx.progress(f"pdf: laying out the {self.name}'s front matter, index and page stamps")
                front = self._front(found, extra, with_index=with_index)
                back = engine.submit([self._back_job(found, extra)])[0] if with_index else None
                stamps = engine.submit(self._stamp_jobs(plan, chapter_parts)[:-1])
                on_numbers(found)
                stable = front.result().pages == front_pages
                front_pages = front.result().pages
                if stable:
                    break
            stale = any(found.get(a, 0) != numbers.get(a, 0) for refs in refs_of for a in refs)
            numbers = found
            if not stale or round_number == _MAX_ROUNDS - 1:
                break
            # A cross-reference printed a page number that moved: lay those chapters out again.
            self.ctx.progress(f"pdf: laying out the {self.name}'s chapters again (page numbers of references moved)")
        assert front_pages is not None
        back_part = back.result() if back is not None else None
        plan = _plan(front_pages, counts, back_part.pages if back_part else 0, right_hand=right_hand)
        stamp_parts = [future.result() for future in stamps]
        if back_part is not None:
            stamp_parts += engine.run(self._stamp_jobs(plan, chapter_parts, back_part)[-1:])
        front_part = front.result()
        for part in [front_part, *chapter_parts, *([back_part] if back_part else [])]:
            self.records.extend(logging.makeLogRecord({"msg": m, "args": args}) for m, args in part.records)
        parts = [front_part, *chapter_parts, *([back_part] if back_part else []), *stamp_parts]
        assembled = key(engine.base_key, self._identifier(), repr(plan), *(_fingerprint(p) for p in parts))
        if engine.reuse_assembled(assembled, self.destination):
            self.ctx.progress(f"pdf: the {self.name} ({plan.total} pages) is made of unchanged parts: from the cache")
        else:
            self.ctx.progress(f"pdf: assembling the {self.name} ({plan.total} pages)")
            _assemble(plan, front_part, chapter_parts, back_part, stamp_parts, self._identifier(), self.destination)
            _release_memory()  # qpdf's objects are gone once _assemble returns
            engine.keep_assembled(assembled, self.destination)
        engine.forget_finished()
        engine.cache.put_record("hints", self._identifier("front-pages"), {"pages": front_pages})
        return _answer_pages(handbook, numbers), front_pages

    def _remembered_front_pages(self) -> int | None:
        """The front matter's length in the last build of this edition: a guess, checked like any other
        (a wrong one costs one more layout of the front matter, as having none does)."""
        record = self.engine.cache.get_record("hints", self._identifier("front-pages"))
        pages = record[0].get("pages") if record is not None else None
        return pages if isinstance(pages, int) and pages > 0 else None

    def start_chapters(self, extra: dict[str, Any]) -> None:
        """Start laying out the chapters as the first round of ``build`` will ask for them."""
        jobs = [self._chapter_job(c, _chapter_refs(c), {}, extra) for c in self.handbook.chapters]
        self.engine.submit(jobs)

    def _values(self, extra: dict[str, Any], **values: Any) -> dict[str, Any]:
        return {
            **self.frame,
            **extra,
            "edition": self.name,
            "edition_title": self.title,
            "index_title": INDEX_TITLE,
            **values,
        }

    def _chapter_job(
        self, chapter: Chapter, refs: tuple[str, ...], numbers: dict[str, int], extra: dict[str, Any]
    ) -> _Job:
        pairs = [(REF_PREFIX + a, numbers.get(a, 0)) for a in refs]
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(extra, part="chapter", chapter=chapter, refs=pairs, with_index=False)
        )
        return self.engine.job(html, self._identifier(chapter.id), inputs=_assets_key(self.handbook, chapter))

    def _front(
        self, numbers: dict[str, int], extra: dict[str, Any], *, with_index: bool
    ) -> concurrent.futures.Future[_Part]:
        """Start laying out the cover and contents, which point at every chapter, question and the index."""
        wanted = [chapter_anchor(c.id) for c in self.handbook.chapters]
        wanted += [question_anchor(q.id) for q in self.handbook.questions]
        wanted += ["tag-index"] if with_index else []
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(
                extra, part="front", chapter=None, refs=[(a, numbers.get(a, 0)) for a in wanted], with_index=with_index
            )
        )
        return self.engine.submit([self.engine.job(html, self._identifier("front"))])[0]

    def _back_job(self, numbers: dict[str, int], extra: dict[str, Any]) -> _Job:
        refs = [(a, numbers.get(a, 0)) for a in (question_anchor(q.id) for q in self.handbook.questions)]
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(extra, part="back", chapter=None, refs=refs, with_index=True)
        )
        return self.engine.job(html, self._identifier("back"))

    def _stamp_jobs(self, plan: _Plan, chapter_parts: Sequence[_Part], back: _Part | None = None) -> list[_Job]:
        """Running heads and page numbers, one job per part: the front matter, each chapter, the index
        (a placeholder page while its length is unknown)."""
        book_title = self.handbook.meta.title
        front_pages = plan.chapters[0] if plan.chapters else plan.back
        front_pages -= sum(1 for blank in plan.blanks if blank < front_pages)
        runs: list[list[_Stamp]] = [[_Stamp()] + [_Stamp(folio=str(n + 1)) for n in range(1, front_pages)]]
        heads = [
            (plan.chapters[i], part.pages, c.title)
            for i, (c, part) in enumerate(zip(self.handbook.chapters, chapter_parts, strict=True))
        ]
        heads.append((plan.back, back.pages if back else 1, INDEX_TITLE))
        for start, pages, title in heads:
            run: list[_Stamp] = []
            for k in range(pages):
                number = start + k + 1
                if k == 0 and title != INDEX_TITLE:
                    run.append(_Stamp(folio=str(number)))  # a chapter's opening page has its own big title
                elif number % 2 == 0:
                    run.append(_Stamp(folio=str(number), left=book_title))
                else:
                    run.append(_Stamp(folio=str(number), right=title))
            runs.append(run)
        template = self.env.get_template(STAMP_TEMPLATE)
        return [
            self.engine.job(template.render(**self.frame, stamps=run), self._identifier("stamps"), stamps=True)
            for run in runs
        ]

    def _identifier(self, part: str = "") -> str:
        # A stable first /ID half per edition: the same document across rebuilds, as the PDF spec asks.
        name = f"{self.handbook.meta.id}/{self.name}" + (f"/{part}" if part else "")
        return hashlib.sha256(name.encode()).hexdigest()[:32]


def answer_lines(question: Question) -> int:
    """How many ruled lines the practice edition leaves for answering ``question``."""
    return _ANSWER_LINES.get(question.difficulty or 0, _DEFAULT_ANSWER_LINES)


def tag_index(handbook: Handbook) -> tuple[TagEntry, ...]:
    """Every tag with its questions, tags sorted by code point, questions in book order."""
    found: dict[str, list[tuple[Chapter, Question]]] = {}
    for chapter in handbook.chapters:
        for question in chapter.questions:
            for tag in question.tags:
                found.setdefault(tag, []).append((chapter, question))
    return tuple(TagEntry(tag=tag, questions=tuple(found[tag])) for tag in sorted(found))


def build_date(handbook: Handbook, options: Options) -> datetime:
    """The date printed on the cover and stored in the metadata: SOURCE_DATE_EPOCH, else the newest
    source file's modification time (so an unchanged source gives an unchanged PDF)."""
    if options.source_date_epoch is not None:
        return datetime.fromtimestamp(options.source_date_epoch, tz=UTC)
    sources = [handbook.root / CONFIG_NAME, *(handbook.root / c.source.path for c in handbook.chapters)]
    newest = max((int(p.stat().st_mtime) for p in sources if p.is_file()), default=0)
    return datetime.fromtimestamp(newest, tz=UTC)


def _frame_values(handbook: Handbook, options: Options) -> dict[str, Any]:
    """What the outer frames show besides the chapters: cover, metadata, page settings, index."""
    meta = handbook.meta
    date = build_date(handbook, options)
    return {
        "handbook": handbook,
        "meta": meta,
        "page_size": meta.page.size.lower(),
        "page_margins": meta.page.margins.strip(),
        "subject": meta.description or meta.subtitle or meta.title,
        "keywords": ", ".join(entry.tag for entry in tag_index(handbook)),
        "date": date.strftime("%Y-%m-%d"),
        "timestamp": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tag_index": tag_index(handbook),
    }


def _stylesheet_text(fonts: FontSet) -> str:
    return "\n".join([fonts.css(), pygments_css(CODE_STYLE, "pre.code"), STYLESHEET.read_text(encoding="utf-8")])


def _page_settings_valid(handbook: Handbook, ctx: Context) -> bool:
    margins = handbook.meta.page.margins.strip()
    if _MARGINS.fullmatch(margins):
        return True
    ctx.report.error(
        CONFIG_NAME,
        None,
        f"'pdf.margins' must be one to four lengths such as \"22mm 20mm 24mm 20mm\", not {margins!r}",
    )
    return False


def _question_pages(handbook: Handbook, document: Any) -> dict[str, int]:
    """Question id → the 1-based page its heading is on (the number printed in the page's footer)."""
    wanted = {question_anchor(q.id): q.id for q in handbook.questions}
    pages: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor in wanted:
                pages.setdefault(wanted[anchor], number)
    return pages


def _tool_folder(stack: contextlib.ExitStack, cache_dir: Path | None, name: str) -> Path:
    """``cache_dir`` itself, or with ``--no-cache`` a temporary folder removed after the build.

    Fonts and fetched images are derived tool resources, but "no cache" means neither reading nor
    writing one: such a build derives its fonts again (about 30 s).
    """
    if cache_dir is not None:
        return cache_dir
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"handbook-{name}-")))


# --- images -------------------------------------------------------------------------------------


def _image_sources(
    handbook: Handbook, ctx: Context, stack: contextlib.ExitStack
) -> dict[Asset | RemoteImage, str | None]:
    """The URL of every image in the PDF; None (a placeholder with the link) for remote images that
    are not fetched, each reported where it is used."""
    sources: dict[Asset | RemoteImage, str | None] = {}
    remote: RemoteCache | None = None
    failures: dict[str, str] = {}
    reported: set[tuple[Source, str]] = set()
    for where, image in _located_images(handbook):
        target = image.target
        if isinstance(target, Asset):
            sources[target] = _asset_url(target)
            continue
        if target not in sources:
            if not ctx.options.fetch_remote:
                sources[target] = None
                failures[target.url] = "remote image not fetched (build with --fetch-remote to include it)"
            else:
                if remote is None:
                    folder = _tool_folder(stack, ctx.options.cache_dir, "remote")
                    remote = RemoteCache(folder=folder / "remote")
                    ctx.progress("pdf: fetching remote images")
                try:
                    sources[target] = _image_url(remote.fetch(target.url))
                except FetchError as error:
                    sources[target] = None
                    failures[target.url] = f"remote image left out ({error})"
        if target.url in failures and (where, target.url) not in reported:
            reported.add((where, target.url))
            ctx.report.warning(where.path, where.line, f"{failures[target.url]}: {target.url}")
    return sources


def _asset_url(asset: Asset) -> str:
    """A location-free ``handbook-asset:`` URL, which the worker's fetcher reads from the content folder
    (``_fetcher``). WeasyPrint names raster images in the PDF after their URL, and a chapter's cached
    layout is keyed by its HTML: neither may depend on where the content folder is."""
    return f"{ASSET_SCHEME}:{urllib.parse.quote(asset.path.as_posix())}"


def _fetcher(asset_root: str) -> Any:
    """WeasyPrint's fetcher for local files and data: URLs only (remote images were fetched, or not,
    before: nothing else may go online), which also reads ``handbook-asset:`` URLs from ``asset_root``."""
    import weasyprint

    class Fetcher(weasyprint.urls.URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(f"{ASSET_SCHEME}:"):
                path = Path(asset_root) / urllib.parse.unquote(url.removeprefix(f"{ASSET_SCHEME}:"))
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return weasyprint.urls.URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": kind})
            return super().fetch(url, headers)

    return Fetcher(allowed_protocols={"file", "data"})


def _image_url(path: Path) -> str:
    """A file URL for SVG; the bytes themselves (a data: URL) for raster images, because WeasyPrint
    names a raster image in the PDF after its URL: a path would make the PDF depend on where the
    content folder is, the bytes keep rebuilds elsewhere byte-identical."""
    if path.suffix.lower() == ".svg":
        return path.resolve().as_uri()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        data = path.read_bytes()
    except OSError:
        return path.resolve().as_uri()  # WeasyPrint reports the unreadable file as a warning
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _located_images(handbook: Handbook) -> Iterator[tuple[Source, Image]]:
    """Every image with the place that holds it (images carry no line: the question's heading)."""
    for chapter in handbook.chapters:
        yield from _chapter_images(chapter)


def _chapter_images(chapter: Chapter) -> Iterator[tuple[Source, Image]]:
    def images(body: Body) -> list[Image]:
        return [n for n in body_inlines(body) if isinstance(n, Image)]

    for image in images(chapter.intro):
        yield chapter.source, image
    for question in chapter.questions:
        for node in walk_inlines(question.title):
            if isinstance(node, Image):
                yield question.source, node
        for image in images(question.answer):
            yield question.source, image


# --- WeasyPrint's log as diagnostics -----------------------------------------------------------


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _weasyprint_diagnostics(handbook: Handbook, ctx: Context) -> Iterator[_Collector]:
    """Turn what WeasyPrint logs into diagnostics: a character without a glyph is an error (a box
    in print), anything else WeasyPrint warns about is a warning. Worker processes' records are added
    to the collector this yields."""
    logger = logging.getLogger("weasyprint")
    collector = _Collector()
    level = logger.level
    logger.addHandler(collector)
    if not logger.isEnabledFor(logging.WARNING):  # the application configured logging more quietly
        logger.setLevel(logging.WARNING)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(level)
        _report_records(collector.records, handbook, ctx)


def _report_records(records: Sequence[logging.LogRecord], handbook: Handbook, ctx: Context) -> None:
    missing: dict[str, None] = {}  # dicts as ordered sets: each character and message once
    others: dict[str, None] = {}
    for record in records:
        if str(record.msg).startswith(_NOTDEF_MESSAGE) and isinstance(record.args, tuple) and record.args:
            missing[str(record.args[0])] = None
        else:
            others[record.getMessage()] = None
    for char in missing:
        path, line = _first_use(handbook, char)
        ctx.report.error(path, line, f"no font has a glyph for {char!r} (U+{ord(char):04X}); it would print as a box")
    for message in others:
        # WeasyPrint's errors concern resources (an unreadable image): the book is still worth having.
        ctx.report.warning(OUTPUT_NAME, None, f"WeasyPrint: {message}")


def _first_use(handbook: Handbook, char: str) -> tuple[PurePosixPath | str, int | None]:
    """Where ``char`` is first written in the sources, so a missing glyph points at the text."""
    files = [PurePosixPath(CONFIG_NAME), *(c.source.path for c in handbook.chapters)]
    for rel in files:
        try:
            text = (handbook.root / rel).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if char in line:
                return rel, number
    return "templates/pdf", None  # not in the content: text the PDF frames add


def _layout_key(fonts: FontSet) -> str:
    """What a part's layout depends on besides its HTML and CSS (which name every template's output):
    the layout engine's versions, this module, the fonts' bytes, the system's text libraries and
    fallback fonts (pipeline/system.py). Not the whole pipeline: a template
    that changes only the front matter re-lays out only the front matter."""
    from importlib import metadata

    versions = [f"{name}=={metadata.version(name)}" for name in ("weasyprint", "pydyf", "pikepdf")]
    return key(*versions, Path(__file__).read_bytes(), fonts.fingerprint(), system.layout_fingerprint())


def _answer_pages(handbook: Handbook, numbers: dict[str, int]) -> dict[str, int]:
    return {q.id: numbers.get(question_anchor(q.id), 0) for q in handbook.questions}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _chapter_refs(chapter: Chapter) -> tuple[str, ...]:
    """The anchors of the questions ``chapter`` cross-references, in order, each once."""
    found: dict[str, None] = {}
    nodes = [*body_inlines(chapter.intro)]
    for question in chapter.questions:
        nodes += walk_inlines(question.title) + body_inlines(question.answer)
    for node in nodes:
        if isinstance(node, Link) and node.question_id is not None:
            found[question_anchor(node.question_id)] = None
    return tuple(found)


def _assets_key(handbook: Handbook, chapter: Chapter) -> str:
    """A key over the bytes of the local images ``chapter`` shows (its HTML names them only)."""
    paths = {handbook.root / i.target.path for _, i in _chapter_images(chapter) if isinstance(i.target, Asset)}
    return file_key(paths, handbook.root)


def _anchors(plan: _Plan, chapter_parts: Sequence[_Part]) -> dict[str, tuple[int, float, float]]:
    """Every anchor of the chapters at its page in the edition (the page-refs' stand-ins left out)."""
    found: dict[str, tuple[int, float, float]] = {}
    for start, part in zip(plan.chapters, chapter_parts, strict=True):
        for name, (index, x, y) in part.anchors.items():
            if not name.startswith(REF_PREFIX):
                found.setdefault(name, (start + index, x, y))
    return found


class _Stamper:
    """Draws each stamp page over its content page as a form XObject, without decoding or rewriting the
    page's own content: the page's /Contents becomes [opening, its streams, closing], where ``opening``
    saves the graphics state and ``closing`` restores it and draws the stamp. Both are shared by every
    page (all pages have one size). pikepdf's ``add_overlay`` would name the XObject at random (and the
    output must be reproducible) and, with ``contents_coalesce``, hold every page's decoded content."""

    def __init__(self, book: pikepdf.Pdf) -> None:
        self.book = book
        self.opening = book.make_stream(b"q\n")
        self._closing: dict[tuple[float, ...], pikepdf.Stream] = {}

    def __call__(self, page: pikepdf.Page, stamp: pikepdf.Page) -> None:
        form = stamp.as_form_xobject()
        # WeasyPrint's pages share one resource dictionary; the page gets its own (a shallow copy: fonts
        # and images stay shared objects) so that each names only its own stamp.
        shared = page.obj.get("/Resources", pikepdf.Dictionary())
        resources = pikepdf.Dictionary(dict(shared.items()))
        xobjects = pikepdf.Dictionary(dict(shared.get("/XObject", pikepdf.Dictionary()).items()))
        assert _STAMP_NAME not in xobjects
        xobjects[_STAMP_NAME] = form.with_same_owner_as(page.obj)
        resources.XObject = xobjects
        page.obj.Resources = resources
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []
        page.obj.Contents = pikepdf.Array([self.opening, *streams, self._closing_for(page, form)])

    def _closing_for(self, page: pikepdf.Page, form: pikepdf.Object) -> pikepdf.Stream:
        box = tuple(float(v) for v in page.trimbox)
        if box not in self._closing:
            placement = page.calc_form_xobject_placement(form, _STAMP_NAME, pikepdf.Rectangle(page.trimbox))
            self._closing[box] = self.book.make_stream(b"\nQ\n" + bytes(placement))
        return self._closing[box]


def _assemble(
    plan: _Plan,
    front: _Part,
    chapter_parts: Sequence[_Part],
    back: _Part | None,
    stamps: Sequence[_Part],
    identifier: str,
    destination: Path,
) -> None:
    """One PDF from the parts: pages in order with their stamps, blank pages where chapters must open on
    the right, the outline, links pointing at pages, the front matter's metadata.

    qpdf (through pikepdf) copies the parts' objects without parsing them into Python objects and draws
    each stamp page over its content page as a form XObject, leaving the content stream as it is.
    """
    book = pikepdf.Pdf.new()
    placed = [(plan.front, front), *zip(plan.chapters, chapter_parts, strict=True)]
    if back is not None:
        placed.append((plan.back, back))
    with contextlib.ExitStack() as opened:

        def open_pdf(part: _Part) -> pikepdf.Pdf:
            return opened.enter_context(pikepdf.Pdf.open(part.path))

        front_pdf = open_pdf(front)
        box = front_pdf.pages[0].mediabox
        size = (float(box[2]) - float(box[0]), float(box[3]) - float(box[1]))
        blanks = set(plan.blanks)
        overlay = _Stamper(book)
        for (start, part), stamp in zip(placed, stamps, strict=True):
            source = front_pdf if part is front else open_pdf(part)
            stamp_pdf = open_pdf(stamp)
            while len(book.pages) in blanks:
                book.add_blank_page(page_size=size)
            assert len(book.pages) == start
            for page, stamp_page in zip(source.pages, stamp_pdf.pages, strict=True):
                book.pages.append(page)
                overlay(book.pages[-1], stamp_page)

        anchors = _anchors(plan, chapter_parts)
        if back is not None:
            for name, (index, x, y) in back.anchors.items():
                anchors.setdefault(name, (plan.back + index, x, y))
        for page in book.pages:
            for annotation in page.obj.get("/Annots", ()):
                dest = annotation.get("/Dest")
                if isinstance(dest, pikepdf.String):
                    target = anchors.get(str(dest).removeprefix(REF_PREFIX))
                    if target is not None:
                        index, x, y = target
                        annotation.Dest = pikepdf.Array([book.pages[index].obj, pikepdf.Name.XYZ, x, y, 0])

        with book.open_outline() as outline:
            chapter_item: pikepdf.OutlineItem | None = None
            for start, part in zip(plan.chapters, chapter_parts, strict=True):
                for level, label, index, x, y in part.bookmarks:
                    item = pikepdf.OutlineItem(label, start + index, "XYZ", left=x, top=y, zoom=0)
                    if level == 1 or chapter_item is None:
                        outline.root.append(item)
                        chapter_item = item
                    else:
                        chapter_item.children.append(item)

        book.docinfo = book.make_indirect(pikepdf.Dictionary(dict(front_pdf.docinfo.items())))
        if "/Lang" in front_pdf.Root:
            book.Root.Lang = pikepdf.String(str(front_pdf.Root.Lang))
        # The first /ID half names the document (stable across rebuilds), the second its bytes.
        book.trailer.ID = pikepdf.Array([pikepdf.String(identifier.encode("ascii"))] * 2)
        with destination.open("wb") as out:  # not book.save(path), which writes a temporary file of its own
            book.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)

