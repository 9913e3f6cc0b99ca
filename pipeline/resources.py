"""The resource policy: which files and URLs any part of the build may read.

Every reader of a file the content names goes through this module: the parser (Markdown images), the
outputs that copy images (``read_asset``: HTML, EPUB, Anki), the PDF's fetcher (``allowed_file``) and
remote images (``svg_problems`` on what was downloaded). The rule is one:

- a file is read only when its real path (symlinks resolved) lies inside the content root, or inside
  one of the build's own folders (the package's templates, the derived fonts, the remote-image cache);
- an SVG may only refer to its own elements (``#id``) and embed raster images as ``data:`` URLs;
  an SVG that refers to anything else (``file:``, a path, ``http:``, a CSS ``@import``) is rejected
  before any output sees it, because a renderer would resolve that reference on the reader's machine;
- ``https:`` is fetched only by remote.py, and only with ``--fetch-remote``.

SVGs are checked with the same XML parser WeasyPrint reads them with (``xml.etree``), so what is checked
is what is rendered; raster images are decoded with Pillow, so a truncated file is found by ``check``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import xml.parsers.expat
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit
from xml.etree import ElementTree

import tinycss2  # type: ignore[import-untyped]

from .model import Asset, Handbook

__all__ = [
    "RefusedResource",
    "allowed_file",
    "image_problem",
    "inside",
    "read_asset",
    "read_asset_file",
    "real_path",
    "svg_problems",
]

# Raster types an SVG may embed as data: URLs (they cannot refer to anything themselves).
_DATA_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
# Attributes that make a renderer load something (SVG, and HTML inside <foreignObject>).
_REFERENCE_ATTRIBUTES = frozenset({
    "href", "src", "data", "srcset", "poster", "background", "codebase", "action", "formaction", "longdesc",
    "usemap", "dynsrc", "lowsrc", "archive", "classid", "profile", "manifest", "icon",
})
# Nesting deeper than this in an SVG is not a figure (and would exhaust a recursive renderer).
_SVG_MAX_DEPTH = 200


class RefusedResource(PermissionError):
    """A read the resource policy does not allow. An OSError, so that every reader that already
    reports unreadable files (``cannot read image: …``) reports a refused one the same way."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EACCES, reason, path)


def real_path(path: Path) -> Path:
    """``path`` with every symlink resolved; OSError for a missing file or a symlink loop (Python 3.11
    raises RuntimeError for loops)."""
    try:
        return Path(os.path.realpath(path, strict=True))
    except RuntimeError as exc:  # pragma: no cover - os.path.realpath raises OSError; Path.resolve this
        raise OSError(errno.ELOOP, str(exc), str(path)) from exc


def inside(path: Path, root: Path) -> bool:
    """Whether the real path of ``path`` lies inside the real path of ``root``."""
    try:
        real_path(path).relative_to(real_path(root))
    except (OSError, ValueError):
        return False
    return True


def allowed_file(path: Path, roots: tuple[Path, ...]) -> Path:
    """The real path of ``path`` if it is a regular file inside one of ``roots``.

    :raises OSError: a missing or unreadable file; ``RefusedResource`` for one outside every root.
    """
    real = real_path(path)
    for root in roots:
        try:
            real.relative_to(real_path(root))
        except (OSError, ValueError):
            continue
        if not real.is_file():
            raise OSError(errno.EISDIR if real.is_dir() else errno.EINVAL, "not a regular file", str(path))
        return real
    raise RefusedResource(str(path), "outside the content folder and the build's own files")


def read_asset(handbook: Handbook, asset: Asset) -> bytes:
    """The bytes of an image the handbook references, for every output that copies images.

    :raises OSError: the file vanished or cannot be read; ``RefusedResource`` when it now lies outside
        the content folder (a symlink changed since the parser checked it) or is an SVG that refers to
        something outside itself.
    """
    return read_asset_file(handbook.root, asset.path)


def read_asset_file(root: Path, name: PurePosixPath) -> bytes:
    """``read_asset`` by the content folder and the asset's relative path (what a PDF worker has)."""
    if name.is_absolute() or ".." in name.parts:
        raise RefusedResource(str(name), "a path leaving the content folder")
    path = allowed_file(root / name, (root,))
    data = path.read_bytes()
    if path.suffix.lower() == ".svg":
        problems = svg_problems(data)
        if problems:
            raise RefusedResource(str(name), f"unsafe SVG: {problems[0]}")
    return data


def image_problem(path: Path) -> list[str]:
    """What is wrong with an image file the parser found: an SVG's references outside itself, a raster
    image that does not decode. Empty when the image is fine. Cached per file version."""
    try:
        stat = path.stat()
    except OSError as exc:
        return [f"cannot read it: {exc.strerror or exc}"]
    return list(_image_problem(path, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=1024)
def _image_problem(path: Path, size: int, mtime_ns: int) -> tuple[str, ...]:
    del size, mtime_ns  # part of the cache key only
    try:
        data = path.read_bytes()
    except OSError as exc:
        return (f"cannot read it: {exc.strerror or exc}",)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return tuple(svg_problems(data))
    if suffix in _RASTER_SUFFIXES:
        problem = _raster_problem(data)
        return (problem,) if problem else ()
    return ()


def _raster_problem(data: bytes) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "PNG":
                image.verify()  # every chunk and its CRC: a truncated or damaged file, without inflating
            else:
                if image.format == "JPEG":
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))  # 1/8 scale
                image.load()  # decodes: finds truncated files that verify() lets through
    except UnidentifiedImageError:
        return "the image does not decode (not an image format it can read)"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"the image does not decode ({exc})"
    return None


