"""For any text, the parser returns a model or raises our ContentError — nothing else."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.diagnostics import ContentError
from pipeline.parser import load_handbook

from .conftest import HANDBOOK_TOML

# Markdown-ish alphabet: the characters that drive block and inline parsing, plus CJK and odd spaces.
PIECES = st.sampled_from([
    "#", "## ", "### ", "#### ", "\n", "\n\n", " ", "  ", "\t", "$", "$$", "\\", "`", "```", "~~~", "*", "_",
    "[", "]", "(", ")", "!", "{", "}", "#id", "tags=\"a b\"", "difficulty=2", "|", "-", ":", ">", "1.",
    "---", "[^1]", "[^1]: ", "<b>", "&amp;", "中文", "？", "\u200b", "\u00a0", "\r\n", "\ufeff", "x", "../",
    "images/a.png", "http://e.org/a.png",
])
MARKDOWN = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=MARKDOWN, with_front=st.booleans(), raw=st.binary(max_size=8))
def test_parser_never_crashes(body: str, with_front: bool, raw: bytes) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        (root / "handbook.toml").write_text(HANDBOOK_TOML, encoding="utf-8")
        text = ("---\nid: a\ntitle: 甲\n---\n" if with_front else "") + body
        (root / "01-a.md").write_bytes(text.encode("utf-8", "surrogatepass") + raw)
        try:
            handbook, _ = load_handbook(root)
        except ContentError as exc:
            assert exc.diagnostics
        else:
            assert len(handbook.chapters) == 1
    finally:
        shutil.rmtree(root)
