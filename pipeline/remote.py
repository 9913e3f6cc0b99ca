"""Remote images for ``--fetch-remote``: each URL is fetched once into a cache folder, within limits.

Without ``--fetch-remote`` nothing here runs and a build makes no network request at all. With it, an
image that is too large, too slow or not an image is a warning, never a failed build; failures are not
cached, so the next build tries again.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .cache import write_atomically
from .resources import svg_problems

MAX_BYTES = 10 * 1024 * 1024
TIMEOUT_S = 10.0

# Content types we keep, with the suffix the cached file gets (WeasyPrint guesses file types by suffix).
_SUFFIXES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
}
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A remote image could not be fetched; the message says why (not which URL), for a located warning."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteCache:
    """Local copies of remote images.

    :param folder: where copies are kept, one file per URL, named after the URL's sha256.
    :param max_bytes: the largest image accepted.
    :param timeout_s: the longest a single fetch may take, connection and download together.
    """

    folder: Path
    max_bytes: int = MAX_BYTES
    timeout_s: float = TIMEOUT_S

    def fetch(self, url: str) -> Path:
        """The local copy of ``url``, fetched unless an earlier build kept it.

        :raises FetchError: the URL is not http(s), the server failed, or a limit was exceeded.
        """
        if not url.lower().startswith(("http://", "https://")):
            raise FetchError("only http and https images can be fetched")
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        for suffix in sorted(set(_SUFFIXES.values())):
            cached = self.folder / f"{key}{suffix}"
            if cached.is_file():
                return cached
        data, content_type = self._download(url)
        if content_type == "image/svg+xml" and (problems := svg_problems(data)):
            # The PDF's fetcher would refuse its references too; the image is left out, with the reason.
            raise FetchError(f"unsafe SVG: {problems[0]}")
        target = self.folder / f"{key}{_SUFFIXES[content_type]}"
        write_atomically(target, lambda handle: handle.write(data))
        return target

    def _download(self, url: str) -> tuple[bytes, str]:
        deadline = time.monotonic() + self.timeout_s
        request = urllib.request.Request(url, headers={"User-Agent": "handbook (+--fetch-remote)"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                content_type = response.headers.get_content_type()
                if content_type not in _SUFFIXES:
                    raise FetchError(f"not an image (content type {content_type})")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"larger than {self.max_bytes} bytes ({declared})")
                chunks: list[bytes] = []
                size = 0
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes} bytes")
                    # The socket timeout applies per read; this bounds the whole download.
                    if time.monotonic() > deadline:
                        raise FetchError(f"took longer than {self.timeout_s:g} s")
                    chunks.append(chunk)
        except FetchError:
            raise
        except urllib.error.HTTPError as error:
            raise FetchError(f"HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise FetchError(str(reason)) from error
        return b"".join(chunks), content_type

