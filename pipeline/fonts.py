"""The handbook's fonts: static TTF instances of Noto Sans SC (CJK text) and Source Code Pro (code).

Both come from PyPI packages as variable fonts. WeasyPrint handles static TrueType best (WOFF2 costs
~90 s a document to decode, variable weights are not applied reliably), so each weight is derived
once and cached: HarfBuzz's instancer (the ``uharfbuzz`` wheel) pins the weight axis — 0.2 s for a
weight of Noto Sans SC, where fontTools' instancer, in Python, took 15 s — and fontTools names the
instance from the STAT table. Every face is referenced by absolute path through @font-face, so a
build never depends on what fontconfig happens to find.
"""

from __future__ import annotations

import array
import hashlib
import importlib.resources
import io
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pipeline.cache import file_status, settled, write_atomically
from pipeline.diagnostics import ToolError

CJK_FAMILY = "Noto Sans SC"
MONO_FAMILY = "Source Code Pro"
SYMBOLS_FAMILY = "Noto Sans Symbols"
EMOJI_FAMILY = "Noto Emoji"
# Fallbacks after the text face, for characters Noto Sans SC lacks (⊤, ✅, 💡 in imported material):
# monochrome outlines print well, and without them such a character is a missing glyph.
FALLBACK_FAMILIES = (SYMBOLS_FAMILY, EMOJI_FAMILY)
# Families whose italic faces are deliberately the upright files (Chinese has no italic).
UPRIGHT_ITALIC_FAMILIES = (CJK_FAMILY,)

# Bump when the derivation below changes, so cached instances are derived again.
_RECIPE = "2"
# TrueType's head.checkSumAdjustment makes the big-endian uint32 sum of a whole file equal this.
_SFNT_CHECKSUM_MAGIC = 0xB1B0AFBA


class FontError(ToolError):
    """A font package is missing or a font cannot be derived; the message says what to install."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FontFace:
    """One static font file and the CSS family, weight and style it is declared under."""

    family: str
    weight: int
    style: str
    path: Path

    def __post_init__(self) -> None:
        if not self.path.is_absolute():
            raise ValueError(f"font path must be absolute: {self.path}")
        if self.style not in ("normal", "italic"):
            raise ValueError(f"font style must be normal or italic: {self.style!r}")
        if not 1 <= self.weight <= 1000:
            raise ValueError(f"font weight out of range: {self.weight}")
        if '"' in self.family or "\\" in self.family:
            raise ValueError(f"font family cannot be quoted in CSS: {self.family!r}")

    def css(self) -> str:
        return font_face_css(self.family, self.style, self.weight, self.path.as_uri(), "truetype")


def font_face_css(family: str, style: str, weight: int, url: str, form: str) -> str:
    """One @font-face rule: the PDF's (TrueType by path) and the HTML's (WOFF2 in the site) alike."""
    return (
        "@font-face {\n"
        f'  font-family: "{family}";\n'
        f"  font-style: {style};\n"
        f"  font-weight: {weight};\n"
        f'  src: url("{url}") format("{form}");\n'
        "}\n"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FontSet:
    """All the faces a build embeds."""

    faces: tuple[FontFace, ...]

    def css(self) -> str:
        """@font-face rules for every face.

        WeasyPrint drops these url()s silently unless the document has a ``base_url``.
        """
        return "\n".join(face.css() for face in self.faces)

    def fingerprint(self) -> str:
        """A hash of the faces and their files' contents, for keys of caches that depend on fonts."""
        digest = hashlib.sha256()
        for face in self.faces:
            entry = [face.family, face.weight, face.style, _sha256(face.path)]
            digest.update(json.dumps(entry).encode("utf-8"))
        return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class _VariableSource:
    """A variable font inside an installed Python package."""

    package: str
    pip_name: str
    resource: str  # path inside the package
    family: str
    style: str

    def path(self) -> Path:
        try:
            path = Path(str(importlib.resources.files(self.package).joinpath(self.resource)))
        except ModuleNotFoundError as error:
            raise FontError(
                f"the {self.family} font is missing: `pip install {self.pip_name}` (Python package)"
            ) from error
        if not path.is_file():
            raise FontError(
                f"the {self.family} font is missing from the {self.pip_name} package ({path}); "
                f"reinstall it with `pip install --force-reinstall {self.pip_name}`"
            )
        return path


