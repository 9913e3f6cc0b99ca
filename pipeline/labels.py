"""The words every output adds around the content, one table per language.

Chosen by the handbook's primary language subtag (``zh-CN`` → ``zh``); unknown languages get English.
The answer text itself is never translated. Templates read these as ``labels.<name>``; entries with
``{…}`` fields are formatted where they are used.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

Labels = MappingProxyType[str, str]

_TABLES: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "chapter": "第 {number} 章",
        "contents": "目录",
        "previous": "上一页",
        "next": "下一页",
        "navigation": "翻页",
        "landmarks": "导览",
        "title_page": "扉页",
        "start": "开始阅读",
        "author": "作者",
        "version": "版本",
        "license": "许可",
        "source_note": "来源",
        "image": "图片",
        "tag_index": "标签索引",
        "practice_edition": "练习版",
        "answer_key": "答案见《{title}》第 {page} 页",
        "page_ref_before": "（第 ",
        "page_ref_after": " 页）",
        "difficulty_1": "基础",
        "difficulty_2": "进阶",
        "difficulty_3": "困难",
        "card": "问答",
        "key_points": "要点",
        "full_answer": "完整答案",
        "printed_page": "第 {page} 页",
        "see_page": "全文见第 {page} 页",
        "follow_ups": "面试追问",
        "cloze_card": "填空",
        "tag_difficulty": "难度",
        "tag_section": "分组",
        "tag_chapter": "章节",
        "search": "搜索",
        "search_found": "找到 {n} 个问题",
        "search_none": "没有找到“{q}”",
        "search_short": "请输入至少两个字",
        "search_needs_script": "搜索需要浏览器允许脚本运行。",
        "self_test": "自测",
        "self_test_hint": "隐藏所有答案，点击问题展开",
        "permalink": "本题链接",
        "page_list": "纸书页码",
        "print_source": "《{title}》PDF 版",
        "accessibility_summary": (
            "本书为可重排的文字内容：标题层级、目录与标签索引可供导航，"
            "公式以 MathML 呈现并附 TeX 替代文字，图片附有说明文字，字体随书附带。"
        ),
    },
    "en": {
        "chapter": "Chapter {number}",
        "contents": "Contents",
        "previous": "Previous",
        "next": "Next",
        "navigation": "Page navigation",
        "landmarks": "Landmarks",
        "title_page": "Title page",
        "start": "Start reading",
        "author": "Author",
        "version": "Version",
        "license": "License",
        "source_note": "Source",
        "image": "Image",
        "tag_index": "Tag index",
        "practice_edition": "Practice edition",
        "answer_key": "Answer: {title}, page {page}",
        "page_ref_before": " (p. ",
        "page_ref_after": ")",
        "difficulty_1": "basic",
        "difficulty_2": "intermediate",
        "difficulty_3": "advanced",
        "card": "Q&A",
        "key_points": "Key points",
        "full_answer": "Full answer",
        "printed_page": "page {page}",
        "see_page": "Full answer on page {page}",
        "follow_ups": "Follow-up questions",
        "cloze_card": "Cloze",
        "tag_difficulty": "difficulty",
        "tag_section": "section",
        "tag_chapter": "chapter",
        "search": "Search",
        "search_found": "{n} questions found",
        "search_none": "Nothing found for “{q}”",
        "search_short": "Type at least two characters",
        "search_needs_script": "Search needs scripts to be allowed in the browser.",
        "self_test": "Self-test",
        "self_test_hint": "Hide every answer; click a question to open it",
        "permalink": "Link to this question",
        "page_list": "Print pages",
        "print_source": "{title}, PDF edition",
        "accessibility_summary": (
            "Reflowable text with a heading structure, a table of contents and a tag index for navigation; "
            "formulas are MathML with their TeX as alternative text, images have text alternatives, and "
            "the fonts travel with the book."
        ),
    },
}
LANGUAGES = tuple(_TABLES)


def labels(language: str) -> Labels:
    """The table for ``language`` (a BCP 47 tag such as ``zh-CN``), English when there is none."""
    return MappingProxyType(_TABLES.get(language.split("-", 1)[0].lower(), _TABLES["en"]))


def difficulty(words: Labels, level: int | None) -> str:
    """The label of a difficulty level (1–3), "" when there is none."""
    return words.get(f"difficulty_{level}", "") if level else ""
