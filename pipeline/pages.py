"""The printed page of every question, as the PDF build found it: written next to the PDF so that the
outputs made after it (the Anki deck's Source field, the printable cards' "全文见第 N 页") can name it.

A question the file does not know (no PDF built yet, or a question added since) simply has no page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .model import Handbook

PAGES_FILE = "handbook-pages.json"
_FORMAT = 1


def dumps_pages(handbook: Handbook, pages: Mapping[str, int]) -> str:
    """The file's text: the handbook id and each question's page, in question id order."""
    data = {
        "format": _FORMAT,
        "handbook": handbook.meta.id,
        "pages": {qid: page for qid, page in sorted(pages.items()) if page > 0},
    }
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def read_pages(recorded: bytes | None, handbook: Handbook) -> dict[str, int]:
    """Each question's printed page as the PDF build recorded it (``Context.read(PAGES_FILE)``: this
    build's, else the last one's); {} when unknown or unreadable."""
    try:
        data = json.loads((recorded or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("handbook") != handbook.meta.id:
        return {}
    pages = data.get("pages")
    if not isinstance(pages, dict):
        return {}
    known = {q.id for q in handbook.questions}
    return {
        str(qid): page for qid, page in pages.items()
        if qid in known and isinstance(page, int) and not isinstance(page, bool) and page > 0
    }
