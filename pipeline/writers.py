"""The output registry: format name → renderer, in the order a full build runs them.

Each renderer's module is named, not imported: it loads when the renderer first runs, so a build that
takes every output from the cache loads no renderer (no template engine, no PDF or Anki library). What
a build needs before that (the files an output writes and reads back, what it takes from the machine)
comes from light modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import output_names, system, webfonts
from .anki_state import STATE_FILE
from .context import Context, Options, Render, Renderer
from .model import Handbook
from .pages import PAGES_FILE
from .selection import select


class _OnFirstUse:
    r"""The ``render`` function of a module (relative to this package), imported when it first runs or
    when the build ``load``\s it: from its main thread, before the renderers run side by side (two
    threads importing modules that import each other can find one half-initialised)."""

    def __init__(self, module: str) -> None:
        self.module = module

    def load(self) -> Render:
        renderer: Render = importlib.import_module(self.module, __package__).render
        return renderer

    def __call__(self, handbook: Handbook, ctx: Context) -> Sequence[Path]:
        return self.load()(handbook, ctx)


def _renderer(module: str, **entry: Any) -> Renderer:
    """The registry's entry for the renderer in ``module``, loaded on first use."""
    render = _OnFirstUse(module)
    return Renderer(render=render, load=render.load, **entry)


def _check_selection(handbook: Handbook, options: Options) -> None:
    select(handbook, options.chapters, options.tags)  # raises HandbookError for an unknown id or tag


# Outputs are made side by side (build._Schedule) and committed in this order. The PDF publishes each
# question's printed page (PAGES_FILE) as soon as it is settled: the EPUB, the deck and the cards start then.
RENDERERS: dict[str, Renderer] = {
    "html": _renderer(
        ".html", folders=(output_names.HTML_DIR,), system_key=webfonts.system_key
    ),
    "pdf": _renderer(
        ".pdf", files=(output_names.PDF_NAME, output_names.PRACTICE_NAME, PAGES_FILE),
        system_key=lambda: system.layout_fingerprint(), uses_workers=True,
    ),
    # After the PDF: the page-list of the EPUB and the deck's Source field name its printed pages.
    "epub": _renderer(
        ".epub", reads_back=(PAGES_FILE,), files=(output_names.EPUB_NAME,),
        system_key=webfonts.system_key,
        after=("html",),  # it packages the pages the HTML renderer hands over
    ),
    "anki": _renderer(
        ".anki", reads_back=(STATE_FILE, PAGES_FILE),
        files=(output_names.DECK_FILE, STATE_FILE), check=_check_selection, uses_selection=True,
    ),
    "cards": _renderer(
        ".pdf.cards", reads_back=(PAGES_FILE,), files=(output_names.CARDS_NAME,),
        check=_check_selection, uses_selection=True, uses_workers=True,
    ),
}

FORMATS = tuple(RENDERERS)
