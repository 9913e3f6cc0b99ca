"""The command line: parse options, call the pipeline, turn our errors into messages and exit codes."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from .context import Options
from .diagnostics import ContentError, Diagnostic, HandbookError
from .writers import FORMATS

# Each command imports what it runs when it runs: a build that has nothing to do loads no parser, no
# renderer, no importer (the whole run then takes a fraction of a second).

CONTENT_OPTION = click.option(
    "--content", type=click.Path(path_type=Path, file_okay=False), default=Path("content"),
    show_default=True, help="The content folder (handbook.toml and chapter files).",
)

CACHE_OPTION = click.option(
    "--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False), default=Path(".cache"),
    show_default=True, help="Cache folder: derived fonts, formulas, PDF layouts and outputs.",
)
STRICT_OPTION = click.option("--strict", is_flag=True, help="Treat warnings as errors.")


def _progress(quiet: bool) -> Callable[[str], None]:
    """Progress lines on stderr, one per step, unless ``quiet``."""

    def show(message: str) -> None:
        if not quiet:
            click.echo(f"· {message}", err=True)

    return show


def _show(diagnostic: Diagnostic) -> None:
    click.echo(str(diagnostic), err=True)


def _source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > _LAST_ZIP_TIME:
        raise click.BadParameter(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds from 0 to {_LAST_ZIP_TIME} (2107-12-31, the "
            f"last time a ZIP file can hold), not {value[:40]!r}"
        )
    return int(value)


_LAST_ZIP_TIME = 4354819199


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or exc}"


def _stop_cleanly_on_sigterm() -> None:
    """``kill`` (SIGTERM) unwinds the build as Ctrl-C does: workers killed, temporary files removed, the
    outputs as they were. (SIGKILL cannot be caught: the workers die with the build anyway, and the next
    build removes the temporaries.)"""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


class _ToolFailure(click.ClickException):
    """A missing or failing tool (Node, MathJax, fonts): exit code 2, as HandbookError subclasses say."""

    exit_code = 2


def _failure(message: str, exit_code: int) -> click.ClickException:
    """Our error as click's: shown as ``Error: message`` without a traceback, with our exit code."""
    return _ToolFailure(message) if exit_code == 2 else click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handbook")
def main() -> None:
    """Turn interview-preparation Markdown into a PDF handbook, EPUB/HTML and Anki decks."""


@main.command(name="build")
@click.argument("formats", nargs=-1, required=True, type=click.Choice([*FORMATS, "all"]))
@CONTENT_OPTION
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("output"),
              show_default=True, help="Where the outputs are written.")
