"""One test per content diagnostic: the exact message and the exact line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.diagnostics import ContentError
from pipeline.parser import check, load_handbook

from .conftest import MakeContent

FRONT = "---\nid: basics\ntitle: 基础\n---\n"


def messages(root: Path) -> list[str]:
    return [str(d) for d in check(root)]


def test_clean_chapter_has_no_diagnostics(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 问题 {#q1 tags=\"a b\" difficulty=1}\n\n答案。\n"})
    assert messages(root) == []


def test_missing_question_id_is_derived_with_a_warning(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 没有编号的问题\n\n答案。\n"})
    handbook, warnings = load_handbook(root)
    derived = handbook.chapters[0].questions[0].id
    assert derived.startswith("basics-") and len(derived) == len("basics-") + 8
    assert [str(w) for w in warnings] == [
        f"01-a.md:6: warning: question has no id; using {derived!r} (add {{#{derived}}} to the heading "
        "so that editing the title keeps its Anki history)"
    ]
    # Derived ids are stable: the same title gives the same id on the next read.
    assert load_handbook(root)[0].chapters[0].questions[0].id == derived


def test_duplicate_question_id_across_chapters(make_content: MakeContent) -> None:
    root = make_content({
        "01-a.md": FRONT + "\n## 甲 {#same}\n\n答案。\n",
        "02-b.md": "---\nid: other\ntitle: 其他\n---\n\n正文。\n\n## 乙 {#same}\n\n答案。\n",
    })
    assert messages(root) == ["02-b.md:8: error: duplicate question id 'same' (also at 01-a.md:6)"]


def test_duplicate_chapter_id(make_content: MakeContent) -> None:
    root = make_content({
        "01-a.md": FRONT + "\n## 甲 {#q1}\n\n答案。\n",
        "02-b.md": FRONT + "\n## 乙 {#q2}\n\n答案。\n",
    })
    assert messages(root) == ["02-b.md:1: error: duplicate chapter id 'basics' (also in 01-a.md)"]


def test_empty_answer(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n## 乙 {#q2}\n\n答案。\n"})
    assert messages(root) == ["01-a.md:6: warning: empty answer for question 'q1'"]


def test_heading_level_skipped(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n#### 细节\n\n答案。\n"})
    assert messages(root) == ["01-a.md:8: warning: heading level skipped (h2 to h4)"]


def test_missing_front_matter(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "## 甲 {#q1}\n\n答案。\n"})
    assert messages(root) == [
        "01-a.md:1: error: missing front matter (a --- block with id and title at the top of the file)"
    ]


def test_unknown_front_matter_key(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "---\nid: a\ntitle: 甲\nauthor: 某人\n---\n\n## 甲 {#q1}\n\n答案。\n"})
    assert messages(root) == [
        "01-a.md:1: warning: unknown front matter key 'author' (known: id, title, description)"
    ]


def test_image_not_found(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n见图：\n\n![图](images/none.png)\n"})
    assert messages(root) == ["01-a.md:10: error: image file not found: 'images/none.png'"]


def test_image_escaping_content_root(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n![图](../secret.png)\n"})
    (root.parent / "secret.png").write_bytes(b"\x89PNG")
    assert messages(root) == ["01-a.md:8: error: image path escapes the content folder: '../secret.png'"]


def test_unterminated_display_math(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n答案。\n\n$$\nx + y\n"})
    assert messages(root) == ["01-a.md:10: error: unterminated $$ math (no closing $$)"]


def test_unterminated_inline_math(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n第一行\n公式 $x + y 没有结束\n"})
    assert messages(root) == [
        "01-a.md:9: warning: unterminated $ math (write \\$ for a literal dollar sign)"
    ]


def test_escaped_dollar_is_not_math(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n价格 \\$5，代码 `$HOME`。\n"})
    assert messages(root) == []


def test_unclosed_code_fence(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n```python\nprint(1)\n"})
    assert messages(root) == ["01-a.md:8: error: unclosed code fence ``` (it runs to the end of the file)"]


def test_not_utf8(make_content: MakeContent) -> None:
    text = (FRONT + "\n## 甲 {#q1}\n\n").encode("utf-8") + "答案".encode("gbk") + b"\n"
    root = make_content({"01-a.md": text})
    assert messages(root) == ["01-a.md:8: error: file is not valid UTF-8 (byte 0xb4)"]


def test_empty_chapter(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n只有导言。\n"})
    assert messages(root) == [
        "01-a.md: error: empty chapter: no questions (a question is a level-2 heading, ## …)"
    ]


def test_bom_and_crlf_are_accepted(make_content: MakeContent) -> None:
    text = ("\ufeff" + FRONT + "\n## 甲 {#q1}\n\n第一行\n第二行\n").replace("\n", "\r\n").encode("utf-8")
    root = make_content({"01-a.md": text})
    handbook, warnings = load_handbook(root)
    assert warnings == ()
    assert handbook.chapters[0].questions[0].source.line == 6


def test_bad_difficulty(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1 difficulty=5}\n\n答案。\n"})
    assert messages(root) == ["01-a.md:6: error: difficulty must be 1, 2 or 3, not '5'"]


def test_link_to_unknown_question(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n见[别处](#nowhere)。\n"})
    assert messages(root) == ["01-a.md:8: warning: link to unknown question id 'nowhere'"]


def test_raw_html_is_text_not_markup(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n<script>alert(1)</script> 和 <b>粗</b>\n"})
    handbook, _ = load_handbook(root)
    paragraph = handbook.chapters[0].questions[0].answer.blocks[0]
    assert paragraph.children[0].text.startswith("<script>")  # type: ignore[union-attr]


def test_missing_config(tmp_path: Path) -> None:
    (tmp_path / "01-a.md").write_text(FRONT + "\n## 甲 {#q1}\n\n答案。\n", encoding="utf-8")
    assert [str(d) for d in check(tmp_path)] == ["handbook.toml: error: missing handbook.toml in the content folder"]


def test_errors_raise_content_error(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": "no front matter\n"})
    with pytest.raises(ContentError) as info:
        load_handbook(root)
    assert info.value.diagnostics


def test_math_at_paragraph_start_with_digit_at_end(make_content: MakeContent) -> None:
    # dollarmath alone reads the paragraph's last character as "the one before" position 0.
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n$P(a)$ = 0.6\n"})
    handbook, warnings = load_handbook(root)
    assert warnings == ()
    first = handbook.chapters[0].questions[0].answer.blocks[0]
    assert type(first.children[0]).__name__ == "Math"  # type: ignore[union-attr]


def test_digit_right_after_closing_dollar_is_not_math(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n$5 到 $6 之间\n"})
    handbook, _ = load_handbook(root)
    paragraph = handbook.chapters[0].questions[0].answer.blocks[0]
    assert [type(c).__name__ for c in paragraph.children] == ["Text"]  # type: ignore[union-attr]


def test_escaped_dollar_in_question_title(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 价格 \\$5 的题 {#q1}\n\n答案。\n"})
    handbook, warnings = load_handbook(root)
    assert warnings == ()
    assert handbook.chapters[0].questions[0].title_text == "价格 $5 的题"


def test_closed_fence_inside_blockquote(make_content: MakeContent) -> None:
    root = make_content({"01-a.md": FRONT + "\n## 甲 {#q1}\n\n> ```python\n> x = 1\n> ```\n\n正文。\n"})
    assert messages(root) == []
