"""The Anki deck, judged by the real Anki library: import it into a fresh collection, then re-import after
rebuilding, editing, reviewing and removing, exactly as a user would."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.dbproxy import DBProxy
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition, ImportResponse
from anki.notes import NoteId
from click.testing import CliRunner

from pipeline import anki as anki_output
from pipeline.anki import DECK_FILE, STATE_FILE, cloze_blocks, cloze_guid, cloze_model_id, deck_id, note_guid
from pipeline.build import Options, build
from pipeline.cli import main
from pipeline.diagnostics import ContentError
from pipeline.model import Text, descendants
from pipeline.pages import PAGES_FILE
from pipeline.parser import load_handbook
from pipeline.render import pygments_css

from .conftest import FIXTURES, REPO

MINI = FIXTURES / "mini"
EPOCH = 1_700_000_000
MODEL_ID = 1000001
BOOK_DECK_ID = 1000002

SECOND_CHAPTER = """\
---
id: more
title: 进阶
---

## 第三题 {#third tags="x deep"}

第三题的答案。
"""


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of the mini handbook plus a second chapter, free to edit."""
    root = tmp_path / "content"
    shutil.copytree(MINI, root)
    (root / "02-more.md").write_text(SECOND_CHAPTER, encoding="utf-8")
    return root


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    folder = tmp_path / "anki-profile"
    folder.mkdir()
    col = Collection(str(folder / "collection.anki2"))
    yield col
    col.close()


def build_deck(content: Path, out: Path, *, epoch: int | None = EPOCH) -> tuple[Path, list[str]]:
    messages: list[str] = []
    build(content, ["anki"], Options(out_dir=out, source_date_epoch=epoch), progress=messages.append)
    return out / DECK_FILE, messages


def import_deck(col: Collection, deck: Path) -> ImportResponse.Log:
    """Import as Anki's import dialog does by default: update notes and note types only when newer."""
    newer = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER
    options = ImportAnkiPackageOptions(
        merge_notetypes=False, update_notes=newer, update_notetypes=newer, with_scheduling=False,
        with_deck_configs=False,
    )
    return col.import_anki_package(ImportAnkiPackageRequest(package_path=str(deck), options=options)).log


def counts(log: ImportResponse.Log) -> tuple[int, int, int, int]:
    return len(log.new), len(log.updated), len(log.duplicate), len(log.conflicting)


def sql(col: Collection) -> DBProxy:
    assert col.db is not None
    return col.db


def note_by_guid(col: Collection, guid: str) -> tuple[NoteId, dict[str, str], list[str]]:
    nid = NoteId(sql(col).scalar("select id from notes where guid = ?", guid))
    note = col.get_note(nid)
    return nid, dict(note.items()), sorted(note.tags)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- the deck as imported -----------------------------------------------------------------------


