"""The output registry: format name → renderer, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf
from .context import Renderer

RENDERERS: dict[str, Renderer] = {
    "html": Renderer(render=html.render),
    "anki": Renderer(render=anki.render, reads_back=(anki.STATE_FILE,)),
    "pdf": Renderer(render=pdf.render),
    # After the PDF: its page-list gives the printed book's page numbers (from handbook.pdf).
    "epub": Renderer(render=epub.render, reads_back=(pdf.OUTPUT_NAME,)),
}

FORMATS = tuple(RENDERERS)
