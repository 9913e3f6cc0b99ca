"""A normal install: the wheel, in a fresh virtual environment, renders every output from any folder,
with the templates and MathJax it carries (setup.py, pipeline/locations.py).

To stay fast (~25 s, not ~70 s) the wheel is built without an isolated build environment and the
fresh environment borrows the dependencies from this one through a .pth file: the handbook package
itself is the wheel's (a .pth adds a folder to the path but runs none of its .pth files, so this
environment's editable install stays out)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_the_installed_wheel_builds_everything_from_another_folder(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(REPO)],
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools' scratch folder
    (wheel,) = (tmp_path / "dist").glob("handbook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pipeline/bundled/templates/pdf/pdf.css" in names
    assert "pipeline/bundled/node_modules/mathjax-full/js/mathjax.js" in names
    assert "pipeline/mathjax/tex.mjs" in names
    assert not [name for name in names if name.startswith(("tests/", "content/", "templates/"))]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    purelib = Path(subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())  # fmt: skip
    (purelib / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    content = tmp_path / "somewhere"
    shutil.copytree(REPO / "content", content)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    process = subprocess.run(
        [venv / "bin" / "handbook", "build", "all", "--content", str(content), "--out", str(tmp_path / "out"), "-q"],
        cwd=elsewhere, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    for name in ("handbook.pdf", "handbook-practice.pdf", "handbook.epub", "handbook.apkg", "html/index.xhtml"):
        assert (tmp_path / "out" / name).is_file(), name
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "from pipeline import locations; print(locations.TEMPLATES)"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where == str(purelib / "pipeline" / "bundled" / "templates")
