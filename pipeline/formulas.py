"""Rendering every formula of a handbook in one batch, for outputs that need real math markup.

An output asks for ``math_hook(handbook, ctx, "svg")`` (PDF) or ``"mathml"`` (HTML, EPUB) and passes the
result to the shared templates as ``Hooks.math``. Invalid TeX becomes a located warning and shows its source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Literal

from markupsafe import Markup, escape

from .context import Context
from .mathjax import Formula, MathEngine, Rendered
from .model import Handbook, Math, MathBlock, Source, walk

MathHook = Callable[[Math | MathBlock], Markup]
_RENDERED: dict[tuple[str, str, frozenset[Formula]], dict[Formula, Rendered]] = {}
_RENDERED_LOCK = threading.Lock()


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
    # The PDF and the cards ask for the same formulas in one build: the second takes the first's results
    # instead of reading a cache file per formula again (0.4 s for the corpus's 858).
    asked = (str(cache_dir), fmt, frozenset(formulas))
    with _RENDERED_LOCK:
        rendered = _RENDERED.get(asked) if cache_dir is not None else None
    if rendered is None:
        rendered = engine.render(sorted(formulas, key=lambda f: (f.tex, f.display)), fmt) if formulas else {}
        if cache_dir is not None:
            with _RENDERED_LOCK:
                if len(_RENDERED) >= 2:  # a long-lived process (serve) keeps the last ones only
                    _RENDERED.pop(next(iter(_RENDERED)))
                _RENDERED[asked] = rendered

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
