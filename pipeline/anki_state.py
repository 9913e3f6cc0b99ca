"""The Anki state file next to the deck: each note's modification time and a digest of what was
written then, so that Anki's "update if newer" sees exactly the notes that changed (see pipeline/anki.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .diagnostics import Report
from .model import Handbook

STATE_FILE = "anki-state.json"
STATE_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    digest: str
    modified: int
    removed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamps:
    """The modification time of each note (and of the note type) as last written, with a digest of what
    was written then. Kept in ``anki-state.json`` next to the deck.

    A time stays put while its digest is unchanged, so re-importing an unchanged deck changes nothing.
    When the digest changes the time becomes ``max(base, previous + 1)``: always newer than anything this
    state ever wrote, whatever the clock or ``SOURCE_DATE_EPOCH`` say. ``base`` is ``SOURCE_DATE_EPOCH``
    when set, otherwise the newest modification time of the files the note is made from; it is also the
    time of a note the state has never seen (a new question, or a lost state file).
    """

    handbook_id: str
    note_type: Stamp | None
    notes: Mapping[str, Stamp]

    @staticmethod
    def load(path: Path, handbook_id: str, report: Report) -> Stamps:
        empty = Stamps(handbook_id=handbook_id, note_type=None, notes={})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.warning(path, None, f"unreadable Anki state, note times start afresh: {exc}")
            return empty
        try:
            if data["format"] != STATE_FORMAT or data["handbook"] != handbook_id:
                return empty
            note_type = _stamp(data["note_type"]) if data.get("note_type") else None
            notes = {str(qid): _stamp(entry) for qid, entry in dict(data["notes"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            report.warning(path, None, f"unreadable Anki state, note times start afresh: {exc!r}")
            return empty
        return Stamps(handbook_id=handbook_id, note_type=note_type, notes=notes)

    def updated(
        self, handbook: Handbook, *, note_type: tuple[str, int], notes: Mapping[str, tuple[str, int]],
    ) -> Stamps:
        """The stamps after writing ``notes`` (question id → (digest, base time)). Questions of the
        handbook left out of a subset build keep their stamps; questions gone from it are marked."""
        present = {q.id for q in handbook.questions}
        merged = {
            qid: stamp if _question_id(qid) in present
            else Stamp(digest=stamp.digest, modified=stamp.modified, removed=True)
            for qid, stamp in self.notes.items()
        }
        for qid, (digest, base) in notes.items():
            merged[qid] = _next_stamp(self.notes.get(qid), digest, base)
        return Stamps(
            handbook_id=self.handbook_id,
            note_type=_next_stamp(self.note_type, *note_type),
            notes=dict(sorted(merged.items())),
        )

    def newly_removed(self, handbook: Handbook) -> list[str]:
        present = {q.id for q in handbook.questions}
        return sorted({
            _question_id(key) for key, stamp in self.notes.items()
            if _question_id(key) not in present and not stamp.removed
        })

    def modified(self, key: str) -> int:
        return self.notes[key].modified

    def dumps(self) -> str:
        def entry(stamp: Stamp) -> dict[str, Any]:
            out: dict[str, Any] = {"digest": stamp.digest, "modified": stamp.modified}
            if stamp.removed:
                out["removed"] = True
            return out

        data = {
            "format": STATE_FORMAT,
            "handbook": self.handbook_id,
            "note_type": entry(self.note_type) if self.note_type else None,
            "notes": {qid: entry(stamp) for qid, stamp in sorted(self.notes.items())},
        }
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _question_id(key: str) -> str:
    """The question a state entry belongs to: its key is the question id, or ``<id>/cloze`` for the
    question's cloze note."""
    return key.split("/", 1)[0]


def _stamp(entry: Any) -> Stamp:
    modified = entry["modified"]
    if not isinstance(modified, int) or isinstance(modified, bool) or modified < 0:
        raise ValueError(f"bad time {modified!r}")
    return Stamp(digest=str(entry["digest"]), modified=modified, removed=bool(entry.get("removed", False)))


def _next_stamp(previous: Stamp | None, digest: str, base: int) -> Stamp:
    if previous is None:
        return Stamp(digest=digest, modified=base)
    if previous.digest == digest:
        return Stamp(digest=digest, modified=previous.modified)
    return Stamp(digest=digest, modified=max(base, previous.modified + 1))
