"""Assembling an edition with pikepdf (qpdf): the parts' pages in order with their stamps, blank pages,
the outline, links pointing at pages, the metadata. qpdf copies the parts' objects without parsing them
into Python objects and never decodes a page's content."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import pikepdf

from .engine import Part
from .plan import REF_PREFIX, Plan, edition_anchors

_STAMP_NAME = pikepdf.Name("/HandbookStamp")  # the stamp's form XObject in each page's resources


class Stamper:
    """Draws each stamp page over its content page as a form XObject, without decoding or rewriting the
    page's own content: the page's /Contents becomes [opening, its streams, closing], where ``opening``
    saves the graphics state and ``closing`` restores it and draws the stamp. Both are shared by every
    page (all pages have one size). pikepdf's ``add_overlay`` would name the XObject at random (and the
    output must be reproducible) and, with ``contents_coalesce``, hold every page's decoded content."""

    def __init__(self, book: pikepdf.Pdf) -> None:
        self.book = book
        self.opening = book.make_stream(b"q\n")
        self._closing: dict[tuple[float, ...], pikepdf.Stream] = {}

    def __call__(self, page: pikepdf.Page, stamp: pikepdf.Page) -> None:
        form = stamp.as_form_xobject()
        # WeasyPrint's pages share one resource dictionary; the page gets its own (a shallow copy: fonts
        # and images stay shared objects) so that each names only its own stamp.
        shared = page.obj.get("/Resources", pikepdf.Dictionary())
        resources = pikepdf.Dictionary(dict(shared.items()))
        xobjects = pikepdf.Dictionary(dict(shared.get("/XObject", pikepdf.Dictionary()).items()))
        assert _STAMP_NAME not in xobjects
        xobjects[_STAMP_NAME] = form.with_same_owner_as(page.obj)
        resources.XObject = xobjects
        page.obj.Resources = resources
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []
        page.obj.Contents = pikepdf.Array([self.opening, *streams, self._closing_for(page, form)])

    def _closing_for(self, page: pikepdf.Page, form: pikepdf.Object) -> pikepdf.Stream:
        box = tuple(float(v) for v in page.trimbox)
        if box not in self._closing:
            placement = page.calc_form_xobject_placement(form, _STAMP_NAME, pikepdf.Rectangle(page.trimbox))
            self._closing[box] = self.book.make_stream(b"\nQ\n" + bytes(placement))
        return self._closing[box]


def assemble(
    plan: Plan,
    front: Part,
    chapter_parts: Sequence[Part],
    back: Part | None,
    stamps: Sequence[Sequence[Part]],
    identifier: str,
    destination: Path,
) -> None:
    """One PDF from the parts: pages in order with their stamps, blank pages where chapters must open on
    the right, the outline, links pointing at pages, the front matter's metadata.

    qpdf (through pikepdf) copies the parts' objects without parsing them into Python objects and draws
    each stamp page over its content page as a form XObject, leaving the content stream as it is.
    """
    book = pikepdf.Pdf.new()
    placed = [(plan.front, front), *zip(plan.chapters, chapter_parts, strict=True)]
    if back is not None:
        placed.append((plan.back, back))
    with contextlib.ExitStack() as opened:

        def open_pdf(part: Part) -> pikepdf.Pdf:
            return opened.enter_context(pikepdf.Pdf.open(part.path))

        front_pdf = open_pdf(front)
        box = front_pdf.pages[0].mediabox
        size = (float(box[2]) - float(box[0]), float(box[3]) - float(box[1]))
        blanks = set(plan.blanks)
        overlay = Stamper(book)
        for (start, part), stamp in zip(placed, stamps, strict=True):
            source = front_pdf if part is front else open_pdf(part)
            stamp_pages = [page for chunk in stamp for page in open_pdf(chunk).pages]
            while len(book.pages) in blanks:
                book.add_blank_page(page_size=size)
            assert len(book.pages) == start
            for page, stamp_page in zip(source.pages, stamp_pages, strict=True):
                book.pages.append(page)
                overlay(book.pages[-1], stamp_page)

        anchors = edition_anchors(plan, chapter_parts)
        if back is not None:
            for name, (index, x, y) in back.anchors.items():
                anchors.setdefault(name, (plan.back + index, x, y))
        _point_links(book, anchors)

        with book.open_outline() as outline:
            chapter_item: pikepdf.OutlineItem | None = None
            for start, part in zip(plan.chapters, chapter_parts, strict=True):
                for level, label, index, x, y in part.bookmarks:
                    item = pikepdf.OutlineItem(label, start + index, "XYZ", left=x, top=y, zoom=0)
                    if level == 1 or chapter_item is None:
                        outline.root.append(item)
                        chapter_item = item
                    else:
                        chapter_item.children.append(item)

        _save(book, front_pdf, identifier, destination)


def concatenate(parts: Sequence[Part], identifier: str, destination: Path) -> None:
    """One PDF of the parts' pages in order (the printable cards, laid out a few sheets a part), links
    pointing at pages, the first part's metadata."""
    book = pikepdf.Pdf.new()
    anchors: dict[str, tuple[int, float, float]] = {}
    with contextlib.ExitStack() as opened:
        pdfs = [opened.enter_context(pikepdf.Pdf.open(part.path)) for part in parts]
        for part, pdf in zip(parts, pdfs, strict=True):
            for name, (index, x, y) in part.anchors.items():
                anchors.setdefault(name, (len(book.pages) + index, x, y))
            book.pages.extend(pdf.pages)
        _point_links(book, anchors)
        _save(book, pdfs[0], identifier, destination)


def _point_links(book: pikepdf.Pdf, anchors: dict[str, tuple[int, float, float]]) -> None:
    """Every link to a named destination (an anchor of some part) points at its page and place."""
    pages = [page.obj for page in book.pages]  # book.pages[i] costs 0.1 ms: 1.2 s for the corpus's links
    for page in pages:
        for annotation in page.get("/Annots", ()):
            dest = annotation.get("/Dest")
            if isinstance(dest, pikepdf.String):
                target = anchors.get(str(dest).removeprefix(REF_PREFIX))
                if target is not None:
                    index, x, y = target
                    annotation.Dest = pikepdf.Array([pages[index], pikepdf.Name.XYZ, x, y, 0])


def _save(book: pikepdf.Pdf, first: pikepdf.Pdf, identifier: str, destination: Path) -> None:
    book.docinfo = book.make_indirect(pikepdf.Dictionary(dict(first.docinfo.items())))
    if "/Lang" in first.Root:
        book.Root.Lang = pikepdf.String(str(first.Root.Lang))
    # The first /ID half names the document (stable across rebuilds), the second its bytes.
    book.trailer.ID = pikepdf.Array([pikepdf.String(identifier.encode("ascii"))] * 2)
    with destination.open("wb") as out:  # not book.save(path), which writes a temporary file of its own
        book.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
