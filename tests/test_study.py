"""Study features (issue 16) in the reading outputs: key points, clozes and group headings in the shared
partials, and the key-points length check. The Anki deck and the PDFs have their own tests."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipeline import epub
from pipeline.build import Options, build
from pipeline.cli import main
from pipeline.parser import check, load_handbook

from .conftest import REPO, MakeContent
from .test_epub import epubcheck

GROUPED = """\
---
id: grouped
title: 分组章
---

## 第一题 {#one section="甲组"}

> [!要点]
> 第一题的==要点==。

答案一，`a == b` 不是填空。

## 第二题 {#two section="甲组"}

答案二。

## 第三题 {#three section="乙组"}

答案三。

## 第四题 {#four}

答案四。
"""


def test_html_shows_key_points_clozes_and_each_group_heading_once(make_content: MakeContent, tmp_path: Path) -> None:
    root = make_content({"01-grouped.md": GROUPED})
    build(root, ["html"], Options(out_dir=tmp_path / "out", source_date_epoch=1_700_000_000))
    page = (tmp_path / "out" / "html" / "chapter-grouped.xhtml").read_text(encoding="utf-8")
    assert page.count('class="section-title"') == 2
    assert page.index("甲组") < page.index("第一题") < page.index("第二题") < page.index("乙组") < page.index("第三题")
    assert '<div class="key-points">' in page and "[!要点]" not in page
    assert '<mark class="cloze">要点</mark>' in page and "<code>a == b</code>" in page


def test_no_group_heading_without_sections(tmp_path: Path) -> None:
    build(REPO / "content", ["html"], Options(out_dir=tmp_path / "out", source_date_epoch=1_700_000_000))
    pages = (tmp_path / "out" / "html").glob("chapter-*.xhtml")
    assert not any("section-title" in p.read_text(encoding="utf-8") for p in pages)


def test_long_stand_in_for_key_points_is_a_warning(make_content: MakeContent) -> None:
    long = "很长的第一段。" * 50
    root = make_content({"01-a.md": f"---\nid: a\ntitle: A\n---\n\n## 问 {{#q}}\n\n{long}\n\n## 短 {{#r}}\n\n短答。\n"})
    messages = [str(d) for d in check(root)]
    assert len(messages) == 1
    assert "01-a.md:6: warning:" in messages[0] and "350 characters" in messages[0] and "'q'" in messages[0]
    result = CliRunner().invoke(main, ["check", "--content", str(root), "--strict"])
    assert result.exit_code == 1


def test_content_questions_all_have_key_points() -> None:
    assert check(REPO / "content") == ()
    handbook, _ = load_handbook(REPO / "content")
    assert len(handbook.questions) == 14 and all(q.key_points.given for q in handbook.questions)


def test_epub_with_groups_key_points_and_clozes_passes_epubcheck(make_content: MakeContent, tmp_path: Path) -> None:
    root = make_content({"01-grouped.md": GROUPED})
    build(root, ["html", "epub"], Options(out_dir=tmp_path / "out", source_date_epoch=1_700_000_000))
    assert epubcheck(tmp_path / "out" / epub.OUTPUT_NAME) == []
