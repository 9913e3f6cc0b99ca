"""The benchmark's baseline (not a test): the PDF book and practice edition each laid out by one
WeasyPrint process from one HTML file, the way pipeline/pdf.py worked before it laid out chapters in
parallel. Same templates (pdf/book.html.j2, pdf/practice.html.j2), stylesheet, fonts and formulas.

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

from pipeline import pdf
from pipeline.build import Context, Options, Writer
from pipeline.diagnostics import Report
from pipeline.fonts import ensure_fonts
from pipeline.formulas import math_hook
from pipeline.parser import load_handbook
from pipeline.render import Hooks, environment, question_anchor


def main() -> None:
    content, cache = Path(sys.argv[1]), Path(sys.argv[2])
    handbook, _ = load_handbook(content)
    options = Options(out_dir=Path("/nonexistent"), cache_dir=cache, source_date_epoch=1_700_000_000)
    ctx = Context(options=options, report=Report(), progress=lambda message: None, writer=Writer())
    with contextlib.ExitStack() as stack:
        fonts = ensure_fonts(cache)
        images = pdf._image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            question_href=lambda qid: f"#{question_anchor(qid)}",
        )
        env = environment(hooks, {"answer_lines": pdf.answer_lines})
        frame = {**pdf._frame_values(handbook, options), "index_title": pdf.INDEX_TITLE}
        base_url = handbook.root.resolve().as_uri() + "/"
        font_config = FontConfiguration()
        stylesheet = weasyprint.CSS(string=pdf._stylesheet_text(fonts), base_url=base_url, font_config=font_config)
        fetcher = pdf._fetcher(str(handbook.root.resolve()))

        def lay_out(template: str, **values: Any) -> Any:
            html = env.get_template(template).render(**frame, **values)
            start = time.monotonic()
            document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
                stylesheets=[stylesheet], font_config=font_config
            )
            document.write_pdf()
            print(f"{template}: {len(document.pages)} pages, {time.monotonic() - start:.1f} s in WeasyPrint")
            return document

        book = lay_out("pdf/book.html.j2")
        pages = {qid: number for qid, number in pdf._question_pages(handbook, book).items()}
        del book
        lay_out("pdf/practice.html.j2", answer_pages=pages)


if __name__ == "__main__":
    main()
