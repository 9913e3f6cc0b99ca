"""The shared template layer: one Jinja2 environment shape, one partial per model element.

Every output renders the same partials (``templates/partials/``). What differs between outputs is
passed in as ``Hooks``: how a formula becomes markup, where an image lives, how a link to a question
is written. Templates present; Python decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from .locations import TEMPLATES
from .model import Asset, Math, MathBlock, Question, RemoteImage


@dataclass(frozen=True, slots=True, kw_only=True)
class Hooks:
    """What one output decides for the shared partials.

    :param math: markup for a formula (SVG, MathML, or Anki's ``\\( \\)`` delimiters).
    :param image_src: the URL of an image in this output; None shows a placeholder with the link.
    :param question_href: the URL of a question, by question id (``#q-id`` or ``page.xhtml#q-id``).
    :param link_href: the URL of any other link in this output; None shows the link text without a link
        (the EPUB cannot hold links to files outside it). By default every URL is kept as written.
    """

    math: Callable[[Math | MathBlock], Markup]
    image_src: Callable[[Asset | RemoteImage], str | None]
    question_href: Callable[[str], str]
    link_href: Callable[[str], str | None] = str


def environment(hooks: Hooks, extra_globals: Mapping[str, Any] | None = None) -> Environment:
    """A template environment for one output: autoescape, strict undefined, the shared partials."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        math=hooks.math,
        image_src=hooks.image_src,
        question_href=hooks.question_href,
        link_href=hooks.link_href,
        highlight=highlight,
        question_anchor=question_anchor,
        chapter_anchor=chapter_anchor,
        difficulty_label=difficulty_label,
    )
    if extra_globals:
        env.globals.update(extra_globals)
    return env


def question_anchor(question_id: str) -> str:
    """The element id of a question: a valid XML name whatever the question id starts with."""
    return f"q-{question_id}"


def chapter_anchor(chapter_id: str) -> str:
    return f"ch-{chapter_id}"


def difficulty_label(question: Question) -> str:
    return {1: "基础", 2: "进阶", 3: "困难"}.get(question.difficulty or 0, "")


@cache
def _formatter() -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, classprefix="tok-")


@lru_cache(maxsize=4096)
def highlight(code: str, language: str) -> Markup:
    """Code as HTML with Pygments' class-based spans (colors come from each output's CSS): the same for
    every output, so each block is highlighted once per build."""
    try:
        lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return escape(code.rstrip("\n"))
    return Markup(pygments_highlight(code, lexer, _formatter()).rstrip("\n"))


def pygments_css(style: str, scope: str) -> str:
    """The CSS for highlighted code in ``style``, every rule under the selector ``scope``."""
    formatter = HtmlFormatter(style=style, classprefix="tok-")
    return str(formatter.get_style_defs(scope))  # type: ignore[no-untyped-call]
