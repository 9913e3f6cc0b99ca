"""The PDF handbook: the shared templates laid out by WeasyPrint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup, escape

from .build import Context
from .model import Asset, Handbook, Math, MathBlock, RemoteImage
from .render import Hooks, environment, question_anchor

OUTPUT_NAME = "handbook.pdf"


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    import weasyprint

    def image_src(target: Asset | RemoteImage) -> str | None:
        return None if isinstance(target, RemoteImage) else (handbook.root / target.path).as_uri()

    def math(node: Math | MathBlock) -> Markup:
        return Markup('<code class="tex">{}</code>').format(escape(node.tex))

    env = environment(Hooks(math=math, image_src=image_src, question_href=lambda q: f"#{question_anchor(q)}"))
    html = env.get_template("pdf/book.html.j2").render(handbook=handbook)
    ctx.progress("pdf: layout")
    data = weasyprint.HTML(string=html, base_url=str(handbook.root)).write_pdf()
    return [ctx.writer.write_bytes(ctx.options.out_dir / OUTPUT_NAME, data)]
