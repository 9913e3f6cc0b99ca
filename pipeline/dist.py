"""The offline bundle: every output of a full build and a short README in one reproducible zip.

``bundle`` runs the ordinary build through the registry, so the bundle holds exactly what
``handbook build all`` writes, then zips the files readers need (not the build's own state files).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from . import anki, epub, html, pdf
from .archive import build_time, zip_bytes
from .build import build, read
from .context import Options, Progress, Writer
from .diagnostics import Diagnostic, HandbookError
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
    written = build(content, FORMATS, options, progress=progress, on_diagnostic=on_diagnostic, strict=strict)
    handbook, _ = read(content)
    out = options.out_dir
    by_name = {path.relative_to(out).as_posix(): path for path in written if path.parent == out}
    missing = [name for name in BUNDLED if name not in by_name]
    if missing:
        raise HandbookError(f"the build did not write {', '.join(missing)}; cannot make the bundle")

    folder = PurePosixPath(bundle_name(handbook.meta))
    entries = [((folder / README).as_posix(), readme(handbook.meta, BUNDLED).encode("utf-8"))]
    for name in BUNDLED:
        path = by_name[name]
        if path.is_dir():
            entries += [
                ((folder / name / file.relative_to(path).as_posix()).as_posix(), file.read_bytes())
                for file in path.rglob("*")
                if file.is_file()
            ]
        else:
            entries.append(((folder / name).as_posix(), path.read_bytes()))
    progress(f"dist: {len(entries)} files")
    data = zip_bytes(sorted(entries), build_time(options.source_date_epoch))
    return Writer().write_bytes(out / f"{folder}.zip", data)


def readme(meta: Metadata, files: tuple[str, ...]) -> str:
    """The bundle's README in the handbook's language (Chinese for zh-*, else English)."""
    language = meta.language.split("-", 1)[0].lower()
    env = environment(language=meta.language, autoescape=False)
    template = env.get_template(f"dist/README.{language if language in README_LANGUAGES else 'en'}.txt.j2")
    return template.render(meta=meta, files=files)
