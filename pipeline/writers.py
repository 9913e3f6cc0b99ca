"""The output registry: format name → renderer, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf, system, webfonts
from .context import Options, Renderer
from .model import Handbook
from .pages import PAGES_FILE
from .pdf import cards
from .selection import select


def _check_selection(handbook: Handbook, options: Options) -> None:
    select(handbook, options.chapters, options.tags)  # raises HandbookError for an unknown id or tag


# Outputs are made side by side (build._Schedule) and committed in this order. The PDF publishes each
# question's printed page (PAGES_FILE) as soon as it is settled: the EPUB, the deck and the cards start then.
RENDERERS: dict[str, Renderer] = {
    "html": Renderer(render=html.render, folders=(html.OUTPUT_DIR,), system_key=webfonts.system_key),
    "pdf": Renderer(
        render=pdf.render, files=(pdf.OUTPUT_NAME, pdf.PRACTICE_NAME, PAGES_FILE),
        system_key=lambda: system.layout_fingerprint(), uses_workers=True,
    ),
    # After the PDF: the page-list of the EPUB and the deck's Source field name its printed pages.
    "epub": Renderer(
        render=epub.render, reads_back=(PAGES_FILE,), files=(epub.OUTPUT_NAME,), system_key=webfonts.system_key,
        after=("html",),  # it packages the pages the HTML renderer hands over
    ),
    "anki": Renderer(
        render=anki.render, reads_back=(anki.STATE_FILE, PAGES_FILE), files=(anki.DECK_FILE, anki.STATE_FILE),
        check=_check_selection, uses_selection=True,
    ),
    "cards": Renderer(
        render=cards.render, reads_back=(PAGES_FILE,), files=(cards.CARDS_NAME,),
        check=_check_selection, uses_selection=True, uses_workers=True,
    ),
}

FORMATS = tuple(RENDERERS)
