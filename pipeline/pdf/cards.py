"""Printable flashcards: ``handbook-cards.pdf``, eight cards a sheet with cut marks, for study away from Anki.

Sheets come in pairs: a page of fronts (the question, its chapter, its difficulty), then a page of backs
(the key points and the page of the full answer). The backs are mirrored left to right, so that printing
both sides and flipping on the long edge puts each back behind its front. Python decides where every card
and every cut mark goes (in millimetres, from the handbook's paper size) and how small a long back's type
gets or where it is cut; the template only draws.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cache import Cache, key
from ..context import Context
from ..fonts import ensure_fonts
from ..formulas import math_hook
from ..labels import difficulty, labels
from ..locations import TEMPLATES
from ..model import Block, Chapter, Code, Handbook, Math, MathBlock, Paragraph, Question, Text, descendants, text_length
from ..output_names import CARDS_NAME as CARDS_NAME
from ..pages import PAGES_FILE, read_pages
from ..render import Hooks, environment, question_anchor
from ..selection import select
from .assembly import concatenate
from .edition import assets_key
from .engine import Engine, layout_key
from .frame import parts_folder, tool_folder
from .images import image_sources
from .weasylog import weasyprint_diagnostics

TEMPLATE = "pdf/cards.html.j2"
STYLESHEET = TEMPLATES / "pdf" / "cards.css"

COLUMNS, ROWS = 2, 4
SHEETS_PER_PART = 8  # 16 pages, 64 cards: a part of the layout work, one per worker task
SHEET_MARGIN = 10.0  # mm around the grid of cards: room for the cut marks and the printer's own margin
MARK_LENGTH = 5.0  # mm of each cut mark, in the margin only, so no mark crosses a card
# Portrait paper sizes, width × height in mm (the sizes handbook.toml accepts).
PAPER = {
    "A3": (297.0, 420.0), "A4": (210.0, 297.0), "A5": (148.0, 210.0), "B4": (250.0, 353.0), "B5": (176.0, 250.0),
    "Letter": (215.9, 279.4), "Legal": (215.9, 355.6), "Ledger": (279.4, 431.8),
}
# The back's type by length of its key points, for an A4 card (95 × 69 mm); other papers scale by card area.
# Past the last step the key points are cut, with a marker, rather than overflow the card.
_TYPE_STEPS = ((110, 10.0), (170, 9.0), (240, 8.0), (320, 7.0))
_A4_CARD_AREA = 95.0 * 69.25


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    """A rectangle on the sheet, in mm from its top left corner."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    label: str  # "1.2": the same on both sides, so a card can be matched with its back
    chapter: Chapter
    question: Question
    difficulty: str
    key_points: tuple[Block, ...]  # what the back shows (the cut version, when it is cut)
    cut: bool
    type_size: float  # pt
    page: int  # of the full answer in the book; 0 when unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One printed page: front or back, with each card in its place."""

    back: bool
    cards: tuple[tuple[Card, Box], ...]


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write ``handbook-cards.pdf`` for the questions ``--chapter``/``--tag`` choose (all by default)."""
    selection = select(handbook, ctx.options.chapters, ctx.options.tags)
    words = labels(handbook.meta.language)
    pages = read_pages(ctx.read(PAGES_FILE), handbook)
    width, height = PAPER.get(handbook.meta.page.size, PAPER["A4"])
    boxes = card_boxes(width, height)
    capacity = boxes[0].width * boxes[0].height / _A4_CARD_AREA
    cards = [
        make_card(chapter, question, difficulty_label=difficulty(words, question.difficulty),
                  page=pages.get(question.id, 0), capacity=capacity)
        for _, chapter, question in selection
    ]
    sides = layout(cards, boxes, width)
    errors = len(ctx.report.errors)
    with contextlib.ExitStack() as stack:
        fonts = ensure_fonts(tool_folder(stack, ctx.options.cache_dir, "fonts"), progress=ctx.progress)
        images, image_folders = image_sources(handbook, ctx, stack)
        hooks = Hooks(
            math=math_hook(handbook, ctx, "svg"),
            image_src=lambda target: images[target],
            question_href=lambda qid: f"#{question_anchor(qid)}",
        )
        env = environment(hooks, language=handbook.meta.language)
        template = env.get_template(TEMPLATE)
        engine = Engine(
            workers=ctx.workers,
            cache=Cache(ctx.options.cache_dir),
            parts=parts_folder(stack, ctx.options.cache_dir),
            base_key=layout_key(fonts),
            base_url=handbook.root.resolve().as_uri() + "/",
            asset_root=str(handbook.root.resolve()),
            # What file: URLs may read besides the content folder (pipeline/resources.py).
            file_roots=tuple(dict.fromkeys(str(p) for p in (*(f.path.parent for f in fonts.faces), *image_folders))),
            part_css="\n".join([fonts.css(), STYLESHEET.read_text(encoding="utf-8")]),
            stamp_css="",
        )
        # A few sheets a part: laid out side by side on the workers, and after an edit only the part
        # with the edited card is laid out again (each sheet has its own page: parts share no layout).
        step = 2 * SHEETS_PER_PART
        marks = cut_marks(width, height)
        chapters = {chapter.id: chapter for _, chapter, _ in selection}
        shown = {cid: assets_key(handbook, chapter, engine.cache) for cid, chapter in chapters.items()}
        jobs = [
            engine.job(
                template.render(meta=handbook.meta, sides=chunk, marks=marks, paper=(width, height)),
                _identifier(handbook),
                inputs=key(*dict.fromkeys(shown[card.chapter.id] for side in chunk for card, _ in side.cards)),
            )
            for chunk in (sides[i:i + step] for i in range(0, len(sides), step))
        ]
        ctx.progress(f"cards: {len(cards)} cards on {len(sides) // 2} sheets")
        with weasyprint_diagnostics(handbook, ctx) as records:
            parts = engine.run(jobs)
            fresh = sum(engine.was_laid_out(job) for job in jobs)
            ctx.progress(f"cards: {fresh} of {len(jobs)} parts laid out, the rest from the cache")
            for part in parts:
                records.extend(logging.makeLogRecord({"msg": m, "args": args}) for m, args in part.records)
        if len(ctx.report.errors) > errors or not parts:
            return []
        staged = ctx.writer.stage(ctx.options.out_dir / CARDS_NAME)
        try:
            with ctx.bulk:  # not beside the book's assembly: their peaks would add up
                concatenate(parts, _identifier(handbook), staged.temporary)
            return [staged.commit()]
        finally:
            staged.discard()


def card_boxes(width: float, height: float) -> list[Box]:
    """The eight places of a front sheet, row by row, left to right."""
    card_w = (width - 2 * SHEET_MARGIN) / COLUMNS
    card_h = (height - 2 * SHEET_MARGIN) / ROWS
    return [
        Box(left=SHEET_MARGIN + c * card_w, top=SHEET_MARGIN + r * card_h, width=card_w, height=card_h)
        for r in range(ROWS) for c in range(COLUMNS)
    ]


def mirrored(box: Box, width: float) -> Box:
    """Where the back of the card in ``box`` goes: flipped left to right, as long-edge duplex turns it."""
    return Box(left=width - box.left - box.width, top=box.top, width=box.width, height=box.height)


def layout(cards: Sequence[Card], boxes: Sequence[Box], width: float) -> list[Side]:
    """Fronts and backs, sheet by sheet: an even number of pages, each back page behind its front page."""
    sides: list[Side] = []
    per_sheet = len(boxes)
    for start in range(0, len(cards), per_sheet):
        chunk = cards[start:start + per_sheet]
        placed = list(zip(chunk, boxes, strict=False))
        sides.append(Side(back=False, cards=tuple(placed)))
        sides.append(Side(back=True, cards=tuple((card, mirrored(box, width)) for card, box in placed)))
    return sides


def cut_marks(width: float, height: float) -> list[Box]:
    """Short hairlines in the sheet's margin, in line with every edge between cards (zero width or height)."""
    card_w = (width - 2 * SHEET_MARGIN) / COLUMNS
    card_h = (height - 2 * SHEET_MARGIN) / ROWS
    near = SHEET_MARGIN - 1 - MARK_LENGTH  # a millimetre clear of the cards
    marks = []
    for c in range(COLUMNS + 1):
        x = SHEET_MARGIN + c * card_w
        marks.append(Box(left=x, top=near, width=0, height=MARK_LENGTH))
        marks.append(Box(left=x, top=height - SHEET_MARGIN + 1, width=0, height=MARK_LENGTH))
    for r in range(ROWS + 1):
        y = SHEET_MARGIN + r * card_h
        marks.append(Box(left=near, top=y, width=MARK_LENGTH, height=0))
        marks.append(Box(left=width - SHEET_MARGIN + 1, top=y, width=MARK_LENGTH, height=0))
    return marks


