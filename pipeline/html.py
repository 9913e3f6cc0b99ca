"""The XHTML site: title page, contents, one page per chapter, tag page, search page, stylesheet,
fonts, cover, images.

The same content serves two outputs in two frames. ``render`` writes the web edition as the offline
folder ``html/`` (open ``index.xhtml`` in a browser): a header with the search box and the self-test
switch, previous/next links, one local script and the search index as another (nothing fetched, works
from ``file://``). ``pipeline.epub`` packs the book edition: the same content without any of that.
Every page is an EPUB 3 content document: XHTML5 serialization, MathML for formulas, relative links
only, nothing from the network; fonts, cover and images are the same files in both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup

from . import mathml, search, sitecache, webfonts
from .cache import Cache
from .context import Context, HandoffKey
from .cover import cover_png
from .fonts import ensure_fonts
from .formulas import is_display, math_hook
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
    MathBlock,
    RemoteImage,
    SoftBreak,
    Strikeout,
    Strong,
    Text,
)
from .output_names import HTML_DIR
from .render import Hooks, environment, pygments_css, question_anchor
from .resources import read_asset
from .webfonts import WebFont

OUTPUT_DIR = HTML_DIR
TITLE_PAGE = "index.xhtml"
CONTENTS_PAGE = "nav.xhtml"  # also the EPUB navigation document, hence the name
STYLESHEET = "handbook.css"
COVER_IMAGE = "cover.png"
TAG_PAGE = "tags.xhtml"
SEARCH_PAGE = "search.xhtml"  # the web edition's only
SCRIPT = "handbook.js"
DARK_CODE_STYLE = "monokai"
LONG_INLINE_TEX = 24  # characters of TeX past which an inline formula may be wider than a phone
ASSET_DIR = PurePosixPath("assets")  # content images keep their relative path below this folder
CODE_STYLE = "friendly"

def chapter_file(chapter: Chapter) -> str:
    """The page of a chapter, named by its id so that bookmarks survive reordering."""
    return f"chapter-{chapter.id}.xhtml"


# What a file's first bytes say it is: the EPUB checks images by content, not by name, and a PNG
# named .jpg (common in imported material) is an error there.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, ".png"),
    (b"\xff\xd8\xff", 0, ".jpg"),
    (b"GIF8", 0, ".gif"),
    (b"WEBP", 8, ".webp"),
)
_EXTENSIONS = {".jpeg": ".jpg"}
# Characters a file name inside an EPUB may not hold (OCF) or that break a URL: replaced by "_".
_UNSAFE_NAME = re.compile(r"[\s\"*:<>?\\^|#%\[\]{}\x00-\x1f\x7f]+")


def sniffed_suffix(path: PurePosixPath, data: bytes) -> str:
    """The file extension that matches the image's content (its own when the content says nothing)."""
    for magic, offset, suffix in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return suffix
    return _EXTENSIONS.get(path.suffix.lower(), path.suffix.lower())


def asset_name(asset: Asset, data: bytes) -> str:
    """Where an image lives in the site: its relative path below ``assets/``, each part made safe for
    a file name in a zip and a URL, and the extension its content calls for."""
    parts = [_UNSAFE_NAME.sub("_", part) for part in asset.path.parts]
    stem = PurePosixPath(parts[-1]).stem if PurePosixPath(parts[-1]).suffix else parts[-1]
    parts[-1] = stem + sniffed_suffix(asset.path, data)
    return (ASSET_DIR / PurePosixPath(*parts)).as_posix()


def url_path(name: str) -> str:
    """A site path as a relative URL: every character a URL cannot hold percent-encoded (CJK too)."""
    return quote(name, safe="/")


def clean_svg(data: bytes) -> bytes:
    """SVG from draw.io wraps labels in HTML's obsolete ``<font>``, which EPUB content may not hold."""
    return re.sub(rb"<(/?)font\b[^>]*>", rb"<\1span>", data)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteAsset:
    """An image of the handbook as the site holds it: its file name there and its (cleaned) bytes."""

    asset: Asset
    name: str
    data: bytes

    @property
    def href(self) -> str:
        return url_path(self.name)