def test_deck_has_one_note_per_question_with_our_note_type_decks_tags_and_fields(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    assert counts(import_deck(collection, deck)) == (3, 0, 0, 0)

    assert collection.note_count() == 3
    assert collection.card_count() == 3
    names = {d.name for d in collection.decks.all_names_and_ids()}
    assert {"迷你手册", "迷你手册::01 基础", "迷你手册::02 进阶"} <= names

    note_type = collection.models.get(MODEL_ID)  # type: ignore[arg-type]
    assert note_type is not None
    assert [f["name"] for f in note_type["flds"]] == ["Question", "Answer", "Chapter", "Tags shown", "Source"]
    for selector in (".nightMode", ".night_mode", "pre.code .tok-k", ".nightMode pre.code .tok-k"):
        assert selector in note_type["css"]

    nid, fields, tags = note_by_guid(collection, note_guid("mini", "what-is-x"))
    # Under the handbook's id, so they never merge with the user's own: tags, chapter, difficulty.
    assert tags == ["mini::basics", "mini::math", "mini::章节::basics", "mini::难度::2"]
    assert fields["Question"] == '什么是 <span class="math math-inline">\\(x\\)</span>？'
    assert fields["Chapter"] == "第 1 章 · 基础"
    assert fields["Source"] == "what-is-x · 01-basics.md"
    assert '<span class="tag">math</span>' in fields["Tags shown"]
    answer = fields["Answer"]
    assert "\\[E = mc^2\\]" in answer and "\\(y\\)" in answer
    assert "价格 $5" in answer and "\\(5" not in answer  # a dollar in code stays a dollar
    assert 'class="tok-' in answer  # code highlighted with class-based spans

    # The image travels as a content-named media file that the answer references by that name.
    media = os.listdir(collection.media.dir())
    assert len(media) == 1 and media[0].endswith(".svg") and len(media[0]) == len("x" * 20 + ".svg")
    assert f'<img src="{media[0]}"' in answer
    assert (Path(collection.media.dir()) / media[0]).read_bytes() == (content / "images/dot.svg").read_bytes()

    # The front shows the question and its chapter; the back adds the answer.
    card = collection.get_note(nid).cards()[0]
    assert collection.decks.name(card.did) == "迷你手册::01 基础"
    front, back = card.question(), card.answer()
    assert "什么是" in front and "第 1 章 · 基础" in front and "答案第一段" not in front
    assert "答案第一段" in back and "什么是" in back

    _, _, tags = note_by_guid(collection, note_guid("mini", "third"))
    assert tags == ["mini::deep", "mini::x", "mini::章节::more"]


def test_new_cards_come_in_handbook_order(content: Path, tmp_path: Path, collection: Collection) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)
    order = sql(collection).list(
        "select n.guid from cards c join notes n on n.id = c.nid where c.queue = 0 order by c.due"
    )
    assert order == [note_guid("mini", q) for q in ("what-is-x", "second", "third")]


def test_package_has_fixed_ids_and_remote_images_stay_links(content: Path, tmp_path: Path) -> None:
    edit(content / "02-more.md", "第三题的答案。", "第三题的答案。\n\n![远程图](https://example.com/a.png)")
    deck, _ = build_deck(content, tmp_path / "out")
    with zipfile.ZipFile(deck) as archive:
        media = json.loads(archive.read("media"))
        assert list(media) == ["0"] and media["0"].endswith(".svg")  # only the local image is packed
        database = tmp_path / "collection.anki2"
        database.write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(database) as db:
        decks = json.loads(db.execute("select decks from col").fetchone()[0])
        models = json.loads(db.execute("select models from col").fetchone()[0])
        fields = [row[0].split("\x1f") for row in db.execute("select flds from notes")]
    assert set(models) == {str(MODEL_ID)}
    assert {int(i): d["name"] for i, d in decks.items() if d["name"] != "Default"} == {
        BOOK_DECK_ID: "迷你手册",
        deck_id(BOOK_DECK_ID, "basics"): "迷你手册::01 基础",
        deck_id(BOOK_DECK_ID, "more"): "迷你手册::02 进阶",
    }
    assert deck_id(BOOK_DECK_ID, "basics") != deck_id(BOOK_DECK_ID, "more")
    answer = next(f[1] for f in fields if "第三题的答案" in f[1])
    assert '<a href="https://example.com/a.png">https://example.com/a.png</a>' in answer
    assert "<img" not in answer


# --- identity and updates -----------------------------------------------------------------------


def test_unchanged_rebuild_is_identical_and_reimport_changes_nothing(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    first = deck.read_bytes()
    assert counts(import_deck(collection, deck)) == (3, 0, 0, 0)

    deck, _ = build_deck(content, tmp_path / "out")
    assert deck.read_bytes() == first
    assert counts(import_deck(collection, deck)) == (0, 0, 3, 0)


def test_edited_answer_updates_the_note_and_keeps_its_reviews(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)
    guid = note_guid("mini", "what-is-x")
    nid, _, _ = note_by_guid(collection, guid)
    card = collection.get_note(nid).cards()[0]
    card.start_timer()
    collection.sched.answerCard(card, 3)
    reviews = sql(collection).all("select id, cid, ease from revlog")
    assert len(reviews) == 1

    # SOURCE_DATE_EPOCH stays the same: the note's time must still move forward.
    edit(content / "01-basics.md", "答案第一段", "改写后的答案第一段")
    deck, _ = build_deck(content, tmp_path / "out")
    assert counts(import_deck(collection, deck)) == (0, 1, 2, 0)

    same_nid, fields, _ = note_by_guid(collection, guid)
    assert same_nid == nid
    assert "改写后的答案第一段" in fields["Answer"]
    assert sql(collection).all("select id, cid, ease from revlog") == reviews
    assert collection.get_card(card.id).queue != 0  # still scheduled as reviewed, not reset to new
    assert collection.note_count() == 3


def test_edited_title_keeps_the_same_note(content: Path, tmp_path: Path, collection: Collection) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)
    nid, _, _ = note_by_guid(collection, note_guid("mini", "second"))

    edit(content / "01-basics.md", "## 第二题", "## 第二题（新标题）")
    deck, _ = build_deck(content, tmp_path / "out")
    assert counts(import_deck(collection, deck)) == (0, 1, 2, 0)
    same_nid, fields, _ = note_by_guid(collection, note_guid("mini", "second"))
    assert (same_nid, fields["Question"]) == (nid, "第二题（新标题）")


