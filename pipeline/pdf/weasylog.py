"""WeasyPrint's log as diagnostics: captured around each layout (in the worker) and reported once per
build at the source line that caused it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath

from ..config import CONFIG_NAME
from ..context import Context
from ..model import Asset, Handbook, Image, walk
from .frame import OUTPUT_NAME
from .images import REFUSED

# What WeasyPrint logs when no font has a glyph for a character (weasyprint/draw/text.py).
NOTDEF_MESSAGE = ".notdef glyph rendered"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def capture() -> Iterator[list[logging.LogRecord]]:
    """Collect what WeasyPrint logs at warning level and above while the block runs."""
    logger = logging.getLogger("weasyprint")
    collector = _Collector()
    level = logger.level
    logger.addHandler(collector)
    if not logger.isEnabledFor(logging.WARNING):  # the application configured logging more quietly
        logger.setLevel(logging.WARNING)
    try:
        yield collector.records
    finally:
        logger.removeHandler(collector)
        logger.setLevel(level)


@contextlib.contextmanager
def weasyprint_diagnostics(handbook: Handbook, ctx: Context) -> Iterator[list[logging.LogRecord]]:
    """Turn what WeasyPrint logs into diagnostics: a character without a glyph is an error (a box
    in print), anything else WeasyPrint warns about is a warning. Worker processes' records are added
    to the list this yields: every layout runs on the build's workers (with one job, a thread of this
    process that other renderers share), so the records come with the parts, not from this process's log."""
    records: list[logging.LogRecord] = []
    try:
        yield records
    finally:
        _report_records(records, handbook, ctx)


def message_of(record: logging.LogRecord) -> str:
    """A record's message; never raises, whatever its arguments (``getMessage`` does on a mismatch)."""
    try:
        return record.getMessage()
    except (TypeError, ValueError, KeyError):
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return " ".join([str(record.msg), *(str(a) for a in args)])


def _report_records(records: Sequence[logging.LogRecord], handbook: Handbook, ctx: Context) -> None:
    missing: dict[str, None] = {}  # dicts as ordered sets: each character and message once
    others: dict[str, None] = {}
    refused: dict[str, None] = {}
    for record in records:
        if str(record.msg).startswith(NOTDEF_MESSAGE) and isinstance(record.args, tuple) and record.args:
            missing[str(record.args[0])] = None
        elif REFUSED in (message := message_of(record)):
            refused[message[message.index(REFUSED):]] = None
        else:
            others[message] = None
    for char in missing:
        path, line = _first_use(handbook, char)
        ctx.report.error(path, line, f"no font has a glyph for {char!r} (U+{ord(char):04X}); it would print as a box")
    for message in refused:
        # The resource policy (pipeline/resources.py) refused a URL: nothing outside the handbook goes in.
        ctx.report.error(*_image_use(handbook, message), message)
    for message in others:
        # WeasyPrint's errors concern resources (an unreadable image): the book is still worth having.
        ctx.report.warning(OUTPUT_NAME, None, f"WeasyPrint: {message}")


def _image_use(handbook: Handbook, message: str) -> tuple[PurePosixPath | str, int | None]:
    """Where the image a refused read names is used, so the error points at the Markdown."""
    for node, place in walk(handbook):
        if isinstance(node, Image) and isinstance(node.target, Asset) and node.target.path.as_posix() in message:
            return place.source.path, place.source.line
    return OUTPUT_NAME, None


def _first_use(handbook: Handbook, char: str) -> tuple[PurePosixPath | str, int | None]:
    """Where ``char`` is first written in the sources, so a missing glyph points at the text."""
    files = [PurePosixPath(CONFIG_NAME), *(c.source.path for c in handbook.chapters)]
    for rel in files:
        try:
            text = (handbook.root / rel).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if char in line:
                return rel, number
    return "templates/pdf", None  # not in the content: text the PDF frames add
