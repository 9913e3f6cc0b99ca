"""EPUB 3 package of the XHTML pages (finished in the EPUB issue)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .build import Context
from .diagnostics import ToolError
from .model import Handbook


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    raise ToolError("epub output is not built yet (see the EPUB issue)")
