"""The output registry: format name → render function, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf
from .build import Renderer

RENDERERS: dict[str, Renderer] = {
    "html": html.render,
    "epub": epub.render,
    "anki": anki.render,
    "pdf": pdf.render,
}

FORMATS = tuple(RENDERERS)
