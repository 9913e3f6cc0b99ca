"""The Anki deck: one note per question, rendered through the shared partials. genanki lives here only.

Two things decide whether a re-import updates a user's note or duplicates it, and both are explicit:

* the note's GUID comes from the handbook id and the question id, nothing else, so editing a question keeps
  its note and its review history;
* Anki replaces a stored note only when the incoming note's modification time is newer than its own (an
  equal time counts as a duplicate, even with the "always update" option). Each note therefore carries its
  own time, kept in a small state file next to the deck: the time stays put while the note's content is
  unchanged and moves forward — past the previous time, never back — when it changes.
  See ``Stamps``.

Rendering the notes' fields is most of the deck's time, so each chapter's fields are cached under a key
over everything they are made from (``_fields_key``); the stamps and the package are made from all notes
every build, so a deck made with cached fields has the bytes of one made without.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki
from jinja2 import Environment
from markupsafe import Markup, escape

from .anki_state import STATE_FILE as STATE_FILE
from .anki_state import Stamps
from .archive import compress_type
from .cache import Cache, key, tool_key
from .context import Context, Options, Progress
from .diagnostics import Report
from .html import chapter_file
from .labels import Labels, labels
from .locations import TEMPLATES
from .model import (
    Asset,
    Block,
    BulletList,
    Chapter,
    Cloze,
    Handbook,
    Image,
    Math,
    MathBlock,
    OrderedList,
    Question,
    RemoteImage,
    Text,
    descendants,
    walk_question,
)
from .output_names import DECK_FILE as DECK_FILE
from .pages import PAGES_FILE, read_pages
from .render import Hooks, environment, pygments_css, question_anchor
from .resources import read_asset
from .selection import Selected, select
from .workers import release_memory

FIELDS = ("Question", "Answer", "Chapter", "Tags shown", "Source")
CLOZE_FIELDS = ("Text", "Question", "Back Extra", "Chapter", "Tags shown", "Source")
CODE_STYLE_DAY = "default"
CODE_STYLE_NIGHT = "monokai"
_TEMPLATE_DIR = TEMPLATES / "anki"
# Every template file that shapes a note's fields or its card: their times date a note when no state exists.
_TEMPLATE_FILES = ("anki/*", "partials/*")
# Zip entries get one fixed date: the archive must not change when nothing else did.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# The cache's namespace for each chapter's note fields (rendering them is most of the deck's time).
_FIELDS_CACHE = "anki-fields"


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    """Write ``handbook.apkg`` (all questions, or the subset chosen by ``--chapter``/``--tag``) and the
    state file that keeps note times growing across builds."""
    selection = select(handbook, ctx.options.chapters, ctx.options.tags)
    assets = {q.id: question_assets(c, q) for _, c, q in selection}
    errors = len(ctx.report.errors)
    media = media_files(handbook, assets, ctx.report)
    if len(ctx.report.errors) > errors:
        return []  # the build stops on the reported errors; the previous deck stays as it was
    env = _environment(media, handbook.meta.language)
    pages = read_pages(ctx.read(PAGES_FILE), handbook)
    notes = _notes(handbook, selection, assets, media, env, pages, Cache(ctx.options.cache_dir), ctx.progress)

    state_path = ctx.options.out_dir / STATE_FILE
    previous = Stamps.load(state_path, handbook.meta.id, ctx.report)
    note_type = _note_type_content(handbook, env)
    templates = _template_paths()
    stamps = previous.updated(
        handbook,
        note_type=(_digest([note_type.digest, note_type.cloze_digest]), _base_time(ctx.options, templates)),
        notes={n.key: (n.digest, _base_time(ctx.options, (*n.inputs, *templates))) for n in notes},
    )
    gone = previous.newly_removed(handbook)
    if gone:
        ctx.progress(
            f"anki: {len(gone)} question(s) left the handbook; their notes stay in Anki until you delete "
            f"them there (in the browser, search \"Source:<id> ·*\"): {', '.join(gone)}"
        )

    # Zipped straight into the output's temporary file: the deck is mostly images (~80 MB on the corpus).
    staged = ctx.writer.stage(ctx.options.out_dir / DECK_FILE)
    try:
        with ctx.bulk:
            package(handbook, notes, note_type, stamps, media, staged.temporary)
        clozes = sum(1 for n in notes if n.cloze)
        ctx.progress(f"anki: {len(notes) - clozes} notes and {clozes} cloze notes in "
                     f"{len({n.deck_name for n in notes})} decks, {len(media)} media files")
        del notes, media, env  # the commit may wait for the PDF: not with every image in memory
        release_memory()
        deck = staged.commit()
    finally:
        staged.discard()
    state = ctx.writer.write_text(state_path, stamps.dumps())
    return [deck, state]


# --- media ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A local image as it travels in the deck: named by its content, so an edited image is a new file
    and an unchanged one is never copied twice into the user's media folder."""

    name: str
    data: bytes


