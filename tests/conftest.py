from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus" / "wethinkin-dev"

HANDBOOK_TOML = """\
id = "test-book"
title = "测试手册"
author = "测试"
version = "0.1"

[anki]
model_id = 1000001
deck_id = 1000002
"""

MakeContent = Callable[..., Path]


@pytest.fixture
def make_content(tmp_path: Path) -> MakeContent:
    """Write a content folder: ``make_content({"01-a.md": text, ...})``; texts are dedented."""

    def make(files: dict[str, str | bytes], toml: str = HANDBOOK_TOML) -> Path:
        root = tmp_path / "content"
        root.mkdir(exist_ok=True)
        (root / "handbook.toml").write_text(toml, encoding="utf-8")
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make
