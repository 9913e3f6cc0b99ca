"""The build's options and its output folder (issue 13, items 9 and 10) and remote SVGs (item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.remote import FetchError, RemoteCache

from .conftest import MakeContent

MINI = Path(__file__).resolve().parent / "fixtures" / "mini"


def test_chapter_and_tag_shape_only_the_anki_key(tmp_path: Path) -> None:
    args = ["build", "html", "--content", str(MINI), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c")]
    first = CliRunner().invoke(main, args, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, [*args, "--tag", "math"], env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert again.exit_code == 0, again.output
    assert "html: unchanged, from the cache" in again.output


def test_a_remote_svg_that_refers_outside_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>'
    remote = RemoteCache(folder=tmp_path)
    monkeypatch.setattr(RemoteCache, "_download", lambda self, url: (svg, "image/svg+xml"))
    with pytest.raises(FetchError, match="unsafe SVG"):
        remote.fetch("https://example.com/evil.svg")
    assert list(tmp_path.iterdir()) == []  # nothing kept for the next build either


def test_strict_with_only_warnings_says_so(tmp_path: Path, make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "---\nid: a\ntitle: 甲\n---\n\n## 问题\n\n答案\n"})
    result = CliRunner().invoke(main, ["build", "html", "--strict", "--no-cache", "--content", str(root), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "0 error(s)" not in result.output
    assert "1 warning(s) in the content, treated as errors (--strict)" in result.output


def test_prune_removes_temporaries_killed_builds_left(tmp_path: Path) -> None:
    import os

    from pipeline.cache import Cache

    stale = tmp_path / "pdf-parts" / "ab" / ".abcdef.x1y2z3w4.tmp"
    fresh = tmp_path / "pdf-parts" / "ab" / ".abcdef.q1w2e3r4.tmp"  # a build beside this one is writing it
    for path in (stale, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a part")
    os.utime(stale, (1, 1))
    Cache(tmp_path).prune()
    assert not stale.exists()
    assert fresh.exists()