def svg_problems(data: bytes) -> list[str]:
    """Why an SVG may not go into an output: every reference to something outside itself, entity
    declarations, scripts, XML that does not parse. Empty when it is safe."""
    declared = _entity_declarations(data)
    if declared is not None:
        return [declared]
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        return [f"not well-formed XML ({exc})"]
    problems: dict[str, None] = {}
    stack = [(root, 1)]
    while stack:  # iterative: a deeply nested SVG must not exhaust the recursion limit here
        element, depth = stack.pop()
        if depth > _SVG_MAX_DEPTH:
            problems[f"elements nested deeper than {_SVG_MAX_DEPTH}"] = None
            break
        tag = element.tag if isinstance(element.tag, str) else ""
        local = tag.rsplit("}", 1)[-1].lower()
        if local == "script":
            problems["a <script> element"] = None
        for name, value in element.attrib.items():
            attr = name.rsplit("}", 1)[-1].lower()
            if name == _XLINK_HREF or attr in _REFERENCE_ATTRIBUTES:
                if local == "a" and attr == "href" and _is_link(value):
                    continue  # a hyperlink is followed by a reader who clicks it, never loaded
                problem = _reference_problem(value.strip())
                if problem:
                    problems[problem] = None
            elif attr.startswith("on"):
                problems[f"an event handler attribute {attr!r}"] = None
            if "url(" in value.lower() or "@import" in value.lower() or attr == "style":
                for problem in _css_problems(value, declarations=True):
                    problems[problem] = None
        if local == "style" and element.text:
            for problem in _css_problems(element.text, declarations=False):
                problems[problem] = None
        stack.extend((child, depth + 1) for child in reversed(element))
    return list(problems)


def _entity_declarations(data: bytes) -> str | None:
    """Entity declarations are refused: an external one reads a file, an internal one can expand to
    gigabytes; so is ``<?xml-stylesheet …?>``. A plain ``<!DOCTYPE svg PUBLIC …>`` (as drawing programs
    write) is fine."""
    found: list[str] = []
    parser = xml.parsers.expat.ParserCreate()

    def entity(name: str, *args: object) -> None:
        found.append(name)

    def instruction(target: str, data: str) -> None:
        if target.lower() == "xml-stylesheet":  # loads a stylesheet in a reader that honours it
            found.append(f"<?{target} {data}?>")

    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ProcessingInstructionHandler = instruction
    parser.ExternalEntityRefHandler = lambda *args: 0  # never resolve anything
    with contextlib.suppress(xml.parsers.expat.ExpatError):  # reported by the tree parse
        parser.Parse(data, True)
    if found:
        what = "a stylesheet instruction" if found[0].startswith("<?") else "an XML entity declaration"
        return f"{what} ({found[0]!r})"
    return None


def _is_link(value: str) -> bool:
    return urlsplit(value.strip()).scheme.lower() in ("http", "https", "mailto")


def _reference_problem(reference: str) -> str | None:
    if not reference or reference.startswith("#"):
        return None
    if reference.lower().startswith("data:"):
        kind = reference[5:].split(";", 1)[0].split(",", 1)[0].strip().lower()
        if kind in _DATA_IMAGE_TYPES:
            return None
        return f"an embedded {kind or 'data'!s} resource (only data: PNG, JPEG, GIF and WebP images may be embedded)"
    shown = reference if len(reference) <= 200 else reference[:197] + "…"
    scheme = urlsplit(reference).scheme
    where = f"a {scheme}: URL" if scheme else "a file"
    return f"a reference to {where} outside the SVG: {shown!r}"


def _css_problems(css: str, *, declarations: bool) -> list[str]:
    """References in CSS (a style attribute, a presentation attribute, a <style> element)."""
    problems: list[str] = []
    if declarations:
        nodes = tinycss2.parse_component_value_list(css)
    else:
        nodes = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    stack = list(nodes)
    while stack:
        node = stack.pop()
        kind = getattr(node, "type", "")
        if kind == "at-rule" and getattr(node, "lower_at_keyword", "") == "import":
            problems.append("a CSS @import")
        if kind == "url":
            problem = _reference_problem(str(node.value).strip())
            if problem:
                problems.append(problem)
        elif kind == "function" and getattr(node, "lower_name", "") == "url":
            arguments = [a for a in node.arguments if getattr(a, "type", "") == "string"]
            for argument in arguments:
                problem = _reference_problem(str(argument.value).strip())
                if problem:
                    problems.append(problem)
        for attribute in ("prelude", "content", "arguments"):
            children = getattr(node, attribute, None)
            if isinstance(children, list):
                stack.extend(children)
    return problems
