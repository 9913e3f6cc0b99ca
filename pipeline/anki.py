"""The Anki deck: one note per question, rendered through the shared partials. genanki lives here only.

Two things decide whether a re-import updates a user's note or duplicates it, and both are explicit:

* the note's GUID comes from the handbook id and the question id, nothing else, so editing a question keeps
  its note and its review history;
* Anki replaces a stored note only when the incoming note's modification time is newer than its own (an
  equal time counts as a duplicate, even with the "always update" option). Each note therefore carries its
  own time, kept in a small state file next to the deck: the time stays put while the note's content is
  unchanged and moves forward — past the previous time, never back — when it changes.
  See ``Stamps``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sqlite3
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki
from jinja2 import Environment
from markupsafe import Markup, escape

from .anki_state import STATE_FILE as STATE_FILE
from .anki_state import Stamps
from .archive import compress_type
from .context import Context, Options
from .diagnostics import HandbookError, Report
from .labels import labels
from .locations import TEMPLATES
from .model import (
    Asset,
    Chapter,
    Handbook,
    Image,
    Math,
    MathBlock,
    Question,
    RemoteImage,
    walk_question,
)
from .render import Hooks, environment, pygments_css, question_anchor
from .resources import read_asset

DECK_FILE = "handbook.apkg"
FIELDS = ("Question", "Answer", "Chapter", "Tags shown", "Source")
CODE_STYLE_DAY = "default"
CODE_STYLE_NIGHT = "monokai"
_TEMPLATE_DIR = TEMPLATES / "anki"
# Every template file that shapes a note's fields or its card: their times date a note when no state exists.
_TEMPLATE_FILES = ("anki/*", "partials/*")
# Zip entries get one fixed date: the archive must not change when nothing else did.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write ``handbook.apkg`` (all questions, or the subset chosen by ``--chapter``/``--tag``) and the
    state file that keeps note times growing across builds."""
    selection = select(handbook, ctx.options.chapters, ctx.options.tags)
    errors = len(ctx.report.errors)
    media = media_files(handbook, selection, ctx.report)
    if len(ctx.report.errors) > errors:
        return []  # the build stops on the reported errors; the previous deck stays as it was
    env = _environment(media, handbook.meta.language)
    fields = env.get_template("anki/fields.html.j2").module
    notes = [_note_content(handbook, chapter, question, position, media, fields=fields)
             for position, chapter, question in selection]

    state_path = ctx.options.out_dir / STATE_FILE
    previous = Stamps.load(state_path, handbook.meta.id, ctx.report)
    note_type = _note_type_content(handbook, env)
    stamps = previous.updated(
        handbook,
        note_type=(note_type.digest, _base_time(ctx.options, _template_paths())),
        notes={n.question_id: (n.digest, _base_time(ctx.options, n.inputs)) for n in notes},
    )
    gone = previous.newly_removed(handbook)
    if gone:
        ctx.progress(
            f"anki: {len(gone)} question(s) left the handbook; their notes stay in Anki until you delete "
            f"them there (in the browser, search \"Source:<id> ·*\"): {', '.join(gone)}"
        )

    data = package(handbook, notes, note_type, stamps, media)
    ctx.progress(f"anki: {len(notes)} notes in {len({n.deck_name for n in notes})} decks, "
                 f"{len(media)} media files")
    deck = ctx.writer.write_bytes(ctx.options.out_dir / DECK_FILE, data)
    state = ctx.writer.write_text(state_path, stamps.dumps())
    return [deck, state]


# --- which questions --------------------------------------------------------------------------------


Selected = tuple[int, Chapter, Question]  # (position in the whole handbook, 1-based; chapter; question)


def select(handbook: Handbook, chapters: Iterable[str], tags: Iterable[str]) -> list[Selected]:
    """The questions of the deck, in handbook order: those of ``chapters`` (all when empty) that carry
    one of ``tags`` (any when empty). Positions count through the whole handbook, so a subset deck
    orders its new cards exactly as the full deck does.

    :raises HandbookError: for an unknown chapter id or tag, or when nothing is left.
    """
    wanted_chapters = tuple(dict.fromkeys(chapters))
    wanted_tags = tuple(dict.fromkeys(tags))
    known_chapters = [c.id for c in handbook.chapters]
    unknown = [c for c in wanted_chapters if c not in known_chapters]
    if unknown:
        raise HandbookError(
            f"unknown chapter id {', '.join(map(repr, unknown))}; the chapters are: {', '.join(known_chapters)}"
        )
    known_tags = {t for q in handbook.questions for t in q.tags}
    unknown = [t for t in wanted_tags if t not in known_tags]
    if unknown:
        raise HandbookError(
            f"no question has the tag {', '.join(map(repr, unknown))}; the tags are: "
            f"{', '.join(sorted(known_tags)) or '(none)'}"
        )

    numbered = enumerate(((c, q) for c in handbook.chapters for q in c.questions), start=1)
    selected = [
        (position, chapter, question)
        for position, (chapter, question) in numbered
        if (not wanted_chapters or chapter.id in wanted_chapters)
        and (not wanted_tags or set(question.tags) & set(wanted_tags))
    ]
    if not selected:
        raise HandbookError("no question matches the chosen chapters and tags together")
    return selected


