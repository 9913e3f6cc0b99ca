"""The benchmark's baseline (not a test): the PDF book and practice edition each laid out by one
WeasyPrint process from one HTML file, the way the PDF was made before pipeline/pdf laid out chapters
in parallel. Same partials (bench/templates/book.html.j2, practice.html.j2), stylesheet, fonts, formulas.

    python bench/baseline.py CONTENT CACHE

Prints the seconds spent in WeasyPrint (layout and PDF writing) and the page counts.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import weasyprint
from weasyprint.text.fonts import FontConfiguration

from pipeline.context import Context, Options, Writer
from pipeline.diagnostics import Report
from pipeline.fonts import FontSet, ensure_fonts
from pipeline.formulas import math_hook
from pipeline.labels import labels
from pipeline.locations import TEMPLATES
from pipeline.model import Handbook
from pipeline.parser import load_handbook
from pipeline.pdf.frame import CODE_STYLE, NUMBERS_STYLESHEET, STYLESHEET, answer_lines, frame_values, page_ref_css
from pipeline.pdf.images import fetcher, image_sources
from pipeline.render import Hooks, environment, pygments_css, question_anchor

BENCH_TEMPLATES = Path(__file__).resolve().parent / "templates"


def main() -> None:
    content, cache = Path(sys.argv[1]), Path(sys.argv[2])
    handbook, _ = load_handbook(content)
    options = Options(out_dir=Path("/nonexistent"), cache_dir=cache, source_date_epoch=1_700_000_000)
    ctx = Context(options=options, report=Report(), progress=lambda message: None, writer=Writer())
    with contextlib.ExitStack() as stack:
        fonts = ensure_fonts(cache)
        images, _ = image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            question_href=lambda qid: f"#{question_anchor(qid)}",
        )
        env = environment(
            hooks, {"answer_lines": answer_lines}, language=handbook.meta.language,
            search_path=(TEMPLATES, BENCH_TEMPLATES),
        )
        frame = frame_values(handbook, options)
        base_url = handbook.root.resolve().as_uri() + "/"
        font_config = FontConfiguration()
        stylesheet = weasyprint.CSS(
            string=stylesheet_text(fonts, handbook), base_url=base_url, font_config=font_config
        )
        url_fetcher = fetcher(str(handbook.root.resolve()))

        def lay_out(template: str, **values: Any) -> Any:
            html = env.get_template(template).render(**frame, **values)
            start = time.monotonic()
            document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=url_fetcher).render(
                stylesheets=[stylesheet], font_config=font_config
            )
            document.write_pdf()
            print(f"{template}: {len(document.pages)} pages, {time.monotonic() - start:.1f} s in WeasyPrint")
            return document

        book = lay_out("book.html.j2")
        pages = {qid: number for qid, number in question_pages(handbook, book).items()}
        del book
        lay_out("practice.html.j2", answer_pages=pages)


def stylesheet_text(fonts: FontSet, handbook: Handbook) -> str:
    return "\n".join([
        fonts.css(), pygments_css(CODE_STYLE, "pre.code"), STYLESHEET.read_text(encoding="utf-8"),
        # (the boxes the parts keep for page numbers are hidden in one document: its contents and index
        # print target-counter()s; its answer keys print no number, which costs the layout nothing)
        NUMBERS_STYLESHEET.read_text(encoding="utf-8"),
        page_ref_css(labels(handbook.meta.language)),
    ])


def question_pages(handbook: Handbook, document: Any) -> dict[str, int]:
    """Question id → the 1-based page its heading is on (the number printed in the page's footer)."""
    wanted = {question_anchor(q.id): q.id for q in handbook.questions}
    pages: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor in wanted:
                pages.setdefault(wanted[anchor], number)
    return pages


if __name__ == "__main__":
    main()
