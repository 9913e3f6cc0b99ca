"""Reading ``handbook.toml``: the handbook's metadata and the settings outputs need."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from .diagnostics import Report
from .model import ID_PATTERN, AnkiSettings, CheckSettings, Metadata, PageSettings
from .xmltext import describe, not_xml, without_not_xml

CONFIG_NAME = "handbook.toml"

_TOP_KEYS = {
    "id", "title", "subtitle", "author", "language", "version", "description", "license", "source_note",
    "pdf", "anki", "check",
}
_CHECK_KEYS = ("alt_text", "key_points_length")
_PDF_KEYS = {"page_size", "margins"}
_ANKI_KEYS = {"model_id", "deck_id", "html_url"}
# One to four non-negative CSS lengths: what @page accepts as a margin (WeasyPrint ignores, with a
# warning, anything else, such as "auto", and the book gets no margin at all).
_LENGTH = r"(?:0|\d+(?:\.\d+)?(?:mm|cm|in|pt|pc|px|q|%)|\.\d+(?:mm|cm|in|pt|pc|px|q|%))"
_MARGINS = re.compile(rf"^{_LENGTH}(?:\s+{_LENGTH}){{0,3}}$", re.IGNORECASE)
_PAGE_SIZES = {"A3", "A4", "A5", "B4", "B5", "Letter", "Legal", "Ledger"}


def read_metadata(root: Path, report: Report) -> Metadata | None:
    """Read ``root/handbook.toml``; report problems and return None when it cannot be used."""
    path = root / CONFIG_NAME
    name = CONFIG_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        report.error(name, None, f"missing {CONFIG_NAME} in the content folder")
        return None
    except OSError as exc:  # a folder, a symlink loop, no permission
        report.error(name, None, f"cannot read {CONFIG_NAME}: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError:
        report.error(name, None, "file is not valid UTF-8")
        return None
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(exc)
        report.error(name, line, f"invalid TOML: {exc}")
        return None

    for key in sorted(set(data) - _TOP_KEYS):
        report.warning(name, None, f"unknown key {key!r}")
    pdf = _table(data, "pdf", name, report)
    anki = _table(data, "anki", name, report)
    checks = _table(data, "check", name, report)
    for key in sorted(set(checks) - set(_CHECK_KEYS)):
        report.warning(name, None, f"unknown key 'check.{key}'")
    check_flags: dict[str, bool] = {}
    for key in _CHECK_KEYS:
        flag = checks.get(key, True)
        if not isinstance(flag, bool):
            report.error(name, None, f"'check.{key}' must be true or false")
            flag = True
        check_flags[key] = flag
    for key in sorted(set(pdf) - _PDF_KEYS):
        report.warning(name, None, f"unknown key 'pdf.{key}'")
    for key in sorted(set(anki) - _ANKI_KEYS):
        report.warning(name, None, f"unknown key 'anki.{key}'")

    ok = True
    strings: dict[str, str] = {}
    for key in ("id", "title", "subtitle", "author", "language", "version", "description", "license",
                "source_note"):
        value = data.get(key, "")
        if not isinstance(value, str):
            report.error(name, None, f"{key!r} must be a string")
            ok = False
            value = ""
        if found := not_xml(value):
            report.warning(name, None, f"control character {describe(found)} removed from {key!r}")
            value = without_not_xml(value)
        strings[key] = value.strip()
    for key in ("id", "title"):
        if not strings[key]:
            report.error(name, None, f"missing required key {key!r}")
            ok = False
    if strings["id"] and not ID_PATTERN.match(strings["id"]):
        report.error(name, None, f"id {strings['id']!r} must be lowercase letters, digits and hyphens")
        ok = False

    ids: dict[str, int] = {}
    for key in ("model_id", "deck_id"):
        value = anki.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
            report.error(name, None, f"'anki.{key}' must be a positive integer, chosen once and never changed")
            ok = False
        else:
            ids[key] = value

    html_url = anki.get("html_url", "")
    if not isinstance(html_url, str):
        report.error(name, None, "'anki.html_url' must be a string: where readers find the html/ folder")
        ok = False
        html_url = ""

    page_size = pdf.get("page_size", "A4")
    if not isinstance(page_size, str) or page_size not in _PAGE_SIZES:
        report.error(name, None, f"'pdf.page_size' must be one of {', '.join(sorted(_PAGE_SIZES))}")
        ok = False
        page_size = "A4"
    margins = pdf.get("margins", PageSettings().margins)
    if not isinstance(margins, str) or not _MARGINS.match(margins.strip()):
        report.error(
            name, None, "'pdf.margins' must be one to four lengths such as \"22mm 20mm 24mm 20mm\" "
            f"(mm, cm, in, pt, pc, px or %), not {str(margins)[:60]!r}",
        )
        ok = False
        margins = PageSettings().margins

    if not ok:
        return None
    return Metadata(
        id=strings["id"],
        title=strings["title"],
        subtitle=strings["subtitle"],
        author=strings["author"],
        language=strings["language"] or "zh-CN",
        version=strings["version"],
        description=strings["description"],
        license=strings["license"],
        source_note=strings["source_note"],
        page=PageSettings(size=page_size, margins=margins),
        anki=AnkiSettings(model_id=ids["model_id"], deck_id=ids["deck_id"], html_url=html_url.strip()),
        check=CheckSettings(**check_flags),
    )


def _table(data: dict[str, Any], key: str, name: str, report: Report) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        report.error(name, None, f"[{key}] must be a table")
        return {}
    return value


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    # tomllib puts "(at line N, column M)" in the message; it has no attribute for it before 3.14.
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int):
        return lineno
    text = str(exc)
    marker = "at line "
    if marker in text:
        digits = text.split(marker, 1)[1].split(",", 1)[0].strip(" )")
        if digits.isdigit():
            return int(digits)
    return None
