"""Rendering every formula of a handbook in one batch, for outputs that need real math markup.

An output asks for ``math_hook(handbook, ctx, "svg")`` (PDF) or ``"mathml"`` (HTML, EPUB) and passes the
result to the shared templates as ``Hooks.math``. Invalid TeX becomes a located warning and shows its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Literal

from markupsafe import Markup, escape

from .context import Context
from .mathjax import Formula, MathEngine
from .model import Body, Handbook, Math, MathBlock, block_inlines, body_blocks, walk_inlines

MathHook = Callable[[Math | MathBlock], Markup]


def located_math(handbook: Handbook) -> Iterator[tuple[PurePosixPath, Math | MathBlock]]:
    """Every formula with the file it was written in, in document order."""

    def in_body(body: Body) -> Iterator[Math | MathBlock]:
        for block in body_blocks(body):
            if isinstance(block, MathBlock):
                yield block
            yield from (n for n in block_inlines(block) if isinstance(n, Math))

    for chapter in handbook.chapters:
        path = chapter.source.path
        for node in in_body(chapter.intro):
            yield path, node
        for question in chapter.questions:
            for inline in walk_inlines(question.title):
                if isinstance(inline, Math):
                    yield path, inline
            for node in in_body(question.answer):
                yield path, node


def is_display(node: Math | MathBlock) -> bool:
    return isinstance(node, MathBlock) or node.display


def math_hook(handbook: Handbook, ctx: Context, fmt: Literal["svg", "mathml"]) -> MathHook:
    """Render all formulas of ``handbook`` (through the cache) and return the template hook."""
    located = list(located_math(handbook))
    formulas = {Formula(tex=node.tex, display=is_display(node)) for _, node in located}
    cache_dir = ctx.options.cache_dir
    engine = MathEngine(cache_dir=cache_dir)
    ctx.progress(f"math: {len(formulas)} formulas ({fmt})")
    rendered = engine.render(sorted(formulas, key=lambda f: (f.tex, f.display)), fmt) if formulas else {}

    reported: set[tuple[PurePosixPath, int, str]] = set()
    for path, node in located:
        result = rendered[Formula(tex=node.tex, display=is_display(node))]
        key = (path, node.line, node.tex)
        if result.error is not None and key not in reported:
            reported.add(key)
            ctx.report.warning(path, node.line or None, f"invalid formula {node.tex!r}: {result.error}")

    def hook(node: Math | MathBlock) -> Markup:
        result = rendered[Formula(tex=node.tex, display=is_display(node))]
        if result.error is not None:
            return Markup('<code class="math-error" title="{}">{}</code>').format(
                escape(result.error), escape(node.tex)
            )
        return Markup(result.markup)

    return hook