def media_name(data: bytes, suffix: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:20]}{suffix.lower()}"


def media_files(
    handbook: Handbook, assets: Mapping[str, Sequence[Asset]], report: Report,
) -> dict[Asset, MediaFile]:
    """The images the selected questions show (``assets``: by question id), keyed by asset; unreadable
    ones are reported and left out."""
    found: dict[Asset, MediaFile] = {}
    for asset in sorted({a for shown in assets.values() for a in shown}, key=lambda a: a.path):
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
    cloze: bool  # a cloze note (one card per ==…==) rather than the question's basic note
    guid: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    deck_name: str
    deck_id: int
    deck_description: str
    position: int
    media: tuple[str, ...]
    inputs: tuple[Path, ...]  # its source and images (the templates aside), for dating it when no state exists

    @property
    def key(self) -> str:
        """The note's entry in the state file: the question id, with ``/cloze`` for its cloze note."""
        return f"{self.question_id}/cloze" if self.cloze else self.question_id

    @property
    def digest(self) -> str:
        return _digest([self.guid, list(self.fields), sorted(self.tags)])


# A note's fields (the Question's and, with clozes, the Cloze note's); the Cloze note's are None without.
NoteFields = tuple[list[str], list[str] | None]


def _note_fields(
    handbook: Handbook, chapter: Chapter, question: Question, fields: Any, pages: Mapping[str, int],
) -> NoteFields:
    """The fields of the question's basic note, and of its cloze note when its answer marks clozes:
    the rendering, which is what takes the time (see ``_fields_key``)."""
    source = fields.source_field(question, source_href(handbook, chapter, question), pages.get(question.id, 0))
    values = (
        fields.question_field(question),
        fields.answer_field(question),
        fields.chapter_field(chapter, question),
        fields.tags_field(question),
        source,
    )
    basic = [str(v).strip() for v in values]
    marked = cloze_blocks(question)
    if not marked:
        return basic, None
    cloze_values = (
        fields.cloze_field(question, marked),
        fields.question_field(question),
        fields.key_points_field(question),
        fields.chapter_field(chapter, question),
        fields.tags_field(question),
        source,
    )
    return basic, [str(v).strip() for v in cloze_values]


def _note_contents(
    handbook: Handbook, chapter: Chapter, question: Question, position: int, assets: Sequence[Asset],
    media: Mapping[Asset, MediaFile], fields: NoteFields,
) -> list[NoteContent]:
    """The question's basic note, and its cloze note when it has cloze ``fields``."""
    basic_fields, cloze_fields = fields
    basic = NoteContent(
        question_id=question.id,
        cloze=False,
        guid=note_guid(handbook.meta.id, question.id),
        fields=tuple(basic_fields),
        tags=note_tags(handbook, chapter, question),
        deck_name=deck_name(handbook, chapter),
        deck_id=deck_id(handbook.meta.anki.deck_id, chapter.id),
        deck_description=str(escape(chapter.description)),
        position=position,
        media=tuple(sorted({media[a].name for a in assets if a in media})),
        inputs=(handbook.root / question.source.path, *(handbook.root / a.path for a in assets)),
    )
    if cloze_fields is None:
        return [basic]
    cloze = dataclasses.replace(
        basic, cloze=True, guid=cloze_guid(handbook.meta.id, question.id), fields=tuple(cloze_fields),
    )
    return [basic, cloze]


# --- the fields' cache ------------------------------------------------------------------------------


