"""EPUB-ready XHTML: a title page, a contents page, one page per chapter, one stylesheet, the images.

The same pages serve two outputs. ``render`` writes them as the offline folder ``html/`` (open
``index.xhtml`` in a browser); ``pipeline.epub`` packs the very same bytes into the EPUB. So every
page is an EPUB 3 content document: XHTML5 serialization, MathML for formulas, relative links only,
no scripts, nothing fetched from the network.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Template

from .context import Context, HandoffKey
from .formulas import math_hook
from .labels import labels
from .locations import TEMPLATES
from .model import (
    Asset,
    Chapter,
    Code,
    Emph,
    Handbook,
    Image,
    Inline,
    LineBreak,
    Link,
    Math,
    RemoteImage,
    SoftBreak,
    Strikeout,
    Strong,
    Text,
)
from .render import Hooks, environment, pygments_css, question_anchor
from .resources import read_asset

OUTPUT_DIR = "html"
TITLE_PAGE = "index.xhtml"
CONTENTS_PAGE = "nav.xhtml"  # also the EPUB navigation document, hence the name
STYLESHEET = "handbook.css"
COVER_IMAGE = "cover.svg"
ASSET_DIR = PurePosixPath("assets")  # content images keep their relative path below this folder
CODE_STYLE = "friendly"

def chapter_file(chapter: Chapter) -> str:
    """The page of a chapter, named by its id so that bookmarks survive reordering."""
    return f"chapter-{chapter.id}.xhtml"


def asset_href(asset: Asset) -> str:
    return (ASSET_DIR / asset.path).as_posix()


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentsEntry:
    """One line of the table of contents (the contents page, the EPUB nav and NCX)."""

    label: str
    href: str
    children: tuple[ContentsEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One XHTML page of the site, in reading order."""

    name: str  # file name relative to the site root
    title: str
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Everything the HTML folder and the EPUB hold, already rendered."""

    pages: tuple[Page, ...]
    contents: tuple[ContentsEntry, ...]
    stylesheet: bytes
    cover: bytes  # an SVG generated from the title
    assets: tuple[tuple[Asset, bytes], ...]

    def files(self) -> list[tuple[str, bytes]]:
        """Every file of the site with its path relative to the site root, sorted by path."""
        out = [(p.name, p.data) for p in self.pages]
        out += [(STYLESHEET, self.stylesheet), (COVER_IMAGE, self.cover)]
        out += [(asset_href(a), data) for a, data in self.assets]
        return sorted(out)


def plain_title(nodes: tuple[Inline, ...]) -> str:
    """A title as text for tables of contents, which take no markup: formulas as bare TeX."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Math):
            parts.append(node.tex)
        elif isinstance(node, Emph | Strong | Strikeout | Link):
            parts.append(plain_title(node.children))
        elif isinstance(node, Image):
            parts.append(node.alt)
        elif isinstance(node, SoftBreak | LineBreak):
            parts.append(" ")
    return " ".join("".join(parts).split())


def contents(handbook: Handbook) -> tuple[ContentsEntry, ...]:
    words = labels(handbook.meta.language)
    return tuple(
        ContentsEntry(
            label=f"{words['chapter'].format(number=c.number)} {c.title}",
            href=chapter_file(c),
            children=tuple(
                ContentsEntry(
                    label=f"{c.number}.{q.number} {plain_title(q.title)}",
                    href=f"{chapter_file(c)}#{question_anchor(q.id)}",
                )
                for q in c.questions
            ),
        )
        for c in handbook.chapters
    )


def link_href(url: str) -> str | None:
    """Links to the web stay; relative links (other files, unknown anchors) have no target in these
    pages, and a link to a file outside the EPUB makes it invalid, so they show as plain text."""
    return url if urlsplit(url).scheme else None


# The rendered site, handed from the HTML renderer to the EPUB's when a build makes both.
SITE: HandoffKey[Site] = HandoffKey("html.site")


