"""The wheel carries what the package reads at run time from outside pipeline/ in a checkout:
templates/ and MathJax (node_modules/, installed from package-lock.json), copied into
pipeline/bundled/, where pipeline/locations.py looks first. Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
NODE_FILES = ("package.json", "package-lock.json")
# tex.mjs loads mathjax-full's CommonJS build (js/); its other builds and sources are 34 MB more.
UNUSED_MATHJAX = {"es5", "ts", "components"}


def unused(folder: str, names: list[str]) -> set[str]:
    """shutil.copytree's ignore: mathjax-full's builds other than js/, npm's own record."""
    if Path(folder).name == "mathjax-full":
        return UNUSED_MATHJAX.intersection(names)
    return {".package-lock.json"}.intersection(names)


class BuildWithBundle(build_py):
    """build_py, plus pipeline/bundled/ in a wheel (an editable install reads the checkout itself)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        bundle = Path(self.build_lib) / "pipeline" / "bundled"
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(ROOT / "templates", bundle / "templates")
        for name in NODE_FILES:
            shutil.copy2(ROOT / name, bundle / name)
        node_modules = ROOT / "node_modules"
        if (node_modules / "mathjax-full" / "package.json").is_file():  # `make setup` ran `npm ci`
            shutil.copytree(node_modules, bundle / "node_modules", ignore=unused)
            return
        with tempfile.TemporaryDirectory() as scratch:
            for name in NODE_FILES:
                shutil.copy2(ROOT / name, Path(scratch) / name)
            # npm of the Node.js wheel (a build requirement), through the module that finds it.
            npm = [sys.executable, "-m", "pipeline.system", "npm", "ci", "--no-audit", "--no-fund",
                   "--loglevel=error", "--prefix", scratch]  # fmt: skip
            subprocess.run(npm, cwd=ROOT, check=True)
            shutil.copytree(Path(scratch) / "node_modules", bundle / "node_modules", ignore=unused)


setup(cmdclass={"build_py": BuildWithBundle})
