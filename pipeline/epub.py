"""EPUB 3: the XHTML pages of ``pipeline.html`` in a package with nav, NCX, metadata and a cover.

The pages are the very bytes of the HTML folder; this module adds what only a reading system needs:
the package document (manifest with media types and properties, spine, metadata), the EPUB 2 NCX,
the container and a zip laid out the way the OCF specification asks (``mimetype`` first, stored).
"""

from __future__ import annotations

import dataclasses
import mimetypes
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from . import html
from .archive import Member, build_time, compress_type, member, zip_members
from .cache import Cache, key, tool_key
from .context import Context
from .model import Handbook
from .output_names import EPUB_NAME
from .pages import PAGES_FILE, read_pages
from .render import environment, question_anchor
from .workers import release_memory

OUTPUT_NAME = EPUB_NAME
PACKAGE_DIR = PurePosixPath("EPUB")
PACKAGE_DOCUMENT = "package.opf"
NCX = "toc.ncx"
# The cache's namespaces (and recipes) of pages' manifest properties and of the book's deflated entries.
_PROPERTIES = "epub-properties"
_MEMBERS = "epub-members"

# uuid5 namespace of handbook identifiers: the same handbook id gives the same dc:identifier in every
# version, so reading systems treat a new edition as an update of the book they already hold.
IDENTIFIER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/handbook/handbook#epub")

# Media types of EPUB core media resources; anything else needs a fallback reading systems rarely use.
MEDIA_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}

_MATHML = "{http://www.w3.org/1998/Math/MathML}math"
_SVG = "{http://www.w3.org/2000/svg}svg"


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestItem:
    id: str
    href: str
    media_type: str
    properties: str = ""


def identifier(handbook: Handbook) -> str:
    """The stable ``dc:identifier``: a UUID derived from the handbook id."""
    return uuid.uuid5(IDENTIFIER_NAMESPACE, handbook.meta.id).urn


def modified(when: datetime) -> str:
    """``dcterms:modified`` wants whole seconds in UTC with a literal Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def page_properties(data: bytes, cache: Cache) -> str:
    """The manifest properties a page needs, read from its markup: ``mathml`` and ``svg`` where used.

    Kept in the cache by the page's bytes: parsing every page again is most of what repacking the book
    after an edit to one chapter would cost."""
    entry = key(tool_key(), _PROPERTIES, data)
    record = cache.get_record(_PROPERTIES, entry)
    if record is not None and isinstance(record[0].get("properties"), str):
        return str(record[0]["properties"])
    found = _read_properties(data)
    cache.put_record(_PROPERTIES, entry, {"properties": found})
    return found


def _read_properties(data: bytes) -> str:
    root = ET.fromstring(data)
    found = []
    if root.find(f".//{_MATHML}") is not None:
        found.append("mathml")
    if root.find(f".//{_SVG}") is not None:
        found.append("svg")
    return " ".join(found)


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    site = ctx.handoff.take(html.SITE) or html.site(handbook, ctx)
    pages = print_pages(handbook, ctx.read(PAGES_FILE))
    ctx.progress(
        f"epub: package, page-list of {len(pages)} printed pages from {PAGES_FILE}" if pages
        else f"epub: package (no page-list: build the pdf for one; {PAGES_FILE} is missing or not of this content)"
    )
    staged = ctx.writer.stage(ctx.options.out_dir / OUTPUT_NAME)
    try:
        with ctx.bulk:
            staged.temporary.write_bytes(package(handbook, site, build_time(ctx.options.source_date_epoch), ctx, pages))
        del site  # the commit may wait for the PDF: not with every page and image in memory
        release_memory()
        return [staged.commit()]
    finally:
        staged.discard()


def print_pages(handbook: Handbook, recorded: bytes | None) -> list[tuple[str, str]]:
    """The printed handbook's page-list as (page number, where it goes): each page on which a question
    starts, pointing at the first question starting there, so that "see p. 37" can be followed.

    Read from the page of every question the PDF build recorded beside the PDF (the registry builds it
    first); empty unless it knows every question of this handbook, so that no number is wrong.
    """
    known = read_pages(recorded, handbook)
    found: dict[int, str] = {}
    for chapter in handbook.chapters:
        for question in chapter.questions:
            page = known.get(question.id)
            if page is None:
                return []
            found.setdefault(page, f"{html.chapter_file(chapter)}#{question_anchor(question.id)}")
    return [(str(page), href) for page, href in sorted(found.items())]


def package(
    handbook: Handbook, site: html.Site, when: datetime, ctx: Context, pages: Sequence[tuple[str, str]] = ()
) -> bytes:
    """The EPUB file's bytes: same site, time and page-list, same bytes."""
    if pages:
        site = dataclasses.replace(site, book_pages=tuple(
            dataclasses.replace(page, data=html.book_contents_page(handbook, site.contents, pages))
            if page.name == html.CONTENTS_PAGE else page
            for page in site.book_pages
        ))
    cache = Cache(ctx.options.cache_dir)
    items = _manifest(site, ctx, cache)
    by_href = {item.href: item for item in items}
    spine = [by_href[page.name].id for page in site.book_pages]
    env = environment(language=handbook.meta.language)
    book_id = identifier(handbook)
    opf = env.get_template("epub/package.opf.j2").render(
        handbook=handbook, identifier=book_id, modified=modified(when), items=items, spine=spine,
        cover_id=by_href[html.COVER_IMAGE].id, ncx_id=by_href[NCX].id,
        uses_math=any("mathml" in item.properties for item in items), has_page_list=bool(pages),
    )
    ncx = env.get_template("epub/toc.ncx.j2").render(
        handbook=handbook, identifier=book_id, contents=site.contents, order=_play_order(site.contents),
        depth=2 if any(entry.children for entry in site.contents) else 1,
    )
    container = env.get_template("epub/container.xml.j2").render(
        package_path=(PACKAGE_DIR / PACKAGE_DOCUMENT).as_posix()
    )
    files = [(str(PACKAGE_DIR / name), data) for name, data in site.book_files()]
    files += [
        (str(PACKAGE_DIR / PACKAGE_DOCUMENT), opf.encode("utf-8")),
        (str(PACKAGE_DIR / NCX), ncx.encode("utf-8")),
        ("META-INF/container.xml", container.encode("utf-8")),
    ]
    # OCF: `mimetype` first and uncompressed, so the file type shows at a fixed offset.
    members = [member("mimetype", b"application/epub+zip", stored=True)]
    members += [_member(name, data, cache) for name, data in sorted(files)]
    return zip_members(members, when)


