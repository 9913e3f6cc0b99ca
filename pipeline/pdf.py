"""The PDF handbook and its practice edition: the shared templates laid out by WeasyPrint.

As in Pandoc's ``makePDF``, the PDF is the HTML rendering plus an engine. The frames in
``templates/pdf/`` render chapters and questions through the shared partials; ``pdf.css`` turns them into
a book (cover, contents with ``target-counter`` page numbers, running headers, bookmarks, tag index).
WeasyPrint's vocabulary stays in this module.

One build writes two files from the same source:

- ``handbook.pdf``, the full book;
- ``handbook-practice.pdf``, questions only with ruled space for answers; each question names the
  page of its answer in the full book, read from the first layout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import mimetypes
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .build import Context, Options
from .config import CONFIG_NAME
from .fonts import FontSet, ensure_fonts
from .formulas import math_hook
from .model import (
    Asset,
    Body,
    Chapter,
    Handbook,
    Image,
    Question,
    RemoteImage,
    Source,
    body_inlines,
    walk_inlines,
)
from .remote import FetchError, RemoteCache
from .render import TEMPLATES, Hooks, environment, pygments_css, question_anchor

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
    """Write ``handbook.pdf`` and ``handbook-practice.pdf``; nothing when the build found errors."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    if not _page_settings_valid(handbook, ctx):
        return []
    errors_before = len(ctx.report.errors)
    with contextlib.ExitStack() as stack:
        ctx.progress("pdf: fonts")
        fonts = ensure_fonts(_tool_folder(stack, ctx.options.cache_dir, "fonts"))
        images = _image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            question_href=lambda qid: f"#{question_anchor(qid)}",
        )
        env = environment(hooks, {"answer_lines": answer_lines})
        frame = _frame_values(handbook, ctx.options)
        base_url = handbook.root.resolve().as_uri() + "/"
        font_config = FontConfiguration()
        stylesheet = weasyprint.CSS(string=_stylesheet_text(fonts), base_url=base_url, font_config=font_config)
        # Only local files: remote images were fetched (or not) above, and nothing else may go online.
        fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"file", "data"})

        def layout(template: str, edition: str, **values: Any) -> Any:
            html = env.get_template(template).render(**frame, **values)
            ctx.progress(f"pdf: laying out the {edition}")
            document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher)
            return document.render(stylesheets=[stylesheet], font_config=font_config)

        def write(document: Any, edition: str) -> bytes:
            # A stable first /ID half per edition: the same document across rebuilds, as the PDF spec asks.
            identifier = hashlib.sha256(f"{handbook.meta.id}/{edition}".encode()).hexdigest()[:32]
            return bytes(document.write_pdf(pdf_identifier=identifier.encode("ascii")))

        with _weasyprint_diagnostics(handbook, ctx):
            ctx.progress("pdf: rendering the book's HTML")
            book = layout("pdf/book.html.j2", "book")
            answer_pages = _question_pages(handbook, book)
            ctx.progress(f"pdf: writing the book ({len(book.pages)} pages)")
            book_pdf = write(book, "book")
            ctx.progress("pdf: rendering the practice edition's HTML")
            practice = layout("pdf/practice.html.j2", "practice edition", answer_pages=answer_pages)
            ctx.progress(f"pdf: writing the practice edition ({len(practice.pages)} pages)")
            practice_pdf = write(practice, "practice")

    if len(ctx.report.errors) > errors_before:
        return []  # a PDF with missing glyphs is not a result; the previous files stay
    out = ctx.options.out_dir
    return [
        ctx.writer.write_bytes(out / OUTPUT_NAME, book_pdf),
        ctx.writer.write_bytes(out / PRACTICE_NAME, practice_pdf),
    ]


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
            sources[target] = _image_url(handbook.root / target.path)
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

    def images(body: Body) -> list[Image]:
        return [n for n in body_inlines(body) if isinstance(n, Image)]

    for chapter in handbook.chapters:
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
def _weasyprint_diagnostics(handbook: Handbook, ctx: Context) -> Iterator[None]:
    """Turn what WeasyPrint logs into diagnostics: a character without a glyph is an error (a box
    in print), anything else WeasyPrint warns about is a warning."""
    logger = logging.getLogger("weasyprint")
    collector = _Collector()
    level = logger.level
    logger.addHandler(collector)
    if not logger.isEnabledFor(logging.WARNING):  # the application configured logging more quietly
        logger.setLevel(logging.WARNING)
    try:
        yield
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