def site_assets(found: Sequence[tuple[Asset, bytes]]) -> tuple[SiteAsset, ...]:
    """Each image under a file name of its own: two sources that make the same safe name are told
    apart by a hash of their path."""
    named: list[SiteAsset] = []
    taken: set[str] = set()
    for asset, data in sorted(found, key=lambda item: item[0].path):
        name = asset_name(asset, data)
        if name.lower() in taken:
            digest = hashlib.sha256(asset.path.as_posix().encode("utf-8")).hexdigest()[:8]
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{digest}{dot}{suffix}"
        taken.add(name.lower())
        cleaned = clean_svg(data) if name.endswith(".svg") else data
        named.append(SiteAsset(asset=asset, name=name, data=cleaned))
    return tuple(named)


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
    """Everything the HTML folder and the EPUB hold, already rendered.

    The two share the content of every page, the stylesheet, the fonts, the cover and the images; they
    differ in the frame around the content. The web edition (``pages``) has a header with the search
    box and the self-test switch, previous/next links and scripts; the book (``book_pages``, the EPUB)
    has none of that: a reading system brings its own navigation.
    """

    pages: tuple[Page, ...]
    book_pages: tuple[Page, ...]
    contents: tuple[ContentsEntry, ...]
    stylesheet: bytes
    cover: bytes  # a PNG generated from the title
    assets: tuple[SiteAsset, ...]
    fonts: tuple[WebFont, ...]
    scripts: tuple[tuple[str, bytes], ...]  # the web edition's only

    def _shared(self) -> list[tuple[str, bytes]]:
        out = [(STYLESHEET, self.stylesheet), (COVER_IMAGE, self.cover)]
        out += [(a.name, a.data) for a in self.assets]
        out += [(f.name, f.data) for f in self.fonts]
        return out

    def files(self) -> list[tuple[str, bytes]]:
        """Every file of the web edition with its path relative to the site root, sorted by path."""
        return sorted([(p.name, p.data) for p in self.pages] + self._shared() + list(self.scripts))

    def book_files(self) -> list[tuple[str, bytes]]:
        """Every file of the book edition (the EPUB's content), sorted by path."""
        return sorted([(p.name, p.data) for p in self.book_pages] + self._shared())


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
    # Spaces and CJK in a web address are percent-encoded: an EPUB holds only valid URLs.
    return quote(url, safe=_URL_SAFE) if urlsplit(url).scheme else None


_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


# The rendered site, handed from the HTML renderer to the EPUB's when a build makes both.
SITE: HandoffKey[Site] = HandoffKey("html.site")


