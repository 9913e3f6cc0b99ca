"""The shared template layer: one Jinja2 environment shape, one partial per model element.

Every output renders the same partials (``templates/partials/``). What differs between outputs is
passed in as ``Hooks``: how a formula becomes markup, where an image lives, how a link to a question
is written. Templates present; Python decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from .labels import difficulty, labels
from .locations import TEMPLATES
from .model import Asset, Math, MathBlock, RemoteImage


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


def environment(
    hooks: Hooks | None = None,
    extra_globals: Mapping[str, Any] | None = None,
    *,
    language: str,
    autoescape: bool = True,
    search_path: Sequence[Path] = (TEMPLATES,),
) -> Environment:
    """The template environment of one output, the only place one is made: strict undefined, the
    shared partials, the interface words of ``language`` as ``labels``, and the output's ``hooks``
    (outputs that render no model elements, such as the EPUB's package files, have none).

    :param autoescape: False only for plain-text templates (the bundle's README).
    :param search_path: template folders, the project's own first.
    """
    env = Environment(
        loader=FileSystemLoader([str(path) for path in search_path]),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    words = labels(language)
    env.globals.update(
        labels=words,
        highlight=highlight,
        question_anchor=question_anchor,
        chapter_anchor=chapter_anchor,
        difficulty_label=lambda question: difficulty(words, question.difficulty),
    )
    if hooks is not None:
        env.globals.update(
            math=hooks.math,
            image_src=hooks.image_src,
            question_href=hooks.question_href,
            link_href=hooks.link_href,
        )
    if extra_globals:
        env.globals.update(extra_globals)
    return env


def question_anchor(question_id: str) -> str:
    """The element id of a question: a valid XML name whatever the question id starts with."""
    return f"q-{question_id}"


def chapter_anchor(chapter_id: str) -> str:
    return f"ch-{chapter_id}"


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
