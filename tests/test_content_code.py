"""Every code block of the shipped handbook runs, and prints what its comments say.

Python blocks run in a fresh interpreter, each in its own temporary folder. A ``print(...)`` whose line ends
with ``# → text`` states its output: the call must run exactly once and print exactly ``text``. Bash blocks
cannot run here (they need servers, a BMC, root), so they are only parsed with ``bash -n``.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.model import CodeBlock, body_blocks
from pipeline.parser import load_handbook

CONTENT = Path(__file__).resolve().parent.parent / "content"
TIMEOUT = 120  # seconds; the slowest block (an Optuna study) takes about ten
EXPECT = re.compile(r"#\s*→\s?(?P<text>.*)$")

# Runs the snippet as __main__ and records, for each print() it makes itself, the line and the text.
RECORDER = """
import builtins, io, json, runpy, sys

snippet, record = sys.argv[1], sys.argv[2]
printed = []
real_print = builtins.print


def recording_print(*args, **kwargs):
    frame = sys._getframe(1)
    if frame.f_code.co_filename == snippet and kwargs.get("file") is None:
        text = io.StringIO()
        real_print(*args, **{**kwargs, "file": text})
        printed.append([frame.f_lineno, text.getvalue()])
    real_print(*args, **kwargs)


builtins.print = recording_print
try:
    runpy.run_path(snippet, run_name="__main__")
finally:
    with open(record, "w", encoding="utf-8") as out:
        json.dump(printed, out, ensure_ascii=False)
"""


@dataclass(frozen=True)
class Snippet:
    question_id: str
    index: int  # 1-based among the question's code blocks
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.question_id}-{self.index}-{self.language}"


def _snippets() -> list[Snippet]:
    handbook, _ = load_handbook(CONTENT)
    found: list[Snippet] = []
    for question in handbook.questions:
        blocks = [b for b in body_blocks(question.answer) if isinstance(b, CodeBlock)]
        found.extend(Snippet(question.id, i, b.language, b.code) for i, b in enumerate(blocks, start=1))
    return found


SNIPPETS = _snippets()
PYTHON = [s for s in SNIPPETS if s.language == "python"]
BASH = [s for s in SNIPPETS if s.language in ("bash", "sh", "shell")]


@dataclass(frozen=True)
class Expectation:
    first_line: int
    last_line: int
    text: str


def expectations(code: str) -> list[Expectation]:
    """The ``# → text`` comments of ``code``, each tied to the print() statement it ends.

    :raises AssertionError: when such a comment stands anywhere but on a line of a print() statement.
    """
    comments = {
        tok.start[0]: match["text"].rstrip()
        for tok in tokenize.generate_tokens(io.StringIO(code).readline)
        if tok.type == tokenize.COMMENT and (match := EXPECT.search(tok.string))
    }
    found: list[Expectation] = []
    for node in ast.walk(ast.parse(code)):
        if not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "print"
        ):
            continue
        last = node.end_lineno or node.lineno
        lines = [n for n in range(node.lineno, last + 1) if n in comments]
        if lines:
            assert len(lines) == 1, f"line {node.lineno}: one '# →' per print()"
            found.append(Expectation(node.lineno, last, comments.pop(lines[0])))
    assert not comments, f"'# →' not on a print() statement, lines {sorted(comments)}"
    return found


def test_the_handbook_has_snippets() -> None:
    assert len(PYTHON) >= 10
    assert len(BASH) >= 3
    assert sum(len(expectations(s.code)) for s in PYTHON) >= 20


@pytest.mark.parametrize("snippet", PYTHON, ids=lambda s: s.name)
def test_python_snippet_runs_as_documented(snippet: Snippet, tmp_path: Path) -> None:
    expected = expectations(snippet.code)
    source = tmp_path / "snippet.py"
    source.write_text(snippet.code, encoding="utf-8")
    record = tmp_path / "printed.json"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [sys.executable, "-c", RECORDER, str(source), str(record)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, f"{snippet.name} exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    printed: list[tuple[int, str]] = [(line, text) for line, text in json.loads(record.read_text("utf-8"))]
    for want in expected:
        got = [text for line, text in printed if want.first_line <= line <= want.last_line]
        assert len(got) == 1, f"{snippet.name} line {want.first_line}: printed {len(got)} times, expected once"
        assert got[0].rstrip("\n") == want.text, f"{snippet.name} line {want.first_line}"


@pytest.mark.parametrize("snippet", BASH, ids=lambda s: s.name)
def test_bash_snippet_parses(snippet: Snippet) -> None:
    run = subprocess.run(
        ["bash", "-n"], input=snippet.code, capture_output=True, encoding="utf-8", timeout=30, check=False
    )
    assert run.returncode == 0, f"{snippet.name}: {run.stderr}"