def site(handbook: Handbook, ctx: Context) -> Site:
    """Render every page of the handbook with MathML formulas, in both editions.

    Both the HTML folder and the EPUB need this: when a build makes both, the HTML renderer hands its
    site to the EPUB renderer (``SITE``). A page whose inputs did not change is taken from the cache
    (``sitecache``), and so is what its text gives the fonts and the search index.
    """
    mathjax = math_hook(handbook, ctx, "mathml")

    def math(node: Math | MathBlock) -> Markup:
        markup = Markup(mathml.core(str(mathjax(node))))
        if not is_display(node) and len(node.tex) > LONG_INLINE_TEX:
            # Inline MathML does not break across lines: a long one scrolls in its own box instead of
            # widening the page on a phone (short ones stay inline, on the text's baseline).
            return Markup('<span class="math-scroll">{}</span>').format(markup)
        return markup

    pages_of = {q.id: chapter_file(c) for c in handbook.chapters for q in c.questions}
    assets = site_assets(_read_assets(handbook, ctx))
    asset_hrefs = {a.asset: a.href for a in assets}

    def image_src(target: Asset | RemoteImage) -> str | None:
        # Remote images are never fetched here: an EPUB may not reference undeclared remote resources.
        return None if isinstance(target, RemoteImage) else asset_hrefs.get(target)

    hooks = Hooks(
        math=math,
        image_src=image_src,
        question_href=lambda qid: f"{pages_of[qid]}#{question_anchor(qid)}",
        link_href=link_href,
    )
    tags = tag_index(handbook)
    env = environment(
        hooks,
        {"handbook": handbook, "stylesheet": STYLESHEET, "tag_href": lambda tag: f"{TAG_PAGE}#{tag_anchor(tag)}"},
        language=handbook.meta.language,
    )
    words = labels(handbook.meta.language)
    toc = contents(handbook)

    # Reading order: (file name, title, content template, what it needs, editions).
    both = ("web", "book")
    plan: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
        (TITLE_PAGE, handbook.meta.title, "html/index.xhtml.j2", {"cover": COVER_IMAGE}, both),
        (CONTENTS_PAGE, words["contents"], "html/nav.xhtml.j2", contents_values(toc), both),
        *((chapter_file(c), c.title, "html/chapter.xhtml.j2", {"chapter": c}, both) for c in handbook.chapters),
        (TAG_PAGE, words["tag_index"], "html/tags.xhtml.j2", {"tags": tags}, both),
        (SEARCH_PAGE, words["search"], "html/search.xhtml.j2", {}, ("web",)),
    ]
    # Previous/next walk the book: title page, contents, chapters, tag page.
    web_order = [(name, title) for name, title, *_ in plan if name != SEARCH_PAGE]

    def pager(name: str) -> dict[str, tuple[str, str] | None]:
        names = [n for n, _ in web_order]
        if name not in names:
            return {"previous": None, "next": None}
        index = names.index(name)
        previous = web_order[index - 1] if index > 0 else None
        following = web_order[index + 1] if index + 1 < len(web_order) else None
        return {"previous": previous, "next": following}

    ctx.progress(f"html: {len(plan)} pages")
    frame = env.get_template("html/layout.xhtml.j2")
    common = frame_values(handbook)
    cache = Cache(ctx.options.cache_dir)
    store = sitecache.PageStore(cache)
    # The answers a page's key holds: formulas as MathJax wrote them (what ``math`` makes of that is code).
    shapes = dataclasses.replace(hooks, math=mathjax)

    def template(name: str, title: str, template: str, values: dict[str, Any], editions: Sequence[str]) -> list[bytes]:
        """The page in each of ``editions``."""
        content = env.get_template(template)
        # The title page alone differs inside (the cover and the buttons are the web edition's).
        shared_main = None if name == TITLE_PAGE else Markup(content.render(values, edition="web", **common))
        out: list[bytes] = []
        for edition in editions:
            main = shared_main if shared_main is not None else Markup(content.render(values, edition=edition, **common))
            out.append(frame.render(
                main=main, edition=edition, page_name=name, page_title=title, pager=pager(name),
                body_class=_BODY_CLASSES[template], **common,
            ).encode("utf-8"))
        return out

    web: list[Page] = []
    book: list[Page] = []
    templated = 0
    for name, title, template_name, values, editions in plan:
        chapter = values.get("chapter")
        values_repr = repr(values)
        answers = sitecache.shown(cache, chapter, values_repr).answers(shapes) if chapter is not None else ""
        entry = sitecache.page_key(
            name, title, template_name, values_repr, answers, repr(handbook.meta), repr(common), repr(pager(name)),
            repr(editions),
        )
        datas = store.get(entry, len(editions))
        if datas is None:
            datas = tuple(template(name, title, template_name, values, editions))
            store.put(entry, datas)
            templated += 1
        for edition, data in zip(editions, datas, strict=True):
            (web if edition == "web" else book).append(Page(name=name, title=title, data=data))
    ctx.progress(f"html: {templated} of {len(plan)} pages templated, the others from the cache")

    stylesheet = (TEMPLATES / "html" / "handbook.css").read_text(encoding="utf-8")
    stylesheet += "\n/* Code colors: Pygments' " + CODE_STYLE + " style, " + DARK_CODE_STYLE + " in the dark. */\n"
    stylesheet += pygments_css(CODE_STYLE, "pre.code") + "\n"
    stylesheet += "@media (prefers-color-scheme: dark) {\n" + pygments_css(DARK_CODE_STYLE, "pre.code") + "\n}\n"

    script = (TEMPLATES / "html" / SCRIPT).read_bytes()
    texts = [(page.name, sitecache.page_text(cache, page.name, page.data)) for page in web]
    search_index = search.index_script(
        [entry for name, text in texts if name.startswith("chapter-") for entry in text.documents],
        handbook.meta.language,
    )
    used = webfonts.merged_text([text.used for _, text in texts], extra=script.decode("utf-8"))
    with contextlib.ExitStack() as stack:
        font_set = ensure_fonts(_tool_folder(stack, ctx.options.cache_dir))
        faces = webfonts.web_fonts(font_set, used, cache)
        cover = cover_png(handbook, font_set)
    stylesheet = "".join(face.css() for face in faces) + "\n" + stylesheet
    ctx.progress(f"html: fonts {sum(len(f.data) for f in faces)} bytes, search index {len(search_index)} bytes")

    return Site(
        pages=tuple(web),
        book_pages=tuple(book),
        contents=toc,
        stylesheet=stylesheet.encode("utf-8"),
        cover=cover,
        assets=assets,
        fonts=faces,
        scripts=((SCRIPT, script), (search.INDEX_SCRIPT, search_index)),
    )