def test_note_times_grow_from_the_sources_without_source_date_epoch(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    chapter = content / "01-basics.md"
    os.utime(chapter, (EPOCH, EPOCH))
    out = tmp_path / "out"
    deck, _ = build_deck(content, out, epoch=None)
    import_deck(collection, deck)
    assert collection.get_note(note_by_guid(collection, note_guid("mini", "second"))[0]).mod >= EPOCH

    # An edit whose file time went backwards (a checkout, a copy with -p) still reaches Anki.
    edit(chapter, "简单回答。", "更好的回答。")
    os.utime(chapter, (EPOCH - 1000, EPOCH - 1000))
    deck, _ = build_deck(content, out, epoch=None)
    assert counts(import_deck(collection, deck)) == (0, 1, 2, 0)
    assert "更好的回答" in note_by_guid(collection, note_guid("mini", "second"))[1]["Answer"]


def test_removed_question_stays_in_anki_and_is_reported_once(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)

    edit(content / "02-more.md", '## 第三题 {#third tags="x deep"}\n\n第三题的答案。\n', "## 别的题 {#other}\n\n答。\n")
    deck, messages = build_deck(content, tmp_path / "out")
    assert any("third" in m and "left the handbook" in m for m in messages)
    assert counts(import_deck(collection, deck)) == (1, 0, 2, 0)
    assert collection.note_count() == 4  # nothing deleted
    state = json.loads((tmp_path / "out" / STATE_FILE).read_text(encoding="utf-8"))
    assert state["notes"]["third"]["removed"] is True
    # The search the build suggests finds exactly that note.
    assert collection.find_notes('"Source:third ·*"') == [note_by_guid(collection, note_guid("mini", "third"))[0]]

    _, messages = build_deck(content, tmp_path / "out")
    assert not any("left the handbook" in m for m in messages)


def test_changed_styling_updates_the_note_type(
    content: Path, tmp_path: Path, collection: Collection, monkeypatch: pytest.MonkeyPatch,
) -> None:
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)
    before = collection.models.get(MODEL_ID)  # type: ignore[arg-type]
    assert before is not None

    monkeypatch.setattr(anki_output, "CODE_STYLE_DAY", "friendly")
    deck, _ = build_deck(content, tmp_path / "out")
    assert counts(import_deck(collection, deck)) == (0, 0, 3, 0)  # the notes themselves did not change
    collection.models._clear_cache()  # as Anki's main window does after every operation
    after = collection.models.get(MODEL_ID)  # type: ignore[arg-type]
    assert after is not None and after["css"] != before["css"]
    assert pygments_css("friendly", "pre.code") in after["css"]


def test_corrupt_state_file_is_a_warning_not_a_traceback(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / STATE_FILE).write_text("{not json", encoding="utf-8")
    warnings: list[str] = []
    options = Options(out_dir=out, source_date_epoch=EPOCH)
    build(content, ["anki"], options, on_diagnostic=lambda d: warnings.append(str(d)))
    assert len(warnings) == 1 and "unreadable Anki state" in warnings[0] and ": warning: " in warnings[0]
    assert json.loads((out / STATE_FILE).read_text(encoding="utf-8"))["format"] == 1


