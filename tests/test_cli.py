"""The command line through click's CliRunner: exit codes, messages, the --json shape, atomic outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.context import Writer

from .conftest import FIXTURES, MakeContent

MINI = FIXTURES / "mini"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_clean_content_exits_0() -> None:
    code, _, err = run("check", "--content", str(MINI))
    assert code == 0
    assert "0 error(s), 0 warning(s)" in err


def test_check_reports_errors_and_exits_1(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "---\nid: a\ntitle: 甲\n---\n\n## 甲 {#q1}\n\n```\nunclosed\n"})
    code, _, err = run("check", "--content", str(root))
    assert code == 1
    assert "01-a.md:8: error: unclosed code fence" in err


def test_check_strict_fails_on_warnings(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "---\nid: a\ntitle: 甲\n---\n\n## 没有编号\n\n答案。\n"})
    assert run("check", "--content", str(root))[0] == 0
    code, _, err = run("check", "--content", str(root), "--strict")
    assert code == 1
    assert "warning: question has no id" in err


def test_stats_json_shape() -> None:
    code, out, _ = run("stats", "--content", str(MINI), "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"chapters", "totals"}
    chapter = data["chapters"][0]
    assert set(chapter) == {"id", "title", "questions"}
    first = chapter["questions"][0]
    assert set(first) == {"id", "title", "tags", "answer_chars", "code_blocks", "math", "tables", "images"}
    assert first["id"] == "what-is-x"
    assert first["tags"] == ["math", "basics"]
    assert (first["code_blocks"], first["math"], first["tables"], first["images"]) == (1, 2, 1, 1)
    assert data["totals"]["questions"] == 2
    assert data["totals"]["code_blocks"] == 1


def test_stats_text_lists_every_question() -> None:
    code, out, _ = run("stats", "--content", str(MINI))
    assert code == 0
    assert "what-is-x" in out and "second" in out


def test_missing_content_folder_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    code, _, err = run("build", "html", "--content", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "content folder not found" in err
    assert "Traceback" not in err


def test_build_html_writes_pages(tmp_path: Path) -> None:
    code, out, _ = run("build", "html", "--content", str(MINI), "--out", str(tmp_path), "--no-cache")
    assert code == 0, out
    assert (tmp_path / "html" / "index.xhtml").is_file()


def test_failed_build_leaves_previous_outputs_untouched(tmp_path: Path, make_content: MakeContent) -> None:
    out = tmp_path / "out"
    assert run("build", "html", "--content", str(MINI), "--out", str(out), "--no-cache")[0] == 0
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    broken = make_content({"01-a.md": "---\nid: a\ntitle: 甲\n---\n\n## 甲 {#q1}\n\n$$\nx\n"})
    code, _, err = run("build", "html", "--content", str(broken), "--out", str(out), "--no-cache")
    assert code == 1
    assert "error: unterminated $$ math" in err
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before


def test_writer_failure_mid_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "handbook.pdf"
    target.write_bytes(b"old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        Writer().write_bytes(target, b"new and partial")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handbook.pdf"]  # no temporary file left


def test_writer_refuses_to_write_a_path_twice(tmp_path: Path) -> None:
    from pipeline.diagnostics import HandbookError

    writer = Writer()
    writer.write_bytes(tmp_path / "a", b"1")
    with pytest.raises(HandbookError, match="already wrote"):
        writer.write_bytes(tmp_path / "a", b"2")


def test_each_error_is_printed_once(make_content: MakeContent, tmp_path: Path) -> None:
    root = make_content({"01-a.md": "---\nid: a\ntitle: 甲\n---\n\n## 甲 {#q1}\n\n$$\nx\n"})
    code, _, err = run("build", "html", "--content", str(root), "--out", str(tmp_path / "o"))
    assert code == 1
    assert err.count("unterminated $$ math") == 1