def _notes(
    handbook: Handbook, selection: Sequence[Selected], assets: Mapping[str, Sequence[Asset]],
    media: Mapping[Asset, MediaFile], env: Environment, pages: Mapping[str, int], cache: Cache,
    progress: Progress,
) -> list[NoteContent]:
    """The notes of the selected questions, chapter by chapter. A chapter's fields come from the cache
    when nothing they are made from changed (``_fields_key``), so an edit renders one chapter's."""
    chapters = _by_chapter(selection)
    fields = functools.cache(lambda: env.get_template("anki/fields.html.j2").module)  # compiled if needed
    notes: list[NoteContent] = []
    rendered = 0
    for chapter, chosen in chapters:
        entry = _fields_key(handbook, chapter, [q for _, q in chosen], assets, media, pages)
        values = _cached_fields(cache, entry, len(chosen))
        if values is None:
            values = [_note_fields(handbook, chapter, q, fields(), pages) for _, q in chosen]
            cache.put_record(_FIELDS_CACHE, entry, {"notes": values})
            rendered += 1
        for (position, question), note_fields in zip(chosen, values, strict=True):
            notes += _note_contents(handbook, chapter, question, position, assets[question.id], media, note_fields)
    progress(f"anki: note fields of {rendered} of {len(chapters)} chapters rendered, the others from the cache")
    return notes


def _by_chapter(selection: Sequence[Selected]) -> list[tuple[Chapter, list[tuple[int, Question]]]]:
    """The selected questions grouped by chapter (with their positions), in handbook order."""
    groups = [list(group) for _, group in itertools.groupby(selection, key=lambda selected: selected[1].id)]
    return [(group[0][1], [(position, question) for position, _, question in group]) for group in groups]


def _fields_key(
    handbook: Handbook, chapter: Chapter, questions: Sequence[Question], assets: Mapping[str, Sequence[Asset]],
    media: Mapping[Asset, MediaFile], pages: Mapping[str, int],
) -> str:
    """The cache entry of a chapter's note fields: a key over all they are made from. The tool (pipeline
    code, templates, the interface words, library versions), the handbook's settings (language, ids, the
    HTML copy's address), the chapter as read (its ``repr`` holds every question, node and source line),
    which of its questions are chosen, the names of their images (from the images' bytes) and their
    printed pages."""
    images = {a.path.as_posix(): media[a].name for q in questions for a in assets[q.id] if a in media}
    return key(
        tool_key(),
        _FIELDS_CACHE,
        repr(handbook.meta),
        repr(chapter),
        json.dumps([q.id for q in questions]),
        json.dumps(images, sort_keys=True),
        json.dumps([pages.get(q.id, 0) for q in questions]),
    )


def _cached_fields(cache: Cache, entry: str, count: int) -> list[NoteFields] | None:
    """The ``count`` notes' fields stored under ``entry``; None on a miss or anything malformed."""
    record = cache.get_record(_FIELDS_CACHE, entry)
    if record is None:
        return None
    stored = record[0].get("notes")
    if not isinstance(stored, list) or len(stored) != count:
        return None
    values: list[NoteFields] = []
    for item in stored:
        if not (isinstance(item, list) and len(item) == 2 and _strings(item[0], len(FIELDS))):
            return None
        if item[1] is not None and not _strings(item[1], len(CLOZE_FIELDS)):
            return None
        values.append((item[0], item[1]))
    return values