# --- subset builds through the command line ---------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def guids_in(deck: Path) -> set[str]:
    with zipfile.ZipFile(deck) as archive:
        data = archive.read("collection.anki2")
    db = sqlite3.connect(":memory:")
    db.deserialize(data)
    try:
        return {row[0] for row in db.execute("select guid from notes")}
    finally:
        db.close()


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (["--chapter", "more"], {"third"}),
        (["--tag", "x"], {"second", "third"}),
        (["--tag", "math", "--tag", "deep"], {"what-is-x", "third"}),
        (["--chapter", "basics", "--tag", "x"], {"second"}),
    ],
)
def test_subset_build(content: Path, tmp_path: Path, selection: list[str], expected: set[str]) -> None:
    out = tmp_path / "out"
    code, output = run("build", "anki", "--content", str(content), "--out", str(out), "-q", *selection)
    assert code == 0, output
    assert guids_in(out / DECK_FILE) == {note_guid("mini", q) for q in expected}


def test_subset_then_full_deck_import_cleanly(content: Path, tmp_path: Path, collection: Collection) -> None:
    out = tmp_path / "out"
    assert run("build", "anki", "--content", str(content), "--out", str(out), "-q", "--tag", "x")[0] == 0
    assert counts(import_deck(collection, out / DECK_FILE)) == (2, 0, 0, 0)
    due = sql(collection).scalar(
        "select c.due from cards c join notes n on n.id = c.nid where n.guid = ?", note_guid("mini", "second")
    )
    assert due == 2  # its place in the whole handbook
    assert run("build", "anki", "--content", str(content), "--out", str(out), "-q")[0] == 0
    assert counts(import_deck(collection, out / DECK_FILE)) == (1, 0, 2, 0)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--chapter", "nope"], "unknown chapter id 'nope'; the chapters are: basics, more"),
        (["--tag", "nope"], "no question has the tag 'nope'"),
        (["--chapter", "more", "--tag", "math"], "no question matches the chosen chapters and tags"),
    ],
)
def test_bad_subset_is_a_clear_error(content: Path, tmp_path: Path, option: list[str], message: str) -> None:
    out = tmp_path / "out"
    code, output = run("build", "anki", "--content", str(content), "--out", str(out), "-q", *option)
    assert code == 1
    assert message in output
    assert "Traceback" not in output
    assert not (out / DECK_FILE).exists()


# --- the real handbook ------------------------------------------------------------------------


def test_real_handbook_imports(tmp_path: Path, collection: Collection) -> None:
    root = REPO / "content"
    if not (root / "handbook.toml").is_file():
        pytest.skip("content/ is not written yet")
    try:
        handbook, _ = load_handbook(root)
    except ContentError as exc:
        pytest.skip(f"content/ does not build yet: {exc}")
    deck, _ = build_deck(root, tmp_path / "out")
    log = import_deck(collection, deck)
    with_clozes = [q for q in handbook.questions if cloze_blocks(q)]
    assert len(with_clozes) >= len(handbook.chapters)  # at least one cloze in every chapter
    assert counts(log) == (len(handbook.questions) + len(with_clozes), 0, 0, 0)
    clozes = sum(
        isinstance(n, Text) and n.text.startswith("{{c") for q in with_clozes for n in descendants(cloze_blocks(q))
    )
    assert collection.card_count() == len(handbook.questions) + clozes  # one card per ==…==
    names = {d.name for d in collection.decks.all_names_and_ids()}
    for chapter in handbook.chapters:
        assert any(n.endswith(f"::{chapter.number:02d} {chapter.title}") for n in names)
    with zipfile.ZipFile(io.BytesIO(deck.read_bytes())) as archive:
        packed = set(json.loads(archive.read("media")).values())
    assert packed <= set(os.listdir(collection.media.dir()))


# --- study features (issue 16): key points, clozes, tags, source ---------------------------------

KEY_POINTS = """\
## 有要点的题 {#keyed difficulty=1 section="第一 组"}

> [!要点]
> 一句话的==要点==。

完整答案里有 ==术语甲==，还有 ==术语乙==。

- 列表里没有填空
- 列表里有 ==术语丙==
"""