# --- media ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A local image as it travels in the deck: named by its content, so an edited image is a new file
    and an unchanged one is never copied twice into the user's media folder."""

    name: str
    data: bytes


def media_name(data: bytes, suffix: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:20]}{suffix.lower()}"


def media_files(handbook: Handbook, selection: Sequence[Selected], report: Report) -> dict[Asset, MediaFile]:
    """The images the selected questions show, keyed by asset; unreadable ones are reported and left out."""
    found: dict[Asset, MediaFile] = {}
    for asset in sorted({a for _, c, q in selection for a in question_assets(c, q)}, key=lambda a: a.path):
        path = handbook.root / asset.path
        try:
            data = read_asset(handbook, asset)
        except OSError as exc:
            report.error(asset.path, None, f"cannot read image for the Anki deck: {exc.strerror or exc}")
            continue
        found[asset] = MediaFile(name=media_name(data, path.suffix), data=data)
    return found


def question_assets(chapter: Chapter, question: Question) -> list[Asset]:
    return [
        n.target for n, _ in walk_question(chapter, question) if isinstance(n, Image) and isinstance(n.target, Asset)
    ]


# --- fields -----------------------------------------------------------------------------------------


def anki_math(node: Math | MathBlock) -> Markup:
    """Formulas are left to Anki's own MathJax, which reads only ``\\( \\)`` and ``\\[ \\]`` (never ``$``)."""
    display = isinstance(node, MathBlock) or node.display
    opening, closing = (r"\[", r"\]") if display else (r"\(", r"\)")
    return Markup(opening) + escape(node.tex) + Markup(closing)


def _environment(media: Mapping[Asset, MediaFile], language: str) -> Environment:
    def image_src(target: Asset | RemoteImage) -> str | None:
        if isinstance(target, RemoteImage):
            return None  # the partial shows the URL as a link
        entry = media.get(target)
        return entry.name if entry is not None else None

    hooks = Hooks(
        math=anki_math,
        image_src=image_src,
        # A card cannot open another card; the anchor keeps the markup valid and the CSS shows it as text.
        question_href=lambda qid: f"#{question_anchor(qid)}",
    )
    return environment(hooks, language=language)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteContent:
    """Everything a note carries, decided before anything is written."""

    question_id: str
    guid: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    deck_name: str
    deck_id: int
    deck_description: str
    position: int
    media: tuple[str, ...]
    inputs: tuple[Path, ...]  # the files the note was made from, for dating it when no state exists

    @property
    def digest(self) -> str:
        return _digest([self.guid, list(self.fields), sorted(self.tags)])


def _note_content(
    handbook: Handbook, chapter: Chapter, question: Question, position: int,
    media: Mapping[Asset, MediaFile], *, fields: Any,
) -> NoteContent:
    assets = question_assets(chapter, question)
    values = (
        fields.question_field(question),
        fields.answer_field(question),
        fields.chapter_field(chapter),
        fields.tags_field(question),
        fields.source_field(question),
    )
    return NoteContent(
        question_id=question.id,
        guid=note_guid(handbook.meta.id, question.id),
        fields=tuple(str(v).strip() for v in values),
        tags=note_tags(chapter, question),
        deck_name=deck_name(handbook, chapter),
        deck_id=deck_id(handbook.meta.anki.deck_id, chapter.id),
        deck_description=str(escape(chapter.description)),
        position=position,
        media=tuple(sorted({media[a].name for a in assets if a in media})),
        inputs=(handbook.root / question.source.path,
                *(handbook.root / a.path for a in assets), *_template_paths()),
    )


def note_guid(handbook_id: str, question_id: str) -> str:
    """The note's identity in every collection: the handbook id and the question id, nothing else."""
    return str(genanki.guid_for(handbook_id, question_id))


def note_tags(chapter: Chapter, question: Question) -> tuple[str, ...]:
    """The question's tags, then the chapter id; Anki compares tags without case and splits on spaces
    (the model already forbids spaces)."""
    seen: set[str] = set()
    tags = []
    for tag in (*question.tags, chapter.id):
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


def _deck_part(text: str) -> str:
    # "::" separates deck levels in Anki; inside a title it would invent an extra level.
    return " ".join(text.replace("::", "：").split())


