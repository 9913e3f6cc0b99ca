"""Rendering every formula of a handbook in one batch, for outputs that need real math markup.

An output asks for ``math_hook(handbook, ctx, "svg")`` (PDF) or ``"mathml"`` (HTML, EPUB) and passes the
result to the shared templates as ``Hooks.math``. Invalid TeX becomes a located warning and shows its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from markupsafe import Markup, escape

from .context import Context
from .mathjax import Formula, MathEngine
from .model import Handbook, Math, MathBlock, Source, walk

MathHook = Callable[[Math | MathBlock], Markup]


def located_math(handbook: Handbook) -> Iterator[tuple[Source, Math | MathBlock]]:
    """Every formula with the place it was written, in document order."""
    for node, place in walk(handbook):
        if isinstance(node, Math | MathBlock):
            yield place.source, node


def is_display(node: Math | MathBlock) -> bool:
    return isinstance(node, MathBlock) or node.display


def math_hook(handbook: Handbook, ctx: Context, fmt: Literal["svg", "mathml"]) -> MathHook:
    """Render all formulas of ``handbook`` (through the cache) and return the template hook."""
    located = list(located_math(handbook))
    formulas = {Formula(tex=node.tex, display=is_display(node)) for _, node in located}
    cache_dir = ctx.options.cache_dir
    engine = MathEngine(cache_dir=cache_dir, jobs=ctx.options.jobs)
    ctx.progress(f"math: {len(formulas)} formulas ({fmt})")
    rendered = engine.render(sorted(formulas, key=lambda f: (f.tex, f.display)), fmt) if formulas else {}

    for source, node in located:
        result = rendered[Formula(tex=node.tex, display=is_display(node))]
        if result.error is not None:
            line = node.line or None
            ctx.report.warning(source.path, line, f"invalid formula {node.tex!r}: {result.error}")

    def hook(node: Math | MathBlock) -> Markup:
        result = rendered[Formula(tex=node.tex, display=is_display(node))]
        if result.error is not None:
            return Markup('<code class="math-error" title="{}">{}</code>').format(
                escape(result.error), escape(node.tex)
            )
        return Markup(result.markup)

    return hook