def _source(package: str, resource: str, family: str, style: str = "normal") -> _VariableSource:
    # The PyPI name is the import name with hyphens, for every package we take fonts from.
    return _VariableSource(
        package=package, pip_name=package.replace("_", "-"), resource=resource, family=family, style=style
    )


_CJK_FILE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
_SOURCES = (
    _source("justmytype_intl_cjk", _CJK_FILE, CJK_FAMILY),
    # Chinese has no italic: emphasis in CJK text stays upright instead of WeasyPrint's synthetic slant.
    _source("justmytype_intl_cjk", _CJK_FILE, CJK_FAMILY, "italic"),
    # Code also gets italic, since Pygments styles set comments in italic.
    _source("fontpkg_source_code_pro", "files/SourceCodePro[wght].ttf", MONO_FAMILY),
    _source("fontpkg_source_code_pro", "files/SourceCodePro-Italic[wght].ttf", MONO_FAMILY, "italic"),
    _source("manimgx_fonts", "NotoSansSymbols[wght].ttf", SYMBOLS_FAMILY),
    _source("manimgx_fonts", "NotoEmoji[wght].ttf", EMOJI_FAMILY),
)
# Every face in regular and bold: WeasyPrint does not synthesize bold.
_FACES: tuple[tuple[_VariableSource, int], ...] = tuple(
    (source, weight) for source in _SOURCES for weight in (400, 700)
)


def ensure_fonts(cache_dir: Path, *, progress: Callable[[str], None] = lambda message: None) -> FontSet:
    """Derive the static instances into ``cache_dir / "fonts"`` unless valid ones are there already.

    :param cache_dir: the cache root; the instances are tool resources the cache never prunes.
    :param progress: told each instance it derives, "fonts: Noto Sans SC 700 (3 of 10)".

    The first run takes about 3 s for all of them; later runs only check the files. A cached instance
    is named after its source's sha256 and the instancer's version, so a new package derives anew.
    """
    with _DERIVING:  # the renderers of one build run in threads: each file is derived once
        return _ensure_fonts(cache_dir, progress)


_DERIVING = threading.Lock()


def _ensure_fonts(cache_dir: Path, progress: Callable[[str], None]) -> FontSet:
    fonts_dir = cache_dir.resolve() / "fonts"
    _load_checked(fonts_dir)
    faces: list[FontFace] = []
    source_hashes: dict[Path, str] = {}
    derivations: dict[Path, tuple[_VariableSource, Path, int]] = {}
    for source, weight in _FACES:
        source_path = source.path()
        if source_path not in source_hashes:
            source_hashes[source_path] = _sha256(source_path)
        stem = source_path.stem.split("[")[0]  # "NotoSansSC[wght]" -> "NotoSansSC"
        name = f"{stem}-{weight}-{source_hashes[source_path][:16]}-r{_RECIPE}-hb{_instancer_version()}.ttf"
        path = fonts_dir / name
        derivations.setdefault(path, (source, source_path, weight))
        faces.append(FontFace(family=source.family, weight=weight, style=source.style, path=path))
    # The italic Noto Sans SC is the upright file: each file is derived once.
    missing = [(path, *derivation) for path, derivation in derivations.items() if not _is_intact(path)]
    for number, (path, source, source_path, weight) in enumerate(missing, start=1):
        style = " italic" if source.style == "italic" else ""
        progress(f"fonts: {source.family}{style} {weight} ({number} of {len(missing)})")
        _derive(source_path, weight, path)
    if fonts_dir.is_dir():
        _save_checked(fonts_dir, [*source_hashes, *derivations])
    return FontSet(faces=tuple(faces))


def _instancer_version() -> str:
    try:
        return metadata.version("uharfbuzz")
    except metadata.PackageNotFoundError as error:
        raise FontError("the font instancer is missing: `pip install uharfbuzz` (Python package)") from error


