"""Images in the PDF: local assets through a location-free URL scheme, remote ones fetched only with
``--fetch-remote``, and the fetcher WeasyPrint reads them with."""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

from ..context import Context
from ..model import Asset, Handbook, Image, RemoteImage, Source, walk
from ..remote import FetchError, RemoteCache
from ..resources import allowed_file, read_asset_file, svg_problems
from .frame import tool_folder

ASSET_SCHEME = "handbook-asset"
# The start of the message of every read the fetcher refuses: weasylog.py reports those as errors.
REFUSED = "handbook refused to read"


def image_sources(
    handbook: Handbook, ctx: Context, stack: contextlib.ExitStack
) -> tuple[dict[Asset | RemoteImage, str | None], tuple[Path, ...]]:
    """The URL of every image in the PDF; None (a placeholder with the link) for remote images that
    are not fetched, each reported where it is used. And the folder of the fetched images, if any, which
    the fetcher may read."""
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
    return sources, (remote.folder,) if remote is not None else ()


def asset_url(asset: Asset) -> str:
    """A location-free ``handbook-asset:`` URL, which the worker's fetcher reads from the content folder
    (``fetcher``). WeasyPrint names raster images in the PDF after their URL, and a chapter's cached
    layout is keyed by its HTML: neither may depend on where the content folder is."""
    return f"{ASSET_SCHEME}:{urllib.parse.quote(asset.path.as_posix())}"


def fetcher(asset_root: str, file_roots: tuple[str, ...] = ()) -> Any:
    """WeasyPrint's fetcher, under the resource policy (pipeline/resources.py): ``handbook-asset:`` URLs
    read from ``asset_root`` like every other output reads images (``read_asset``: inside the content
    folder, SVGs checked), ``file:`` URLs only inside ``asset_root`` and ``file_roots`` (the fonts, the
    fetched remote images, the package's templates), ``data:`` URLs; nothing else, and never the network
    (remote images were fetched, or not, before). A refused URL is logged by WeasyPrint and reported
    as an error (weasylog.py): SVG sub-resources come through here too."""
    import weasyprint

    roots = (Path(asset_root), *(Path(r) for r in file_roots))

    class Fetcher(weasyprint.urls.URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == ASSET_SCHEME:
                name = urllib.parse.unquote(url.removeprefix(f"{ASSET_SCHEME}:"))
                try:
                    data = read_asset_file(Path(asset_root), PurePosixPath(name))
                except OSError as exc:
                    raise ValueError(f"{REFUSED}: {name}: {exc.strerror or exc}") from None
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return weasyprint.urls.URLFetcherResponse(url, body=data, headers={"Content-Type": kind})
            if scheme == "file":
                parts = urllib.parse.urlsplit(url)
                if parts.netloc not in ("", "localhost"):
                    raise ValueError(f"{REFUSED}: {url[:200]!r}: a file on another machine")
                path = Path(urllib.request.url2pathname(parts.path))
                try:
                    real = allowed_file(path, roots)
                    data = real.read_bytes()
                except OSError as exc:
                    raise ValueError(f"{REFUSED}: {url}: {exc.strerror or exc}") from None
                if real.suffix.lower() == ".svg" and (problems := svg_problems(data)):
                    raise ValueError(f"{REFUSED}: {url}: unsafe SVG: {problems[0]}")
                kind = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
                return weasyprint.urls.URLFetcherResponse(url, body=data, headers={"Content-Type": kind})
            if scheme == "data":
                return super().fetch(url, headers)
            raise ValueError(f"{REFUSED}: {url[:80]!r}: only the handbook's own files are read")

    return Fetcher(allowed_protocols={"data"})


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
