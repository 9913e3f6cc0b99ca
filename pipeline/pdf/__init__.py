"""The PDF handbook and its practice edition: the shared templates laid out by WeasyPrint.

As in Pandoc's ``makePDF``, the PDF is the HTML rendering plus an engine. The frames in
``templates/pdf/`` render chapters and questions through the shared partials; ``pdf.css`` turns them into
a book (cover, contents, running headers, bookmarks, tag index). WeasyPrint's vocabulary stays in this
package (and pikepdf's, which assembles the parts).

One build writes two files from the same source:

- ``handbook.pdf``, the full book;
- ``handbook-practice.pdf``, questions only with ruled space for answers; each question names the
  page of its answer in the full book.

Each edition is laid out in parts (every chapter, the front matter, the tag index) by worker processes
and through the cache, then assembled; docs/performance.md explains how and what it gains. The modules:
``frame`` (what the editions show around the chapters), ``images``, ``engine`` (layout in workers, the
part cache), ``edition`` (page numbers and stamps), ``plan``, ``assembly`` (pikepdf), ``weasylog``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from pathlib import Path

from .. import system
from ..cache import Cache
from ..context import Context
from ..fonts import ensure_fonts
from ..formulas import math_hook
from ..labels import labels
from ..locations import TEMPLATES
from ..model import Handbook
from ..pages import PAGES_FILE, dumps_pages
from ..render import Hooks, environment, pygments_css, question_anchor
from .edition import Edition, answer_pages
from .engine import Engine, layout_key
from .frame import (
    CODE_STYLE,
    NUMBERS_STYLESHEET,
    OUTPUT_NAME,
    PRACTICE_NAME,
    STYLESHEET,
    answer_lines,
    frame_values,
    page_ref_css,
    page_settings_valid,
    parts_folder,
    tool_folder,
)
from .images import image_sources
from .plan import REF_PREFIX
from .weasylog import weasyprint_diagnostics

__all__ = ["OUTPUT_NAME", "PRACTICE_NAME", "render"]

STAMP_STYLESHEET = TEMPLATES / "pdf" / "stamps.css"
# A part draws no margin boxes: the stamps bring them, with page numbers only the assembly knows.
_HIDE_MARGINS = "@page { @top-left { content: none; } @top-right { content: none; } @bottom-center { content: none; } }"


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write ``handbook.pdf`` and ``handbook-practice.pdf``; nothing when the build found errors.

    WeasyPrint lays out on one core, so each edition is cut into parts laid out on their own, in
    ``ctx.options.jobs`` worker processes and through the cache: every chapter, then the front matter
    (cover, contents) and the tag index once every chapter's page count is known. A chapter's layout
    does not depend on where it starts: it opens on a right-hand page and left and right pages differ
    only in their running heads, which are stamped on with the page numbers when pikepdf assembles the
    parts; the assembly also writes the outline and points every link at its final page.
    """
    if not page_settings_valid(handbook, ctx):
        return []
    errors_before = len(ctx.report.errors)
    system.require("pdf")  # before WeasyPrint loads: a missing library is one line naming its package
    with contextlib.ExitStack() as stack:
        ctx.progress("pdf: fonts")
        fonts = ensure_fonts(tool_folder(stack, ctx.options.cache_dir, "fonts"), progress=ctx.progress)
        images, image_folders = image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            # Every cross-reference reads its page number from the part's page-refs (see Edition).
            question_href=lambda qid: f"#{REF_PREFIX}{question_anchor(qid)}",
        )
        env = environment(hooks, {"answer_lines": answer_lines}, language=handbook.meta.language)
        words = labels(handbook.meta.language)
        frame = frame_values(handbook, ctx.options)
        base_url = handbook.root.resolve().as_uri() + "/"
        font_css = fonts.css()
        out = ctx.options.out_dir
        staged = [ctx.writer.stage(out / OUTPUT_NAME), ctx.writer.stage(out / PRACTICE_NAME)]
        for output in staged:
            stack.callback(output.discard)  # the previous files stay unless both editions are made
        engine = Engine(
            workers=ctx.workers,
            cache=Cache(ctx.options.cache_dir),
            parts=parts_folder(stack, ctx.options.cache_dir),
            base_key=layout_key(fonts),
            base_url=base_url,
            asset_root=str(handbook.root.resolve()),
            # What file: URLs may read besides the content folder (pipeline/resources.py): the fonts,
            # the fetched remote images, the package's templates.
            file_roots=tuple(
                dict.fromkeys(str(p) for p in (TEMPLATES, *(f.path.parent for f in fonts.faces), *image_folders))
            ),
            part_css="\n".join(
                [
                    font_css,
                    pygments_css(CODE_STYLE, "pre.code"),
                    STYLESHEET.read_text(encoding="utf-8"),
                    NUMBERS_STYLESHEET.read_text(encoding="utf-8"),
                    _HIDE_MARGINS,
                    page_ref_css(words),
                ]
            ),
            stamp_css="\n".join(
                [font_css, STAMP_STYLESHEET.read_text(encoding="utf-8"), NUMBERS_STYLESHEET.read_text(encoding="utf-8")]
            ),
        )
        with weasyprint_diagnostics(handbook, ctx) as records:
            edition = functools.partial(
                Edition, handbook=handbook, env=env, hooks=hooks, frame=frame, engine=engine, ctx=ctx, records=records
            )
            book = edition(name="book", title="", destination=staged[0].temporary)
            practice = edition(
                name="practice", title=words["practice_edition"], destination=staged[1].temporary, run_on=True
            )

            def publish(numbers: dict[str, int]) -> None:
                # The EPUB, the deck and the cards name these pages: they start now, not after the assembly.
                ctx.publish(PAGES_FILE, dumps_pages(handbook, answer_pages(handbook, numbers)).encode("utf-8"))

            with_index = bool(frame["tag_index"])
            # Every part of both editions is laid out from the start; the practice edition's one long
            # part first, so that no worker is left alone with it at the end.
            practice.start(with_index=False)
            book.start(with_index=with_index)
            book_numbers = book.settle(with_index=with_index, right_hand=True)
            publish(book_numbers)
            book.start_stamps()
            practice.settle(with_index=False, right_hand=False)
            practice.start_stamps(answers=book_numbers)
            book.finish()
            practice.finish()
            book_pages = answer_pages(handbook, book_numbers)

        # What WeasyPrint logged is reported once its block ends: a missing glyph is an error.
        if len(ctx.report.errors) > errors_before:
            return []  # a PDF with missing glyphs is not a result; the previous files stay
        written = [output.commit() for output in staged]
        return [*written, ctx.writer.write_text(out / PAGES_FILE, dumps_pages(handbook, book_pages))]

