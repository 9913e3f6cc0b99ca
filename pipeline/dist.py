"""The offline bundle: every output of a full build and a short README in one reproducible zip.

``bundle`` runs the ordinary build through the registry, so the bundle holds exactly what
``handbook build all`` writes, then zips the files readers need (not the build's own state files).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from . import anki, epub, html, pdf
from .archive import build_time, zip_bytes
from .build import build
from .config import CONFIG_NAME, read_metadata
from .context import Options, Progress, Writer
from .diagnostics import Diagnostic, HandbookError, Report
from .model import Metadata
from .render import environment
from .writers import FORMATS

# What readers get, in the order the README presents it.
BUNDLED = (pdf.OUTPUT_NAME, pdf.PRACTICE_NAME, epub.OUTPUT_NAME, html.OUTPUT_DIR, anki.DECK_FILE)
README = "README.txt"
README_LANGUAGES = ("zh", "en")


def bundle_name(meta: Metadata) -> str:
    """``handbook-<version>``: the zip's name without ``.zip`` and the folder inside it."""
    return f"handbook-{meta.version}" if meta.version else "handbook"


def bundle(
    content: Path,
    options: Options,
    *,
    progress: Progress = lambda message: None,
    on_diagnostic: Callable[[Diagnostic], None] = lambda d: None,
    strict: bool = False,
) -> Path:
    """Build every format, then write ``<out>/handbook-<version>.zip``.

    :returns: the zip's path.
    :raises ContentError: when the content has errors (or warnings, with ``strict``).
    :raises HandbookError: when a renderer did not write a file the bundle needs.
    """
    # The metadata before anything is written: the build may take every output from the cache.
    meta = read_metadata(content.resolve(), Report()) if content.is_dir() else None

    def zip_outputs(written: list[Path], writer: Writer) -> list[Path]:
        if meta is None:  # the build reads handbook.toml too and reports its errors first
            raise HandbookError(f"{content / CONFIG_NAME}: cannot be read; cannot name the bundle")
        return [_zip(meta, written, options, progress, writer)]

    written = build(
        content, FORMATS, options, progress=progress, on_diagnostic=on_diagnostic, strict=strict, finish=zip_outputs
    )
    return written[-1]


def _zip(meta: Metadata, written: list[Path], options: Options, progress: Progress, writer: Writer) -> Path:
    """Write ``<out>/handbook-<version>.zip`` from what the build wrote, with the build's writer (the
    write-once guard) while the output folder is still the build's."""
    out = options.out_dir
    by_name = {path.relative_to(out).as_posix(): path for path in written if path.parent == out}
    missing = [name for name in BUNDLED if name not in by_name]
    if missing:
        raise HandbookError(f"the build did not write {', '.join(missing)}; cannot make the bundle")

    folder = PurePosixPath(bundle_name(meta))
    entries = [((folder / README).as_posix(), readme(meta, BUNDLED).encode("utf-8"))]
    for name in BUNDLED:
        path = by_name[name]
        if path.is_dir():
            entries += [
                ((folder / name / file.relative_to(path).as_posix()).as_posix(), file.read_bytes())
                for file in sorted(path.rglob("*"))
                if file.is_file()
            ]
        else:
            entries.append(((folder / name).as_posix(), path.read_bytes()))
    progress(f"dist: {len(entries)} files")
    data = zip_bytes(sorted(entries), build_time(options.source_date_epoch))
    return writer.write_bytes(out / f"{folder}.zip", data)


def readme(meta: Metadata, files: tuple[str, ...]) -> str:
    """The bundle's README in the handbook's language (Chinese for zh-*, else English)."""
    language = meta.language.split("-", 1)[0].lower()
    env = environment(language=meta.language, autoescape=False)
    template = env.get_template(f"dist/README.{language if language in README_LANGUAGES else 'en'}.txt.j2")
    return template.render(meta=meta, files=files)
