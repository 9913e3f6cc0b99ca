"""``handbook check``: the whole validation a build does, without writing anything.

Reading (pipeline/parser) finds everything about the text, the settings and the files it names (images
that do not decode or refer outside, control characters, nesting); the formulas are checked by the
engine that renders them (MathJax, through the formula cache), so that ``check`` passes exactly what
``build`` accepts.
"""

from __future__ import annotations

from pathlib import Path

from .context import Context, Options, Writer
from .diagnostics import ContentError, Diagnostic, Report
from .formulas import math_hook
from .mathjax import MathEngineError
from .parser import load_handbook


def validate(content: Path, *, cache_dir: Path | None) -> tuple[Diagnostic, ...]:
    """Every diagnostic for a content folder, errors included (never raises ContentError).

    :param cache_dir: where rendered formulas are cached (the build's cache); None renders every
        formula again.
    :raises MathEngineError: when the formula engine (Node, MathJax) cannot run: exit code 2, as a build.
    """
    try:
        handbook, warnings = load_handbook(content)
    except ContentError as exc:
        return exc.diagnostics
    report = Report()
    report.extend(warnings)
    context = Context(
        options=Options(out_dir=content, cache_dir=cache_dir), report=report, progress=lambda message: None,
        writer=Writer(),  # never used: nothing is written
    )
    math_hook(handbook, context, "mathml")  # reports each invalid formula where it is written
    return report.items


__all__ = ["MathEngineError", "validate"]
