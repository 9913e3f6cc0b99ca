"""The output registry: format name → renderer, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf
from .context import Renderer

RENDERERS: dict[str, Renderer] = {
    "html": Renderer(render=html.render),
    "epub": Renderer(render=epub.render),
    "anki": Renderer(render=anki.render, reads_back=(anki.STATE_FILE,)),
    "pdf": Renderer(render=pdf.render),
}

FORMATS = tuple(RENDERERS)