def deck_name(handbook: Handbook, chapter: Chapter) -> str:
    """``<handbook title>::<NN chapter title>``: zero-padded, so Anki lists chapters in book order."""
    return f"{_deck_part(handbook.meta.title)}::{chapter.number:02d} {_deck_part(chapter.title)}"


def deck_id(handbook_deck_id: int, chapter_id: str) -> int:
    """A fixed id per chapter deck, derived from the handbook's deck id and the chapter id."""
    digest = hashlib.sha256(f"{handbook_deck_id}/{chapter_id}".encode()).digest()
    return (1 << 47) + int.from_bytes(digest[:6], "big") % (1 << 47)


# --- the note type ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteTypeContent:
    name: str
    front: str
    back: str
    css: str

    @property
    def digest(self) -> str:
        return _digest([self.name, list(FIELDS), self.front, self.back, self.css])


def _note_type_content(handbook: Handbook, env: Environment) -> NoteTypeContent:
    css = env.get_template("anki/card.css.j2").render(
        code_day=Markup(pygments_css(CODE_STYLE_DAY, "pre.code")),
        code_night=Markup(
            pygments_css(CODE_STYLE_NIGHT, ".nightMode pre.code")
            + "\n"
            + pygments_css(CODE_STYLE_NIGHT, ".night_mode pre.code")
        ),
    )
    return NoteTypeContent(
        name=f"{handbook.meta.title} ({handbook.meta.id})",
        front=(_TEMPLATE_DIR / "front.html").read_text(encoding="utf-8"),
        back=(_TEMPLATE_DIR / "back.html").read_text(encoding="utf-8"),
        css=css,
    )


def _template_paths() -> tuple[Path, ...]:
    return tuple(sorted(p for pattern in _TEMPLATE_FILES for p in TEMPLATES.glob(pattern) if p.is_file()))


def _base_time(options: Options, inputs: Iterable[Path]) -> int:
    if options.source_date_epoch is not None:
        return options.source_date_epoch
    times = [int(p.stat().st_mtime) for p in inputs if p.is_file()]
    return max(times, default=0)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# --- the package ------------------------------------------------------------------------------------


class _Note(genanki.Note):  # type: ignore[misc]
    """A genanki note with its own modification time. genanki stamps every note with the one time given
    to the package, but Anki decides update-or-keep note by note by comparing exactly that time."""

    def __init__(self, *, modified: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.modified = modified

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        super().write_to_db(cursor, self.modified, deck_id, id_gen)


def package(
    handbook: Handbook, notes: Sequence[NoteContent], note_type: NoteTypeContent, stamps: Stamps,
    media: Mapping[Asset, MediaFile],
) -> bytes:
    """The ``.apkg`` bytes: a collection with our note type, a deck per chapter under one handbook deck,
    and the media; identical input gives identical bytes."""
    assert stamps.note_type is not None
    model = genanki.Model(
        model_id=handbook.meta.anki.model_id,
        name=note_type.name,
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": labels(handbook.meta.language)["card"], "qfmt": note_type.front, "afmt": note_type.back}],
        css=note_type.css,
        sort_field_index=0,
    )
    decks: dict[int, Any] = {
        handbook.meta.anki.deck_id: genanki.Deck(
            deck_id=handbook.meta.anki.deck_id, name=_deck_part(handbook.meta.title),
            description=str(escape(handbook.meta.description)),
        )
    }
    for note in notes:
        deck = decks.setdefault(note.deck_id, genanki.Deck(
            deck_id=note.deck_id, name=note.deck_name, description=note.deck_description,
        ))
        deck.add_model(model)
        deck.add_note(_Note(
            model=model, fields=list(note.fields), tags=list(note.tags), guid=note.guid,
            due=note.position, modified=stamps.modified(note.question_id),
        ))

    # The package time dates the note type (Anki updates its templates and CSS only when it grows) and
    # seeds the ids genanki gives new notes and cards (Anki reads a note id as its creation time).
    timestamp = stamps.note_type.modified
    connection = sqlite3.connect(":memory:")
    try:
        genanki.Package(list(decks.values())).write_to_db(
            connection.cursor(), timestamp, itertools.count(timestamp * 1000)
        )
        connection.commit()
        collection = connection.serialize()
    finally:
        connection.close()

    used = sorted({m for n in notes for m in n.media})
    by_name = {m.name: m for m in media.values()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "collection.anki2", collection)
        _add(archive, "media", json.dumps({str(i): name for i, name in enumerate(used)}).encode())
        for index, name in enumerate(used):
            _add(archive, str(index), by_name[name].data, compress_type(name))
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, name: str, data: bytes, method: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = method
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)

