"""The output registry: format name → renderer, in the order a full build runs them."""

from __future__ import annotations

from . import anki, epub, html, pdf
from .context import Options, Renderer
from .model import Handbook


def _anki_selection(handbook: Handbook, options: Options) -> None:
    anki.select(handbook, options.chapters, options.tags)  # raises HandbookError for an unknown id or tag


RENDERERS: dict[str, Renderer] = {
    "html": Renderer(render=html.render, folders=(html.OUTPUT_DIR,)),
    "epub": Renderer(render=epub.render, files=(epub.OUTPUT_NAME,)),
    "anki": Renderer(
        render=anki.render, reads_back=(anki.STATE_FILE,), files=(anki.DECK_FILE, anki.STATE_FILE),
        check=_anki_selection, uses_selection=True,
    ),
    "pdf": Renderer(render=pdf.render, files=(pdf.OUTPUT_NAME, pdf.PRACTICE_NAME)),
}

FORMATS = tuple(RENDERERS)