def _member(name: str, data: bytes, cache: Cache) -> Member:
    """An entry of the book, its deflated bytes kept in the cache by its data: deflating every page
    again was most of what repacking the book after an edit to one chapter cost."""
    if compress_type(name) == zipfile.ZIP_STORED:
        return member(name, data)  # images: nothing to compress, the CRC is all the work
    entry = key(tool_key(), _MEMBERS, data)
    record = cache.get_record(_MEMBERS, entry)
    if record is not None:
        header, packed = record
        crc, size = header.get("crc"), header.get("size")
        if isinstance(crc, int) and size == len(data):
            return Member(name=name, method=zipfile.ZIP_DEFLATED, crc=crc, size=len(data), packed=packed)
    found = member(name, data)
    cache.put_record(_MEMBERS, entry, {"crc": found.crc, "size": found.size}, found.packed)
    return found


def _manifest(site: html.Site, ctx: Context, cache: Cache) -> list[ManifestItem]:
    items: list[ManifestItem] = []
    for page in site.book_pages:
        properties = page_properties(page.data, cache)
        if page.name == html.CONTENTS_PAGE:
            properties = " ".join(filter(None, ["nav", properties]))
        items.append(
            ManifestItem(
                id=f"page-{PurePosixPath(page.name).stem}", href=page.name,
                media_type="application/xhtml+xml", properties=properties,
            )
        )
    items.append(ManifestItem(id="ncx", href=NCX, media_type="application/x-dtbncx+xml"))
    items.append(ManifestItem(id="stylesheet", href=html.STYLESHEET, media_type="text/css"))
    items.append(
        ManifestItem(id="cover-image", href=html.COVER_IMAGE, media_type="image/png", properties="cover-image")
    )
    for font in site.fonts:
        # WOFF2 is a core media type since EPUB 3.2; font/woff2 is its registered name.
        items.append(ManifestItem(id=f"font-{PurePosixPath(font.name).stem}", href=font.name, media_type="font/woff2"))
    for number, image in enumerate(site.assets, start=1):
        suffix = PurePosixPath(image.name).suffix
        media_type = MEDIA_TYPES.get(suffix)
        if media_type is None:
            media_type = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
            ctx.report.warning(
                image.asset.path, None,
                f"{suffix or 'this'} images are not an EPUB core media type; use SVG, PNG, JPEG, GIF or WebP",
            )
        items.append(ManifestItem(id=f"image-{number:03d}", href=image.href, media_type=media_type))
    return items


def _play_order(entries: Sequence[html.ContentsEntry]) -> dict[str, int]:
    """NCX playOrder: 1, 2, 3, … in reading order over the whole tree."""
    order: dict[str, int] = {}

    def visit(entry: html.ContentsEntry) -> None:
        order.setdefault(entry.href, len(order) + 1)
        for child in entry.children:
            visit(child)

    for entry in entries:
        visit(entry)
    return order
