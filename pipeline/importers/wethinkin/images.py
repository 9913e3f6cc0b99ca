"""The images a chapter references: each local one is copied once into the content folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from .summary import Sink

IMAGES_DIR = "images"


class ImageCopier:
    """Copies each local image once, to ``images/<path relative to SRC>``.

    Its only state is what it has copied and counted so far, which spans the whole import.
    """

    def __init__(self, src: Path, out: Path, sink: Sink) -> None:
        self.src = src
        self.out = out
        self.sink = sink
        self.done: set[PurePosixPath] = set()
        self.remote = 0  # references to http(s) images, which stay links

    def link_remote(self) -> None:
        """Count a reference to a remote image (kept as a link, for the summary)."""
        self.remote += 1

    @property
    def copied(self) -> int:
        return len(self.done)

    def place(self, path: Path, rel: PurePosixPath, target: str, index: int) -> str | None:
        """The content-relative URL of a copied image, or None (reported) when it cannot be used.

        :param path: the source file referencing the image; ``rel`` is that file relative to SRC.
        :param target: the image's URL as written; ``index`` the line it is written on.
        """
        if re.match(r"^[A-Za-z]:[\\/]", target):  # "D:\\…\\imgs\\DCC.png", a path on an author's machine
            name = re.split(r"[\\/]", target)[-1]
            if (path.parent / "imgs" / name).is_file():
                self.sink.warn("image-recovered", rel, index,
                               f"image path {target!r} is on the author's disk; using imgs/{name} beside the file")
                target = f"imgs/{name}"
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith("/"):
            self.sink.warn("image-unsupported", rel, index, f"image location not supported: {target!r}")
            return None
        resolved = (path.parent / unquote(parts.path)).resolve()
        try:
            inside = PurePosixPath(resolved.relative_to(self.src).as_posix())
        except ValueError:
            self.sink.warn("image-outside", rel, index, f"image path leaves the source folder: {target!r}")
            return None
        if not resolved.is_file():
            self.sink.warn("image-missing", rel, index, f"image file not found: {target!r}")
            return None
        destination = PurePosixPath(IMAGES_DIR) / inside
        if destination not in self.done:
            copy = self.out / destination
            try:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resolved, copy)
            except OSError as exc:
                self.sink.warn("image-unreadable", rel, index, f"cannot copy image {target!r}: {exc.strerror}")
                return None
            self.done.add(destination)
        return quote(destination.as_posix(), safe="/")
