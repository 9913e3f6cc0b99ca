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

from . import output_names, system, webfonts
from .anki_state import STATE_FILE
from .context import Context, Options, Render, Renderer
from .model import Handbook
from .pages import PAGES_FILE
from .selection import select


def _on_first_use(module: str) -> Render:
    """The ``render`` function of ``module`` (relative to this package), imported when it first runs."""

    def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
        renderer: Render = importlib.import_module(module, __package__).render
        return renderer(handbook, ctx)

    return render


def _check_selection(handbook: Handbook, options: Options) -> None:
    select(handbook, options.chapters, options.tags)  # raises HandbookError for an unknown id or tag


# The PDF runs before the EPUB, the deck and the cards: it records each question's printed page (PAGES_FILE).
RENDERERS: dict[str, Renderer] = {
    "html": Renderer(
        render=_on_first_use(".html"), folders=(output_names.HTML_DIR,), system_key=webfonts.system_key
    ),
    "pdf": Renderer(
        render=_on_first_use(".pdf"), files=(output_names.PDF_NAME, output_names.PRACTICE_NAME, PAGES_FILE),
        system_key=lambda: system.layout_fingerprint(),
    ),
    # After the PDF: the page-list of the EPUB and the deck's Source field name its printed pages.
    "epub": Renderer(
        render=_on_first_use(".epub"), reads_back=(PAGES_FILE,), files=(output_names.EPUB_NAME,),
        system_key=webfonts.system_key,
    ),
    "anki": Renderer(
        render=_on_first_use(".anki"), reads_back=(STATE_FILE, PAGES_FILE),
        files=(output_names.DECK_FILE, STATE_FILE), check=_check_selection, uses_selection=True,
    ),
    "cards": Renderer(
        render=_on_first_use(".pdf.cards"), reads_back=(PAGES_FILE,), files=(output_names.CARDS_NAME,),
        check=_check_selection, uses_selection=True,
    ),
}

FORMATS = tuple(RENDERERS)