def contents_values(toc: tuple[ContentsEntry, ...], page_list: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """What the contents page shows: the contents, and in the EPUB the printed book's page-list."""
    return {"contents": toc, "title_page": TITLE_PAGE, "page_list": tuple(page_list)}


def frame_values(handbook: Handbook) -> dict[str, str]:
    first_page = chapter_file(handbook.chapters[0]) if handbook.chapters else CONTENTS_PAGE
    return {"contents_page": CONTENTS_PAGE, "first_page": first_page, "title_page": TITLE_PAGE,
            "search_page": SEARCH_PAGE, "tag_page": TAG_PAGE}


def book_contents_page(
    handbook: Handbook, toc: tuple[ContentsEntry, ...], page_list: Sequence[tuple[str, str]]
) -> bytes:
    """The book edition's contents page (the EPUB navigation document) with a page-list: the EPUB
    makes it again when it knows the printed book's pages."""
    env = environment(None, {"handbook": handbook, "stylesheet": STYLESHEET}, language=handbook.meta.language)
    common = frame_values(handbook)
    title = labels(handbook.meta.language)["contents"]
    content = env.get_template("html/nav.xhtml.j2")
    main = Markup(content.render(contents_values(toc, page_list), edition="book", **common))
    return env.get_template("html/layout.xhtml.j2").render(
        main=main, edition="book", page_name=CONTENTS_PAGE, page_title=title, pager={"previous": None, "next": None},
        body_class=_BODY_CLASSES["html/nav.xhtml.j2"], **common,
    ).encode("utf-8")


_BODY_CLASSES = {
    "html/index.xhtml.j2": "page title-page",
    "html/nav.xhtml.j2": "page contents-page",
    "html/chapter.xhtml.j2": "page chapter-page",
    "html/tags.xhtml.j2": "page tags-page",
    "html/search.xhtml.j2": "page search-page",
}


def _tool_folder(stack: contextlib.ExitStack[bool | None], cache_dir: Path | None) -> Path:
    """The cache folder, or with ``--no-cache`` a temporary one removed after the build."""
    if cache_dir is not None:
        return cache_dir
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handbook-fonts-")))


@dataclass(frozen=True, slots=True, kw_only=True)
class TagEntry:
    """One tag of the tag page and the questions that carry it, as (label, href)."""

    tag: str
    anchor: str
    questions: tuple[tuple[str, str], ...]


def tag_anchor(tag: str) -> str:
    """The element id of a tag on the tag page: tags may hold any character, ids may not."""
    return "tag-" + hashlib.sha256(tag.encode("utf-8")).hexdigest()[:10]


def tag_index(handbook: Handbook) -> tuple[TagEntry, ...]:
    found: dict[str, list[tuple[str, str]]] = {}
    for c in handbook.chapters:
        for q in c.questions:
            for tag in q.tags:
                found.setdefault(tag, []).append(
                    (f"{c.number}.{q.number} {plain_title(q.title)}", f"{chapter_file(c)}#{question_anchor(q.id)}")
                )
    return tuple(
        TagEntry(tag=tag, anchor=tag_anchor(tag), questions=tuple(found[tag]))
        for tag in sorted(found, key=lambda t: (t.lower(), t))
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
    """Write the offline HTML folder ``html/`` (the web edition)."""
    pages = site(handbook, ctx)
    if "epub" in ctx.renders:
        ctx.handoff.put(SITE, pages)  # until the EPUB takes it: it holds every image's bytes

    output = ctx.options.out_dir / OUTPUT_DIR

    def fill(folder: Path) -> None:
        for name, data in pages.files():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _linked_unchanged(output / name, data, target):
                target.write_bytes(data)

    return [ctx.writer.replace_dir(output, fill)]


def _linked_unchanged(old: Path, data: bytes, target: Path) -> bool:
    """Link ``target`` to the file of the folder being replaced when that holds ``data`` already.

    Writing the whole folder again and deleting the old one was most of an edit's HTML time (80 MB of
    images in the corpus): a file the build would write unchanged is linked instead. Never into the old
    file itself (the link is a new name; the folder is swapped whole), and only a regular file with
    exactly these bytes; anything else (no such file, a symlink, no hard links here) is written."""
    try:
        status = old.lstat()
        if not stat.S_ISREG(status.st_mode) or status.st_size != len(data) or old.read_bytes() != data:
            return False
        os.link(old, target, follow_symlinks=False)
    except OSError:
        return False
    return True
