"""What the outputs are called in the output folder.

A leaf module, so that the registry (``writers.py``) can name every output's files without loading
the renderers that write them: a build that takes every output from the cache loads none of them.
Each renderer takes its own names from here.
"""

from __future__ import annotations

HTML_DIR = "html"
PDF_NAME = "handbook.pdf"
PRACTICE_NAME = "handbook-practice.pdf"
EPUB_NAME = "handbook.epub"
DECK_FILE = "handbook.apkg"
CARDS_NAME = "handbook-cards.pdf"
