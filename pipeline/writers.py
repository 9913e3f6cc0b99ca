"""The output registry: format name → renderer, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf, system, webfonts
from .context import Renderer
from .pages import PAGES_FILE
from .pdf import cards

# The PDF runs before the EPUB, the deck and the cards: it records each question's printed page (PAGES_FILE).
RENDERERS: dict[str, Renderer] = {
    "html": Renderer(render=html.render, system_key=webfonts.system_key),
    "pdf": Renderer(render=pdf.render, system_key=lambda: system.layout_fingerprint()),
    # After the PDF: the page-list of the EPUB and the deck's Source field name its printed pages.
    "epub": Renderer(render=epub.render, reads_back=(PAGES_FILE,), system_key=webfonts.system_key),
    "anki": Renderer(render=anki.render, reads_back=(anki.STATE_FILE, PAGES_FILE)),
    "cards": Renderer(render=cards.render, reads_back=(PAGES_FILE,)),
}

FORMATS = tuple(RENDERERS)
