"""Importers: converters from other people's Markdown dialects into our content format.

Each importer is one module with one entry point that reads a source folder and writes a content
folder that ``handbook check`` accepts. The main parser never learns about any of these dialects.
"""

from __future__ import annotations

from .wethinkin import ImportSummary, import_wethinkin

__all__ = ["ImportSummary", "import_wethinkin"]