def _strings(value: Any, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and all(isinstance(v, str) for v in value)


def note_guid(handbook_id: str, question_id: str) -> str:
    """The note's identity in every collection: the handbook id and the question id, nothing else."""
    return str(genanki.guid_for(handbook_id, question_id))


def cloze_guid(handbook_id: str, question_id: str) -> str:
    """The cloze note's identity: like the basic note's, and distinct from it."""
    return str(genanki.guid_for(handbook_id, question_id, "cloze"))


def cloze_blocks(question: Question) -> tuple[Block, ...]:
    """The blocks of the question's key points and answer that hold clozes, each ``==…==`` turned into
    Anki's ``{{cN::…}}`` in reading order (N from 1); of a list, only the items holding one."""
    given = question.key_points.blocks if question.key_points.given else ()
    chosen: list[Block] = []
    for block in (*given, *question.answer.blocks):
        if isinstance(block, BulletList | OrderedList):
            items = tuple(item for item in block.items if _has_cloze(item.blocks))
            if items:
                chosen.append(BulletList(items=items, tight=block.tight))
        elif _has_cloze((block,)):
            chosen.append(block)
    numbers = itertools.count(1)
    return tuple(_marked(block, numbers) for block in chosen)


def _has_cloze(blocks: tuple[Block, ...]) -> bool:
    return any(isinstance(n, Cloze) for n in descendants(blocks))


def _marked(node: Any, numbers: Iterator[int]) -> Any:
    """``node`` with each Cloze below it replaced by its children between ``{{cN::`` and ``}}`` texts."""
    if isinstance(node, tuple):
        out: list[Any] = []
        for child in node:
            if isinstance(child, Cloze):
                number = next(numbers)
                out += [Text(text=f"{{{{c{number}::"), *_marked(child.children, numbers), Text(text="}}")]
            else:
                out.append(_marked(child, numbers))
        return tuple(out)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {
            f.name: _marked(getattr(node, f.name), numbers)
            for f in dataclasses.fields(node) if isinstance(getattr(node, f.name), tuple)
        }
        return dataclasses.replace(node, **changes) if changes else node
    return node


def note_tags(handbook: Handbook, chapter: Chapter, question: Question) -> tuple[str, ...]:
    """Hierarchical tags under the handbook's id, so they never merge with a user's own: each of the
    question's tags, its chapter, its difficulty and its group. Anki splits tags on spaces and compares
    them without case."""
    words = labels(handbook.meta.language)
    root = handbook.meta.id
    wanted = [f"{root}::{tag}" for tag in question.tags]
    wanted.append(f"{root}::{_tag_part(words, 'tag_chapter')}::{chapter.id}")
    if question.difficulty:
        wanted.append(f"{root}::{_tag_part(words, 'tag_difficulty')}::{question.difficulty}")
    if question.section:
        section = "_".join(question.section.replace("::", "：").split())
        wanted.append(f"{root}::{_tag_part(words, 'tag_section')}::{section}")
    seen: set[str] = set()
    tags = []
    for tag in wanted:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


def _tag_part(words: Labels, name: str) -> str:
    return "_".join(words[name].split())


def source_href(handbook: Handbook, chapter: Chapter, question: Question) -> str:
    """The question's page in the HTML copy, under ``anki.html_url``; "" when that is not set."""
    base = handbook.meta.anki.html_url
    if not base:
        return ""
    return f"{base.rstrip('/')}/{chapter_file(chapter)}#{question_anchor(question.id)}"


def cloze_model_id(model_id: int) -> int:
    """The cloze note type's fixed id, derived from the handbook's note type id."""
    digest = hashlib.sha256(f"{model_id}/cloze".encode()).digest()
    return (1 << 40) + int.from_bytes(digest[:5], "big")


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
    """Both note types, the basic one and the cloze one: one stamp dates them together."""

    name: str
    front: str
    back: str
    cloze_front: str
    cloze_back: str
    css: str

    @property
    def digest(self) -> str:
        return _digest([self.name, list(FIELDS), self.front, self.back, self.css])

    @property
    def cloze_digest(self) -> str:
        return _digest([self.name, list(CLOZE_FIELDS), self.cloze_front, self.cloze_back, self.css])


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
        cloze_front=(_TEMPLATE_DIR / "cloze-front.html").read_text(encoding="utf-8"),
        cloze_back=(_TEMPLATE_DIR / "cloze-back.html").read_text(encoding="utf-8"),
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
    media: Mapping[Asset, MediaFile], target: Path,
) -> None:
    """Write the ``.apkg`` to ``target``: a collection with our note type, a deck per chapter under one
    handbook deck, and the media; identical input gives identical bytes."""
    assert stamps.note_type is not None
    model = genanki.Model(
        model_id=handbook.meta.anki.model_id,
        name=note_type.name,
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": labels(handbook.meta.language)["card"], "qfmt": note_type.front, "afmt": note_type.back}],
        css=note_type.css,
        sort_field_index=0,
    )
    words = labels(handbook.meta.language)
    cloze_model = genanki.Model(
        model_id=cloze_model_id(handbook.meta.anki.model_id),
        name=f"{note_type.name} {words['cloze_card']}",
        fields=[{"name": name} for name in CLOZE_FIELDS],
        templates=[{"name": words["cloze_card"], "qfmt": note_type.cloze_front, "afmt": note_type.cloze_back}],
        css=note_type.css,
        model_type=genanki.Model.CLOZE,
        sort_field_index=1,
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
        kind = cloze_model if note.cloze else model
        deck.add_model(kind)
        deck.add_note(_Note(
            model=kind, fields=list(note.fields), tags=list(note.tags), guid=note.guid,
            due=note.position, modified=stamps.modified(note.key),
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
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "collection.anki2", collection)
        _add(archive, "media", json.dumps({str(i): name for i, name in enumerate(used)}).encode())
        for index, name in enumerate(used):
            _add(archive, str(index), by_name[name].data, compress_type(name))


def _add(archive: zipfile.ZipFile, name: str, data: bytes, method: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = method
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)