def _derive(source: Path, weight: int, target: Path) -> None:
    # Imported here: only the first build on a machine needs them.
    import uharfbuzz
    from fontTools.ttLib import TTFont
    from fontTools.varLib.instancer import names, setRibbiBits

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        face = uharfbuzz.Face(uharfbuzz.Blob.from_file_path(str(source)))
        request = uharfbuzz.SubsetInput()
        request.keep_everything()  # every glyph, table and name: an instance, not a subset
        request.pin_axis_location(face, "wght", weight)
        instance_bytes = uharfbuzz.subset(face, request).blob.data
        # Keep the source's timestamps: deriving again must give the same bytes. Lazy: only the
        # name, OS/2 and head tables are decoded; the outlines are copied as HarfBuzz wrote them.
        with TTFont(source, recalcTimestamp=False, lazy=True) as variable, TTFont(
            io.BytesIO(instance_bytes), recalcTimestamp=False, lazy=True
        ) as instance:
            # Names from the STAT table ("Noto Sans SC Bold"), as fontTools' instancer gives them: what PDF
            # viewers show as the embedded font's name. The named instances' names stay (a few bytes):
            # finding which names are unused would decode every glyph (8 s for Noto Sans SC).
            names.updateNameTable(variable, {"wght": weight})
            instance["name"] = variable["name"]
            setRibbiBits(instance)
            write_atomically(target, instance.save)
    except OSError as error:
        raise FontError(f"cannot write the font instance {target}: {error}") from error
    except Exception as error:  # HarfBuzz and fontTools raise many kinds on a damaged source font
        raise FontError(f"cannot derive weight {weight} from {source}: {error}") from error
    if not _is_intact(target):
        raise FontError(f"the derived font {target} fails its checksum")


def _is_intact(path: Path) -> bool:
    """Whether the file is a whole TrueType font: its checksum catches truncation and damage."""
    facts = _facts(path)
    return facts is not None and facts[1]


def _sha256(path: Path) -> str:
    facts = _facts(path)
    if facts is None:
        raise FontError(f"cannot read the font {path}")
    return facts[0]


# What reading a font file found (its sha256, whether it is whole), by the file's status (size,
# modification time, inode, change time): a build asks for the same files from several renderers, and
# every build checks the derived instances. Also kept across builds in the fonts folder (_CHECKED), as
# git's index keeps file status; a file changed in the last seconds is read again next time.
_KNOWN: dict[str, tuple[list[int], str, bool]] = {}
_KNOWN_LOCK = threading.Lock()
_CHECKED = "checked.json"


def _facts(path: Path) -> tuple[str, bool] | None:
    status = file_status(path)
    if status is None:
        return None
    name = str(path)
    with _KNOWN_LOCK:
        known = _KNOWN.get(name)
    if known is not None and known[0] == status:
        return known[1], known[2]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    facts = hashlib.sha256(data).hexdigest(), _checksum_ok(data)
    with _KNOWN_LOCK:
        _KNOWN[name] = (status, *facts)
    return facts


def _checksum_ok(data: bytes) -> bool:
    if len(data) < 12 or data[:4] != b"\x00\x01\x00\x00":
        return False
    words = array.array("I", data + b"\0" * (-len(data) % 4))
    if words.itemsize != 4:  # pragma: no cover - "I" is 4 bytes on every platform Python supports
        return False
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF == _SFNT_CHECKSUM_MAGIC


def _load_checked(fonts_dir: Path) -> None:
    """What earlier builds found about the files, from the fonts folder (damaged: nothing)."""
    try:
        found = json.loads((fonts_dir / _CHECKED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(found, dict):
        return
    with _KNOWN_LOCK:
        for name, entry in found.items():
            if (
                isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], list)
                and all(isinstance(n, int) for n in entry[0]) and isinstance(entry[1], str)
                and isinstance(entry[2], bool)
            ):
                _KNOWN.setdefault(name, (entry[0], entry[1], entry[2]))


def _save_checked(fonts_dir: Path, paths: list[Path]) -> None:
    with _KNOWN_LOCK:
        kept = {str(p): list(_KNOWN[str(p)]) for p in paths if str(p) in _KNOWN and settled(_KNOWN[str(p)][0])}
    try:
        old = json.loads((fonts_dir / _CHECKED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if old != kept:
        text = json.dumps(kept, sort_keys=True)
        write_atomically(fonts_dir / _CHECKED, lambda handle: handle.write(text.encode("utf-8")))
