"""Images in the PDF: local assets through a location-free URL scheme, remote ones fetched only with
``--fetch-remote``, and the fetcher WeasyPrint reads them with."""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from ..context import Context
from ..model import Asset, Handbook, Image, RemoteImage, Source, walk
from ..remote import FetchError, RemoteCache
from .frame import tool_folder

ASSET_SCHEME = "handbook-asset"


def image_sources(
    handbook: Handbook, ctx: Context, stack: contextlib.ExitStack
) -> dict[Asset | RemoteImage, str | None]:
    """The URL of every image in the PDF; None (a placeholder with the link) for remote images that
    are not fetched, each reported where it is used."""
    sources: dict[Asset | RemoteImage, str | None] = {}
    remote: RemoteCache | None = None
    failures: dict[str, str] = {}
    reported: set[tuple[Source, str]] = set()
    for image, place in walk(handbook):
        if not isinstance(image, Image):
            continue
        where = place.source
        target = image.target
        if isinstance(target, Asset):
            sources[target] = asset_url(target)
            continue
        if target not in sources:
            if not ctx.options.fetch_remote:
                sources[target] = None
                failures[target.url] = "remote image not fetched (build with --fetch-remote to include it)"
            else:
                if remote is None:
                    folder = tool_folder(stack, ctx.options.cache_dir, "remote")
                    remote = RemoteCache(folder=folder / "remote")
                    ctx.progress("pdf: fetching remote images")
                try:
                    sources[target] = image_url(remote.fetch(target.url))
                except FetchError as error:
                    sources[target] = None
                    failures[target.url] = f"remote image left out ({error})"
        if target.url in failures and (where, target.url) not in reported:
            reported.add((where, target.url))
            ctx.report.warning(where.path, where.line, f"{failures[target.url]}: {target.url}")
    return sources


def asset_url(asset: Asset) -> str:
    """A location-free ``handbook-asset:`` URL, which the worker's fetcher reads from the content folder
    (``fetcher``). WeasyPrint names raster images in the PDF after their URL, and a chapter's cached
    layout is keyed by its HTML: neither may depend on where the content folder is."""
    return f"{ASSET_SCHEME}:{urllib.parse.quote(asset.path.as_posix())}"


def fetcher(asset_root: str) -> Any:
    """WeasyPrint's fetcher for local files and data: URLs only (remote images were fetched, or not,
    before: nothing else may go online), which also reads ``handbook-asset:`` URLs from ``asset_root``."""
    import weasyprint

    class Fetcher(weasyprint.urls.URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(f"{ASSET_SCHEME}:"):
                path = Path(asset_root) / urllib.parse.unquote(url.removeprefix(f"{ASSET_SCHEME}:"))
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return weasyprint.urls.URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": kind})
            return super().fetch(url, headers)

    return Fetcher(allowed_protocols={"file", "data"})


def image_url(path: Path) -> str:
    """A file URL for SVG; the bytes themselves (a data: URL) for raster images, because WeasyPrint
    names a raster image in the PDF after its URL: a path would make the PDF depend on where the
    content folder is, the bytes keep rebuilds elsewhere byte-identical."""
    if path.suffix.lower() == ".svg":
        return path.resolve().as_uri()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        data = path.read_bytes()
    except OSError:
        return path.resolve().as_uri()  # WeasyPrint reports the unreadable file as a warning
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