def test_back_shows_key_points_first_and_the_full_answer_folded(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    (content / "03-keys.md").write_text("---\nid: keys\ntitle: 要点\n---\n\n" + KEY_POINTS, encoding="utf-8")
    deck, _ = build_deck(content, tmp_path / "out")
    import_deck(collection, deck)
    nid, fields, tags = note_by_guid(collection, note_guid("mini", "keyed"))
    answer = fields["Answer"]
    assert answer.index("一句话的") < answer.index('<details class="card-full">') < answer.index("完整答案里")
    assert "[!要点]" not in answer and '<mark class="cloze">术语甲</mark>' in answer
    assert tags == ["mini::分组::第一_组", "mini::章节::keys", "mini::难度::1"]
    assert fields["Chapter"] == "第 3 章 · 要点 · 第一 组"
    back = collection.get_note(nid).cards()[0].answer()
    assert "matchMedia" in back  # wide screens open the folded answer

    # The cloze note: one card per ==…==, in reading order, the key points' cloze first.
    cloze_nid, cloze_fields, cloze_tags = note_by_guid(collection, cloze_guid("mini", "keyed"))
    assert cloze_tags == tags
    text = cloze_fields["Text"]
    assert [text.index(f"{{{{c{n}::") for n in range(1, 5)] == sorted(text.index(f"{{{{c{n}::") for n in range(1, 5))
    assert "{{c2::术语甲}}" in text and "{{c4::术语丙}}" in text and "列表里没有填空" not in text
    cards = collection.get_note(cloze_nid).cards()
    assert len(cards) == 4
    assert collection.get_note(cloze_nid).note_type()["id"] == cloze_model_id(MODEL_ID)  # type: ignore[index]
    first = next(c for c in cards if c.ord == 1)
    assert ">术语甲<" not in first.question() and 'data-ordinal="2">[...]</span>' in first.question()
    assert ">术语甲</span>" in first.answer()


def test_edited_cloze_updates_the_cloze_note_and_keeps_its_reviews(
    content: Path, tmp_path: Path, collection: Collection,
) -> None:
    (content / "03-keys.md").write_text("---\nid: keys\ntitle: 要点\n---\n\n" + KEY_POINTS, encoding="utf-8")
    deck, _ = build_deck(content, tmp_path / "out")
    assert counts(import_deck(collection, deck)) == (5, 0, 0, 0)
    guid = cloze_guid("mini", "keyed")
    nid, _, _ = note_by_guid(collection, guid)
    card = next(c for c in collection.get_note(nid).cards() if c.ord == 1)
    card.start_timer()
    collection.sched.answerCard(card, 3)
    reviews = sql(collection).all("select id, cid, ease from revlog")
    notes, cards = collection.note_count(), collection.card_count()

    edit(content / "03-keys.md", "==术语甲==", "==改过的术语甲==")
    deck, _ = build_deck(content, tmp_path / "out")
    # The basic note shows the highlight too, so it changes with the cloze note.
    assert counts(import_deck(collection, deck)) == (0, 2, 3, 0)
    same_nid, fields, _ = note_by_guid(collection, guid)
    assert same_nid == nid and "{{c2::改过的术语甲}}" in fields["Text"]
    assert (collection.note_count(), collection.card_count()) == (notes, cards)
    assert sql(collection).all("select id, cid, ease from revlog") == reviews
    assert collection.get_card(card.id).queue != 0
    state = json.loads((tmp_path / "out" / STATE_FILE).read_text(encoding="utf-8"))
    assert "keyed/cloze" in state["notes"]


def test_source_links_the_html_copy_and_names_the_printed_page(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / PAGES_FILE).write_text(
        json.dumps({"format": 1, "handbook": "mini", "pages": {"what-is-x": 37}}), encoding="utf-8"
    )
    config = content / "handbook.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + 'html_url = "file:///home/me/handbook/html/"\n', encoding="utf-8"
    )
    deck, _ = build_deck(content, out)
    with zipfile.ZipFile(deck) as archive:
        db = sqlite3.connect(":memory:")
        db.deserialize(archive.read("collection.anki2"))
    sources = {row[0]: row[1].split("\x1f")[4] for row in db.execute("select guid, flds from notes")}
    db.close()
    assert sources[note_guid("mini", "what-is-x")] == (
        'what-is-x · <a class="source-link" href="file:///home/me/handbook/html/chapter-basics.xhtml#q-what-is-x">'
        "01-basics.md</a> · 第 37 页"
    )
    assert sources[note_guid("mini", "second")].endswith("01-basics.md</a>")  # no page known: none named
