"""Where each outline entry of a finished PDF starts: what the EPUB's page-list needs.

The handbook prints page numbers that are the pages' own (page 1 is the cover), so an outline
entry's printed page is its destination's index plus one. pikepdf's vocabulary stays in this package.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf


def outline_pages(path: Path) -> dict[str, int]:
    """Every outline entry's title → its page number; empty when the file is missing or unreadable."""
    found: dict[str, int] = {}
    try:
        with pikepdf.open(path) as pdf:
            index: dict[tuple[int, int], int] = {
                page.obj.objgen: number for number, page in enumerate(pdf.pages, start=1)
            }
            with pdf.open_outline() as outline:
                stack = list(outline.root)
                while stack:
                    item = stack.pop()
                    stack.extend(item.children)
                    destination = item.destination
                    if isinstance(destination, pikepdf.Array) and len(destination) > 0:
                        page = index.get(destination[0].objgen)
                        if page is not None:
                            found.setdefault(str(item.title), page)
    except (OSError, pikepdf.PdfError):
        return {}
    return found