def make_card(chapter: Chapter, question: Question, *, difficulty_label: str, page: int, capacity: float) -> Card:
    """A question's card: its back's type size from the length of its key points, smaller for longer
    ones; beyond the smallest size, the key points cut to plain text that fits, ending in a marker."""
    blocks = question.key_points.blocks
    length = text_length(blocks)
    steps = [(int(limit * capacity), size) for limit, size in _TYPE_STEPS]
    size = next((size for limit, size in steps if length <= limit), None)
    cut = size is None
    if size is None:
        size = steps[-1][1]
        keep = steps[-1][0] - 2
        blocks = (Paragraph(children=(Text(text=plain(blocks)[:keep].rstrip() + "……"),)),)
    return Card(
        label=f"{chapter.number}.{question.number}", chapter=chapter, question=question, difficulty=difficulty_label,
        key_points=blocks, cut=cut, type_size=size, page=page,
    )


def plain(blocks: Sequence[Block]) -> str:
    """The text of ``blocks`` on one line (formulas as their TeX)."""
    parts = []
    for node in descendants(blocks):
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Math | MathBlock):
            parts.append(f"${node.tex}$")
    return " ".join("".join(parts).split())


def _identifier(handbook: Handbook) -> str:
    return hashlib.sha256(f"{handbook.meta.id}/cards".encode()).hexdigest()[:32]
