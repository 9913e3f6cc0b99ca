"""Counting what a handbook holds, per question and in total (``handbook stats``)."""

from __future__ import annotations

from typing import Any

from .model import Body, Code, CodeBlock, Handbook, Image, Math, MathBlock, Question, Table, Text, body_nodes

COUNTS = ("answer_chars", "code_blocks", "math", "tables", "images")


def question_stats(question: Question) -> dict[str, Any]:
    nodes = list(body_nodes(question.answer))
    return {
        "id": question.id,
        "title": question.title_text,
        "tags": list(question.tags),
        "answer_chars": answer_chars(question.answer),
        "code_blocks": sum(isinstance(n, CodeBlock) for n in nodes),
        "math": sum(isinstance(n, Math | MathBlock) for n in nodes),
        "tables": sum(isinstance(n, Table) for n in nodes),
        "images": sum(isinstance(n, Image) for n in nodes),
    }


def answer_chars(body: Body) -> int:
    """Characters of visible answer text: prose, inline code, code blocks and TeX, without whitespace."""
    total = 0
    for node in body_nodes(body):
        if isinstance(node, Text | Code):
            total += _count(node.text)
        elif isinstance(node, CodeBlock):
            total += _count(node.code)
        elif isinstance(node, Math | MathBlock):
            total += _count(node.tex)
        elif isinstance(node, Image):
            total += _count(node.alt)
    return total


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

