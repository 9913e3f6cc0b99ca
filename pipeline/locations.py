"""Where the package finds its own files: templates, the MathJax bridge and MathJax itself.

Every other module asks here; nothing else works out paths from ``__file__``. In a checkout (and an
editable install) templates/, node_modules/ (``npm ci``) and package-lock.json sit beside pipeline/;
a wheel carries copies of them inside the package, in ``pipeline/bundled/`` (setup.py).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
BUNDLE = PACKAGE / "bundled"
# The folder that holds templates/, node_modules/ and package-lock.json: the wheel's bundle when
# installed, else the checkout.
SOURCE_ROOT = BUNDLE if (BUNDLE / "templates").is_dir() else PACKAGE.parent
TEMPLATES = SOURCE_ROOT / "templates"
MATHJAX_SCRIPT = PACKAGE / "mathjax" / "tex.mjs"
NODE_MODULES = SOURCE_ROOT / "node_modules"
NODE_LOCK_FILE = SOURCE_ROOT / "package-lock.json"
