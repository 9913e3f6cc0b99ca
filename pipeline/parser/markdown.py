"""The one markdown-it configuration, and the small facts about its syntax tree both passes need.

All markdown-it vocabulary of the pipeline stays in this package (the importer asks for tokens here)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.tree import SyntaxTreeNode
from mdit_py_cjk_friendly import cjk_friendly
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin


@cache
def markdown_parser() -> MarkdownIt:
    """The one parser configuration: CommonMark + tables, strikethrough, front matter, footnotes, math."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(footnote_plugin)
    md.use(dollarmath_plugin, allow_labels=False, allow_space=True, allow_digits=False, double_inline=True)
    md.inline.ruler.at("math_inline", _math_inline_rule())
    md.inline.ruler.after("backticks", "cloze", _cloze_rule)  # after code and math: never inside them
    md.use(cjk_friendly)
    # Keep escaped characters as separate tokens, so an escaped \$ is not mistaken for a stray one.
    md.disable("text_join")
    # Every link and image reaches the parser, which decides (markdown-it would show a javascript: or
    # file: image as text, silently): see chapter.py.
    md.validateLink = _any_link  # type: ignore[method-assign]
    return md


def _any_link(url: str) -> bool:
    return True


def _math_inline_rule() -> Callable[[StateInline, bool], bool]:
    """dollarmath's inline rule, minus a wrap-around at the start of a paragraph.

    With ``allow_digits=False`` the plugin rejects ``$…$`` after a digit by reading ``src[pos - 1]``;
    at position 0 that is the paragraph's *last* character, so "$p$ = 0.6" lost its math.
    """
    strict = math_inline_dollar(True, False, True)
    at_start = math_inline_dollar(True, True, True)

    def rule(state: StateInline, silent: bool) -> bool:
        if state.pos > 0:
            return bool(strict(state, silent))
        pushed = len(state.tokens)
        if not at_start(state, silent):
            return False
        if state.src[state.pos : state.pos + 1].isdigit():  # keep "no digit right after the closing $"
            del state.tokens[pushed:]
            state.pos = 0
            return False
        return True

    return rule


def _cloze_rule(state: StateInline, silent: bool) -> bool:
    """``==text==`` (Obsidian's highlight) as ``cloze_open`` … ``cloze_close`` around inline tokens.

    The text may not start or end with a space, so ``a == b`` in prose stays text; nor nest.
    """
    src, start = state.src, state.pos
    if src[start : start + 2] != "==" or src[start + 2 : start + 3] in ("", "=", " ", "\t", "\n"):
        return False
    end = src.find("==", start + 2, state.posMax)
    if end < 0 or src[end - 1] in " \t\n" or src[end + 2 : end + 3] == "=":
        return False
    if not silent:
        state.push("cloze_open", "mark", 1).markup = "=="
        limit = state.posMax
        state.pos, state.posMax = start + 2, end
        state.md.inline.tokenize(state)
        state.posMax = limit
        state.push("cloze_close", "mark", -1).markup = "=="
    state.pos = end + 2
    return True


def plain_text(nodes: Sequence[SyntaxTreeNode]) -> str:
    """The visible text of inline nodes: math as its TeX, breaks as spaces."""
    parts: list[str] = []
    for node in nodes:
        if node.type in ("text", "text_special", "code_inline"):
            parts.append(node.content)
        elif node.type in ("math_inline", "math_inline_double"):
            parts.append(f"${node.content}$")
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif node.type == "image":
            parts.append(node.content)
        else:
            parts.append(plain_text(node.children))
    return "".join(parts)


def line_of(node: SyntaxTreeNode) -> int:
    """The 1-based source line of a block node (markdown-it maps are 0-based)."""
    return node.map[0] + 1 if node.map else 1
