"""Golden snapshots of the model the parser builds for small inputs.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_parser_golden.py``
and review the diff like code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path, PurePath
from typing import Any

import pytest

from pipeline.parser import load_handbook

from .conftest import MakeContent

GOLDEN = Path(__file__).parent / "golden"


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {"_": type(value).__name__}
        for f in dataclasses.fields(value):
            data[f.name] = to_data(getattr(value, f.name))
        return data
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, PurePath):
        return value.as_posix()
    return value


@pytest.mark.parametrize("source", sorted(GOLDEN.glob("*.md")), ids=lambda p: p.stem)
def test_model_snapshot(source: Path, make_content: MakeContent) -> None:
    root = make_content({"01-golden.md": source.read_text(encoding="utf-8")})
    handbook, warnings = load_handbook(root)
    actual = {
        "warnings": [str(w) for w in warnings],
        "chapters": to_data(handbook.chapters),
    }
    expected_path = source.with_suffix(".json")
    if os.environ.get("UPDATE_GOLDEN") or not expected_path.exists():
        expected_path.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert actual == json.loads(expected_path.read_text(encoding="utf-8"))