def site(handbook: Handbook, ctx: Context) -> Site:
    """Render every page of the handbook with MathML formulas.

    Both the HTML folder and the EPUB need this (the same bytes): when a build makes both, the HTML
    renderer hands its site to the EPUB renderer (``SITE``).
    """
    math = math_hook(handbook, ctx, "mathml")

    pages_of = {q.id: chapter_file(c) for c in handbook.chapters for q in c.questions}

    def image_src(target: Asset | RemoteImage) -> str | None:
        # Remote images are never fetched here: an EPUB may not reference undeclared remote resources.
        return None if isinstance(target, RemoteImage) else asset_href(target)

    hooks = Hooks(
        math=math,
        image_src=image_src,
        question_href=lambda qid: f"{pages_of[qid]}#{question_anchor(qid)}",
        link_href=link_href,
    )
    env = environment(hooks, {"handbook": handbook, "stylesheet": STYLESHEET}, language=handbook.meta.language)
    words = labels(handbook.meta.language)
    toc = contents(handbook)

    first_page = chapter_file(handbook.chapters[0]) if handbook.chapters else CONTENTS_PAGE
    # Reading order: (file name, title, frame template, what the frame needs).
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        (TITLE_PAGE, handbook.meta.title, "html/index.xhtml.j2", {"cover": COVER_IMAGE}),
        (CONTENTS_PAGE, words["contents"], "html/nav.xhtml.j2", {"contents": toc, "title_page": TITLE_PAGE}),
        *((chapter_file(c), c.title, "html/chapter.xhtml.j2", {"chapter": c}) for c in handbook.chapters),
    ]

    def pager(index: int) -> dict[str, tuple[str, str] | None]:
        previous = plan[index - 1][:2] if index > 0 else None
        following = plan[index + 1][:2] if index + 1 < len(plan) else None
        # The contents link only where it is not this page, nor already the previous or next one.
        beside = {plan[index][0]} | {link[0] for link in (previous, following) if link}
        toc_link = None if CONTENTS_PAGE in beside else (CONTENTS_PAGE, words["contents"])
        return {"previous": previous, "contents": toc_link, "next": following}

    ctx.progress(f"html: {len(plan)} pages")
    pages = tuple(
        Page(
            name=name,
            title=title,
            data=env.get_template(template)
            .render(
                values, page_title=title, pager=pager(index), contents_page=CONTENTS_PAGE, first_page=first_page
            )
            .encode("utf-8"),
        )
        for index, (name, title, template, values) in enumerate(plan)
    )

    stylesheet = (TEMPLATES / "html" / "handbook.css").read_text(encoding="utf-8")
    stylesheet += "\n/* Code colors: Pygments' " + CODE_STYLE + " style. */\n"
    stylesheet += pygments_css(CODE_STYLE, "pre.code") + "\n"

    return Site(
        pages=pages,
        contents=toc,
        stylesheet=stylesheet.encode("utf-8"),
        cover=cover_svg(handbook, env.get_template("html/cover.svg.j2")).encode("utf-8"),
        assets=tuple(_read_assets(handbook, ctx)),
    )


def _read_assets(handbook: Handbook, ctx: Context) -> list[tuple[Asset, bytes]]:
    found: list[tuple[Asset, bytes]] = []
    for asset in handbook.assets:
        try:
            found.append((asset, read_asset(handbook, asset)))
        except OSError as exc:
            # The parser checked the file exists; it vanished or became unreadable since.
            ctx.report.error(asset.path, None, f"cannot read image: {exc.strerror or exc}")
    return found


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write the offline HTML folder ``html/``."""
    pages = site(handbook, ctx)
    if "epub" in ctx.renders:
        ctx.handoff.put(SITE, pages)  # until the EPUB takes it: it holds every image's bytes

    def fill(folder: Path) -> None:
        for name, data in pages.files():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    return [ctx.writer.replace_dir(ctx.options.out_dir / OUTPUT_DIR, fill)]


# --- the generated cover ------------------------------------------------------------------------

COVER_WIDTH = 600
COVER_HEIGHT = 800
_TEXT_WIDTH = 480  # the title block's width inside the cover, in SVG units


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverText:
    lines: tuple[str, ...]
    size: int  # font size in SVG units


def _advance(char: str) -> float:
    """Rough width of a character in ems: full-width scripts (CJK) take one em, Latin about half."""
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.56


def _tokens(text: str) -> list[str]:
    """Break opportunities: every full-width character stands alone, Latin words stay whole."""
    out: list[str] = []
    for char in text:
        if _advance(char) == 1.0 or char == " " or not out or out[-1] == " " or _advance(out[-1][-1]) == 1.0:
            out.append(char)
        else:
            out[-1] += char
    return out


def _width(text: str, size: int) -> float:
    return sum(_advance(c) for c in text) * size


def wrap(text: str, size: int, width: float = _TEXT_WIDTH) -> tuple[str, ...]:
    """Greedy line breaking of ``text`` set at ``size`` units into lines of at most ``width``."""
    tokens: list[str] = []
    for token in _tokens(" ".join(text.split())):
        # A word wider than the whole line can only be broken between its letters.
        tokens.extend(token if _width(token, size) > width else [token])
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and _width((line + token).rstrip(), size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return tuple(lines)


def fit(text: str, largest: int, smallest: int, max_lines: int) -> CoverText:
    """The largest font size (down to ``smallest``) at which ``text`` fits in ``max_lines`` lines;
    at the smallest size, what does not fit is cut off with an ellipsis."""
    size = largest
    while size > smallest and len(wrap(text, size)) > max_lines:
        size -= 2
    lines = wrap(text, size)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _width(last + "…", size) > _TEXT_WIDTH:
            last = last[:-1]
        lines = (*lines[: max_lines - 1], last.rstrip() + "…")
    return CoverText(lines=lines, size=size)


def cover_svg(handbook: Handbook, template: Template) -> str:
    """The cover: the title and subtitle, wrapped and sized to fit, set on a plain colored page."""
    meta = handbook.meta
    title = fit(meta.title, largest=64, smallest=28, max_lines=4)
    subtitle = fit(meta.subtitle, largest=30, smallest=18, max_lines=3) if meta.subtitle else None
    return template.render(
        width=COVER_WIDTH, height=COVER_HEIGHT, title=title, subtitle=subtitle,
        author=meta.author, version=meta.version, language=meta.language,
    )

