"""Text no output can hold and nesting no reader follows (issue 13, items 3 and 4)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree

from click.testing import CliRunner

from pipeline.cli import main

from .conftest import HANDBOOK_TOML, MakeContent

CONTROL = """\
---
id: a
title: "甲\\x01"
---

## 问题\x1b一 {#q1 tags="t"}

文本\x01带\x0b控制\x0c字符 &#12; 和 ``代码\x1b``。

```python
print(1)\x01
```

[链接&#12;](https://example.com/&#12; "t&#12;")
"""


def _xhtml_files(out: Path) -> list[tuple[str, bytes]]:
    found = [(str(p), p.read_bytes()) for p in (out / "html").rglob("*.xhtml")]
    with zipfile.ZipFile(out / "handbook.epub") as epub:
        found += [(n, epub.read(n)) for n in epub.namelist() if n.endswith((".xhtml", ".opf", ".ncx"))]
    return found


def test_control_characters_are_reported_and_removed(make_content: MakeContent, tmp_path: Path) -> None:
    toml = HANDBOOK_TOML.replace('title = "测试手册"', 'title = "测试\\u0000手册"')
    root = make_content({"01-a.md": CONTROL}, toml=toml)
    check = CliRunner().invoke(main, ["check", "--content", str(root)])
    assert check.exit_code == 0, check.output
    for located in ("handbook.toml: warning: control character U+0000 removed from 'title'",
                    "01-a.md:1: warning: control character U+0001 removed from 'title'",
                    "01-a.md:6: warning: control character U+001B",
                    "01-a.md:8: warning: control character U+0001, U+000B, U+000C, U+001B",
                    "01-a.md:8: warning: control character U+000C removed",  # from &#12;
                    "01-a.md:11: warning: control character U+0001",
                    "01-a.md:14: warning: control character U+000C removed"):
        assert located in check.output, located
    out = tmp_path / "out"
    build = CliRunner().invoke(main, ["build", "html", "epub", "anki", "--content", str(root), "--out", str(out),
                                      "--no-cache", "-q"])
    assert build.exit_code == 0, build.output
    assert "Traceback" not in build.output
    for name, data in _xhtml_files(out):
        ElementTree.fromstring(data)  # well-formed, or this raises
        for char in "\x00\x01\x0b\x0c\x1b":
            assert char.encode() not in data, (name, char)
    with zipfile.ZipFile(out / "handbook.apkg") as deck:
        for name in deck.namelist():
            assert b"\x0c" not in deck.read(name) or name.startswith("collection")


def test_nesting_beyond_the_limit_is_a_located_error(make_content: MakeContent) -> None:
    deep = "*a " * 300 + "x" + " a*" * 300
    root = make_content({"01-a.md": f"---\nid: a\ntitle: 甲\n---\n\n## 问题 {{#q1}}\n\n{deep}\n"})
    for command in (["check"], ["stats"], ["build", "html", "--no-cache", "--out", str(root.parent / "out")]):
        result = CliRunner().invoke(main, [*command, "--content", str(root)])
        assert result.exit_code == 1, result.output
        assert "01-a.md:8: error: Markdown nested" in result.output
        assert not isinstance(result.exception, RecursionError)


def test_nesting_within_the_limit_builds(make_content: MakeContent, tmp_path: Path) -> None:
    emphasis = "*a " * 19 + "**b " * 10 + "x" + " b**" * 10 + " a*" * 19
    lists = "\n".join("  " * i + "- item" for i in range(30))
    text = f"---\nid: a\ntitle: 甲\n---\n\n## 问题 {{#q1}}\n\n{emphasis}\n\n{lists}\n\n{'>' * 30} q\n"
    root = make_content({"01-a.md": text})
    result = CliRunner().invoke(main, ["build", "html", "epub", "--content", str(root), "--out", str(tmp_path / "o"),
                                       "--no-cache", "-q"])
    assert result.exit_code == 0, result.output
