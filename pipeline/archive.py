"""Reproducible zip files: the EPUB container and the offline bundle.

Same inputs, same bytes: entries in the order given, one fixed timestamp, fixed permissions and
"made on Unix", no directory entries, no extra fields.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath

# The earliest moment a zip entry can record; also the timestamp when SOURCE_DATE_EPOCH is unset,
# because the files' own mtimes differ between clones and would make every build different.
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
# Formats that are compressed already: deflating them again costs time and saves nothing (zip -n).
_COMPRESSED = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf", ".epub", ".apkg", ".zip", ".gz"})


def compress_type(name: str) -> int:
    """How a zip entry named ``name`` is best written: stored when its format is compressed already."""
    return zipfile.ZIP_STORED if PurePosixPath(name).suffix.lower() in _COMPRESSED else zipfile.ZIP_DEFLATED


def build_time(source_date_epoch: int | None) -> datetime:
    """The time written into outputs: SOURCE_DATE_EPOCH, else 1980-01-01 (see ZIP_EPOCH)."""
    seconds = ZIP_EPOCH if source_date_epoch is None else max(source_date_epoch, ZIP_EPOCH)
    return datetime.fromtimestamp(seconds, tz=UTC)


def zip_bytes(entries: Iterable[tuple[str, bytes]], when: datetime, *, stored: frozenset[str] = frozenset()) -> bytes:
    """A zip of ``entries`` (name, data) in the given order, every entry dated ``when``.

    :param stored: names written without compression (the EPUB's ``mimetype`` must be), besides files
        whose format is compressed already.
    """
    # Zip timestamps have two-second resolution and no time zone; UTC is the convention.
    stamp = when.astimezone(UTC).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # Unix, whatever machine builds it
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED if name in stored else compress_type(name)
            archive.writestr(info, data, compresslevel=9 if info.compress_type == zipfile.ZIP_DEFLATED else None)
    return buffer.getvalue()
