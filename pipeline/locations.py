"""Where the package finds its own files: templates, the MathJax bridge and MathJax itself.

Every other module asks here; nothing else works out paths from ``__file__``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# A source checkout: templates/, node_modules/ (npm ci) and package-lock.json beside pipeline/.
SOURCE_ROOT = PACKAGE.parent
TEMPLATES = SOURCE_ROOT / "templates"
MATHJAX_SCRIPT = PACKAGE / "mathjax" / "tex.mjs"
NODE_MODULES = SOURCE_ROOT / "node_modules"
NODE_LOCK_FILE = SOURCE_ROOT / "package-lock.json"