@STRICT_OPTION
@CACHE_OPTION
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--fetch-remote", is_flag=True, help="Fetch remote images (default: link to them).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--chapter", "chapters", multiple=True, help="Only this chapter id (anki; repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only questions with this tag (anki; repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def build_command(
    formats: tuple[str, ...], content: Path, out: Path, strict: bool, cache_dir: Path, no_cache: bool,
    fetch_remote: bool, jobs: int | None, chapters: tuple[str, ...], tags: tuple[str, ...], quiet: bool,
) -> None:
    """Build FORMATS (pdf, html, epub, anki, or all) from the content folder."""
    from .build import build

    wanted = FORMATS if "all" in formats else tuple(dict.fromkeys(formats))
    options = Options(
        out_dir=out, cache_dir=None if no_cache else cache_dir, source_date_epoch=_source_date_epoch(),
        fetch_remote=fetch_remote, jobs=jobs or os.cpu_count() or 1, chapters=chapters, tags=tags,
    )

    progress = _progress(quiet)
    _stop_cleanly_on_sigterm()

    try:
        written = build(content, wanted, options, progress=progress, on_diagnostic=_show, strict=strict)
    except ContentError as exc:  # its diagnostics were shown as they were found
        raise _failure(f"build failed: {exc}; earlier outputs were left as they were", 1) from None
    except HandbookError as exc:
        raise _failure(str(exc), exc.exit_code) from None
    except OSError as exc:  # a fault of the environment the build did not name itself
        raise _failure(_os_error(exc), 2) from None
    for path in written:
        click.echo(str(path))


@main.command(name="check")
@CONTENT_OPTION
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@CACHE_OPTION
@click.option("--no-cache", is_flag=True, help="Check every formula again, without the formula cache.")
def check_command(content: Path, strict: bool, cache_dir: Path, no_cache: bool) -> None:
    """Validate the content folder without building anything: everything a build would reject."""
    from .validate import validate

    try:
        diagnostics = validate(content, cache_dir=None if no_cache else cache_dir)
    except HandbookError as exc:  # Node or MathJax missing: the formulas cannot be checked
        raise _failure(str(exc), exc.exit_code) from None
    except OSError as exc:  # the formula cache cannot be written
        raise _failure(_os_error(exc), 2) from None
    for diagnostic in diagnostics:
        _show(diagnostic)
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    if errors or (strict and warnings):
        sys.exit(1)


@main.command(name="stats")
@CONTENT_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats_command(content: Path, as_json: bool) -> None:
    """Per chapter and per question: answer length and counts of code, math, tables and images."""
    from .parser import load_handbook
    from .stats import COUNTS, handbook_stats

    try:
        handbook, _ = load_handbook(content)
    except ContentError as exc:
        for diagnostic in exc.diagnostics:
            _show(diagnostic)
        raise _failure(str(exc), 1) from None
    data = handbook_stats(handbook)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    header = f"{'id':<32} {'chars':>6} {'code':>5} {'math':>5} {'tables':>6} {'images':>6}  title"
    for chapter in data["chapters"]:
        click.echo(f"\n{chapter['id']}  {chapter['title']}")
        click.echo(header)
        for q in chapter["questions"]:
            click.echo(
                f"{q['id']:<32} {q['answer_chars']:>6} {q['code_blocks']:>5} {q['math']:>5} "
                f"{q['tables']:>6} {q['images']:>6}  {q['title']}"
            )
    totals = data["totals"]
    click.echo(
        f"\n{totals['chapters']} chapters, {totals['questions']} questions; "
        + ", ".join(f"{key} {totals[key]}" for key in COUNTS)
    )


@main.group(name="import")
def import_group() -> None:
    """Convert another project's question collection into a content folder."""


@import_group.command(name="wethinkin")
@click.argument("src", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The content folder to write (empty, missing, or an earlier import).")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary, no warnings.")
def import_wethinkin_command(src: Path, out: Path, quiet: bool) -> None:
    """Import a checkout of 《三年面试五年模拟》 (WeThinkIn) from SRC into a content folder."""
    from .importers import import_wethinkin

    try:
        summary = import_wethinkin(src, out)
    except HandbookError as exc:
        raise _failure(str(exc), exc.exit_code) from None
    if not quiet:
        for diagnostic in summary.diagnostics:
            _show(diagnostic)
    for line in summary.lines():
        click.echo(line, err=True)


@main.command(name="dist")
@CONTENT_OPTION
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("output"),
              show_default=True, help="Where the outputs and handbook-<version>.zip are written.")
@STRICT_OPTION
@CACHE_OPTION
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def dist_command(content: Path, out: Path, strict: bool, cache_dir: Path, quiet: bool) -> None:
    """Build every format and zip them with a README into handbook-<version>.zip."""
    from .dist import bundle

    options = Options(out_dir=out, cache_dir=cache_dir, source_date_epoch=_source_date_epoch(),
                      jobs=os.cpu_count() or 1)

    progress = _progress(quiet)
    _stop_cleanly_on_sigterm()

    try:
        path = bundle(content, options, progress=progress, on_diagnostic=_show, strict=strict)
    except ContentError as exc:  # its diagnostics were shown as they were found
        raise _failure(f"dist failed: {exc}; earlier outputs were left as they were", 1) from None
    except HandbookError as exc:
        raise _failure(str(exc), exc.exit_code) from None
    except OSError as exc:
        raise _failure(_os_error(exc), 2) from None
    click.echo(str(path))


@main.command(name="serve")
@CONTENT_OPTION
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0: any free one).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("output"),
              show_default=True, help="Where the HTML copy is written.")
@CACHE_OPTION
def serve_command(content: Path, port: int, out: Path, cache_dir: Path) -> None:
    """Serve the HTML copy on 127.0.0.1, rebuilt and reloaded when the content or templates change."""
    from .build import build
    from .locations import TEMPLATES
    from .serve import serve

    options = Options(out_dir=out, cache_dir=cache_dir, source_date_epoch=_source_date_epoch())

    def one_build() -> object:
        return build(content, ("html",), options, on_diagnostic=_show)

    try:
        serve(site=out / "html", watched=[content, TEMPLATES], build=one_build, port=port,
              report=lambda line: click.echo(f"· {line}", err=True))
    except OSError as exc:  # the port is taken, most likely
        raise _failure(f"cannot serve on 127.0.0.1:{port}: {exc}", 1) from None
    except KeyboardInterrupt:
        pass
