"""WeasyPrint's log across worker processes (issue 13, item 6)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.cache import Cache
from pipeline.pdf.engine import Engine, Job, lay_out
from pipeline.workers import Workers

HTML = '<html><body><p style="colour: red; margin: 3px 3px 3px 3px 3px">x</p></body></html>'
CSS = "p { bogus-property: 12px } @page { size: A5 }"


def _messages(records: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    return [logging.makeLogRecord({"msg": m, "args": args}).getMessage() for m, args in records]


def test_records_with_numbers_replay_in_the_build_process(tmp_path: Path) -> None:
    job = Job(html=HTML, css=CSS + " /* unique */", base_url=tmp_path.as_uri() + "/", identifier="0" * 32,
              asset_root=str(tmp_path))
    part = lay_out(job, str(tmp_path / "part.pdf"))
    messages = _messages(part.records)  # "%d" with a string argument raised TypeError here
    assert any("colour" in m for m in messages), messages
    assert any("bogus-property" in m for m in messages), messages  # the stylesheet's, parsed in this call


def test_stylesheet_warnings_reach_the_build_from_workers(tmp_path: Path) -> None:
    workers = Workers(2)
    engine = Engine(workers=workers, cache=Cache(None), parts=tmp_path, base_key="k", base_url=tmp_path.as_uri() + "/",
                    asset_root=str(tmp_path), part_css=CSS + " /* workers */", stamp_css="")
    try:
        parts = engine.run([engine.job(HTML.replace("x", f"part {n}"), f"{n:032d}") for n in range(3)])
    finally:
        workers.close()
    for part in parts:  # every part carries the stylesheet's warnings, whichever worker parsed it
        assert any("bogus-property" in m for m in _messages(part.records))


def test_pagination_that_has_not_settled_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one round only, the first layout's cross-reference page numbers are still unknown (item 7)."""
    from click.testing import CliRunner

    from pipeline import pdf as pdf_module
    from pipeline.cli import main
    from pipeline.fonts import ensure_fonts
    from pipeline.pdf import edition

    shared = Path(__file__).resolve().parent.parent / ".cache"
    if not (shared / "fonts").is_dir():
        pytest.skip("derived fonts are not in .cache (make setup)")
    fonts = ensure_fonts(shared)
    monkeypatch.setattr(pdf_module, "ensure_fonts", lambda folder, **options: fonts)
    monkeypatch.setattr(edition, "_MAX_ROUNDS", 1)
    content = Path(__file__).resolve().parent / "fixtures" / "mini"
    result = CliRunner().invoke(main, ["build", "pdf", "--content", str(content), "--out", str(tmp_path / "out"),
                                       "--no-cache", "--jobs", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "handbook.pdf: warning: the book's cross-reference page numbers did not settle after 1 rounds" in (
        result.output
    )
