"""Reproducible zip files: the EPUB container and the offline bundle.

Same inputs, same bytes: entries in the order given, one fixed timestamp, fixed permissions and
"made on Unix", no directory entries, no extra fields.

Each entry is compressed on its own (``member``) and the archive is laid out from the compressed entries
(``zip_members``), so the EPUB can keep its entries' compressed bytes in the cache and repack the book
after an edit without deflating every page again. The layout is the one ``zipfile`` writes for the same
entries (``tests/test_epub.py`` compares the two), without ZIP64: no output comes near 2 GiB.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
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
    return zip_members([member(name, data, stored=name in stored) for name, data in entries], when)


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One entry of a zip, compressed: its name, method, CRC-32 and size of the data, and the bytes stored."""

    name: str
    method: int  # zipfile.ZIP_STORED or zipfile.ZIP_DEFLATED
    crc: int
    size: int
    packed: bytes


def member(name: str, data: bytes, *, stored: bool = False) -> Member:
    """``data`` as the entry ``name``: deflated at level 9 unless ``stored`` or compressed already."""
    method = zipfile.ZIP_STORED if stored else compress_type(name)
    packed = data
    if method == zipfile.ZIP_DEFLATED:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # a raw stream, as zip wants; zipfile's settings
        packed = packer.compress(data) + packer.flush()
    return Member(name=name, method=method, crc=zlib.crc32(data), size=len(data), packed=packed)


_VERSION = 20  # "version needed to extract" and "made by" (2.0: deflate), as zipfile writes them
_UNIX = 3
_UTF8_NAME = 0x800  # general purpose flag: the name is UTF-8 (set only for a name that is not ASCII)
_MODE = 0o100644 << 16  # a regular file, rw-r--r--
_LIMIT = (1 << 31) - 1  # past this zipfile writes ZIP64 records, which this layout leaves out


def zip_members(members: Iterable[Member], when: datetime) -> bytes:
    """The zip of ``members`` in the given order, every entry dated ``when`` (UTC, two-second steps)."""
    # Zip timestamps have two-second resolution and no time zone; UTC is the convention.
    year, month, day, hour, minute, second = when.astimezone(UTC).timetuple()[:6]
    dos_date = (year - 1980) << 9 | month << 5 | day
    dos_time = hour << 11 | minute << 5 | second // 2
    body: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    count = 0
    for entry in members:
        if entry.size * 1.05 > _LIMIT or len(entry.packed) > _LIMIT or offset > _LIMIT:
            raise ValueError(f"{entry.name}: a zip this large would need ZIP64 records")
        try:
            name, flags = entry.name.encode("ascii"), 0
        except UnicodeEncodeError:
            name, flags = entry.name.encode("utf-8"), _UTF8_NAME
        fields = (flags, entry.method, dos_time, dos_date, entry.crc, len(entry.packed), entry.size, len(name))
        local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", _VERSION, 0, *fields, 0) + name
        # After the name's length: extra field's and comment's lengths, disk, internal attributes.
        central = struct.pack(
            "<4s4B4HL2L5H2L", b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, *fields, 0, 0, 0, 0, _MODE, offset
        )
        directory.append(central + name)
        body += [local, entry.packed]
        offset += len(local) + len(entry.packed)
        count += 1
    listing = b"".join(directory)
    if count > 0xFFFF or offset + len(listing) > _LIMIT:
        raise ValueError("a zip this large would need ZIP64 records")
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(listing), offset, 0)
    return b"".join([*body, listing, end])
