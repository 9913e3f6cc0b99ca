"""The offline bundle: every output and a README in one zip, the same bytes on every rebuild."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import dist, writers
from pipeline.build import Options
from pipeline.cli import main
from pipeline.context import Renderer
from pipeline.diagnostics import HandbookError
from pipeline.parser import load_handbook

from .test_html import FIXTURES, PROJECT, SOURCE_DATE_EPOCH

MINI = FIXTURES / "mini"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The PDF derives its CJK fonts once (slow): reuse the build's cache when there is one.
    shared = PROJECT / ".cache"
    return shared if shared.is_dir() else tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("dist")
    options = Options(out_dir=out, cache_dir=cache_dir, source_date_epoch=SOURCE_DATE_EPOCH)
    return dist.bundle(MINI, options)


def test_bundle_holds_every_output_and_a_readme(bundled: Path) -> None:
    assert bundled.name == "handbook-0.1.zip"
    with zipfile.ZipFile(bundled) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        top = {n.split("/")[1] for n in names}
        assert top == {
            "README.txt", "handbook.pdf", "handbook-practice.pdf", "handbook.epub", "handbook.apkg", "html"
        }
        assert all(n.startswith("handbook-0.1/") for n in names)
        assert "handbook-0.1/html/index.xhtml" in names
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        for name in ("handbook.pdf", "handbook.epub", "handbook.apkg"):
            assert archive.read(f"handbook-0.1/{name}") == (bundled.parent / name).read_bytes()
        assert archive.read("handbook-0.1/handbook.pdf").startswith(b"%PDF")


def test_readme_is_chinese_and_explains_the_deck_update(bundled: Path) -> None:
    with zipfile.ZipFile(bundled) as archive:
        text = archive.read("handbook-0.1/README.txt").decode("utf-8")
    for name in ("handbook.pdf", "handbook-practice.pdf", "handbook.epub", "html/index.xhtml", "handbook.apkg"):
        assert name in text
    assert "文件 → 导入" in text and "不要先删除旧的卡组" in text and "复习记录" in text


def test_readme_in_english_for_other_languages() -> None:
    handbook, _ = load_handbook(MINI)
    meta = dataclasses.replace(handbook.meta, language="en")
    text = dist.readme(meta, dist.BUNDLED)
    assert "File → Import" in text and "Do not delete the old deck" in text


def test_cli_rebuild_is_byte_identical(bundled: Path, cache_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["dist", "-q", "--content", str(MINI), "--out", str(tmp_path), "--cache", str(cache_dir)],
        env={"SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "handbook-0.1.zip")
    assert (tmp_path / "handbook-0.1.zip").read_bytes() == bundled.read_bytes()


def test_missing_output_is_an_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(writers.RENDERERS, "pdf", Renderer(render=lambda handbook, ctx: []))
    monkeypatch.setitem(writers.RENDERERS, "anki", Renderer(render=lambda handbook, ctx: []))
    with pytest.raises(HandbookError, match=r"did not write handbook\.pdf, handbook-practice\.pdf"):
        dist.bundle(MINI, Options(out_dir=tmp_path, cache_dir=None))
    result = CliRunner().invoke(main, ["dist", "-q", "--content", str(MINI), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "cannot make the bundle" in result.stderr
