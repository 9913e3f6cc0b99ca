"""Anki deck (finished in the Anki issue)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .build import Context
from .diagnostics import ToolError
from .model import Handbook


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    raise ToolError("anki output is not built yet (see the Anki issue)")
