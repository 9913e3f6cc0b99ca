"""Counting what a handbook holds, per question and in total (``handbook stats``)."""

from __future__ import annotations

from typing import Any

from .model import (
    Block,
    Body,
    Code,
    CodeBlock,
    Figure,
    Handbook,
    Image,
    Inline,
    Math,
    MathBlock,
    Question,
    Table,
    Text,
    block_inlines,
    body_blocks,
)

COUNTS = ("answer_chars", "code_blocks", "math", "tables", "images")


def question_stats(question: Question) -> dict[str, Any]:
    blocks = body_blocks(question.answer)
    inlines = [n for b in blocks for n in block_inlines(b)]
    return {
        "id": question.id,
        "title": question.title_text,
        "tags": list(question.tags),
        "answer_chars": answer_chars(question.answer),
        "code_blocks": sum(isinstance(b, CodeBlock) for b in blocks),
        "math": sum(isinstance(b, MathBlock) for b in blocks) + sum(isinstance(n, Math) for n in inlines),
        "tables": sum(isinstance(b, Table) for b in blocks),
        "images": sum(isinstance(n, Image) for n in inlines),
    }


def answer_chars(body: Body) -> int:
    """Characters of visible answer text: prose, inline code, code blocks and TeX, without whitespace."""
    total = 0
    for block in body_blocks(body):
        total += _block_chars(block)
    return total


def _block_chars(block: Block) -> int:
    if isinstance(block, CodeBlock):
        return _count(block.code)
    if isinstance(block, MathBlock):
        return _count(block.tex)
    if isinstance(block, Figure):
        return _count(block.image.alt)
    return sum(_inline_chars(n) for n in block_inlines(block))


def _inline_chars(node: Inline) -> int:
    if isinstance(node, Text | Code):
        return _count(node.text)
    if isinstance(node, Math):
        return _count(node.tex)
    if isinstance(node, Image):
        return _count(node.alt)
    return 0


def _count(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def handbook_stats(handbook: Handbook) -> dict[str, Any]:
    chapters = []
    totals = dict.fromkeys(COUNTS, 0)
    for chapter in handbook.chapters:
        questions = [question_stats(q) for q in chapter.questions]
        for q in questions:
            for key in COUNTS:
                totals[key] += q[key]
        chapters.append({"id": chapter.id, "title": chapter.title, "questions": questions})
    totals["questions"] = sum(len(c["questions"]) for c in chapters)
    totals["chapters"] = len(chapters)
    return {"chapters": chapters, "totals": totals}

