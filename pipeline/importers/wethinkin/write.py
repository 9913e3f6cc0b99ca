"""The content folder: prepared (an earlier import replaced), one chapter per file, ``handbook.toml``."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from .convert import chapter_text
from .images import IMAGES_DIR, ImageCopier
from .inline import Inline
from .structure import Source
from .summary import FileResult, ImportError_, ImportSummary, Sink

HANDBOOK_ID = "wethinkin"
MARKER_NAME = ".handbook-import"  # marks a folder this importer wrote, so a re-import may replace it


def write_content(
    src: Path, out: Path, sources: Sequence[Source], anchors: Mapping[tuple[str, str], str], sink: Sink
) -> ImportSummary:
    """Write the content folder and say what each source file became.

    :raises ImportError_: when ``out`` holds something this importer did not write.
    :raises OSError: when writing fails.
    """
    prepare_output(out)
    images = ImageCopier(src, out, sink)
    results: list[FileResult] = []
    number = 0
    for source in sources:
        if not source.questions:
            results.append(FileResult(source=source.rel, chapter_file="", questions=0,
                                      toc_mismatches=source.toc_mismatches))
            continue
        number += 1
        name = f"{number:02d}-{source.chapter_id}.md"
        inline = Inline(src=src, path=source.path, rel=source.rel, anchors=anchors, images=images, sink=sink)
        (out / name).write_text(chapter_text(source, inline), encoding="utf-8")
        results.append(FileResult(source=source.rel, chapter_file=name, questions=len(source.questions),
                                  toc_mismatches=source.toc_mismatches))
    if not number:
        sink.warn("no-questions", src.name, None, "no file holds a numbered question; nothing to build")
    (out / "handbook.toml").write_text(_handbook_toml(src), encoding="utf-8")
    (out / MARKER_NAME).write_text("written by `handbook import wethinkin`; a re-import replaces it\n",
                                   encoding="utf-8")
    return ImportSummary(
        out_dir=out, files=tuple(results), images_copied=images.copied, remote_images=images.remote,
        diagnostics=sink.report.items, warning_kinds=sink.kinds_by_count(),
    )


def prepare_output(out: Path) -> None:
    """Create ``out``, or clear an earlier import there; refuse to overwrite anything else."""
    if out.exists() and not out.is_dir():
        raise ImportError_(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER_NAME).is_file():
            raise ImportError_(f"{out}: folder is not empty and was not written by this importer")
        for old in sorted(out.glob("*.md")):
            old.unlink()
        if (out / IMAGES_DIR).is_dir():
            shutil.rmtree(out / IMAGES_DIR)
    out.mkdir(parents=True, exist_ok=True)


def _handbook_toml(src: Path) -> str:
    # Fixed Anki ids, derived from the handbook id: every re-import writes the same ones.
    digest = hashlib.sha1(HANDBOOK_ID.encode()).hexdigest()
    model_id = 1_000_000_000 + int(digest[:8], 16)
    deck_id = 1_000_000_000 + int(digest[8:16], 16)
    commit = _git_commit(src)
    where = f"commit {commit[:12]}" if commit else f"folder {src.name}"
    note = (
        "Imported from 《三年面试五年模拟》 (github.com/WeThinkIn/Interview-for-Algorithm-Engineer, "
        f"{where}) by `handbook import wethinkin`. The questions and answers are the work of their "
        "authors, licensed under the GNU General Public License v3.0."
    )
    fields = {
        "id": HANDBOOK_ID,
        "title": "三年面试五年模拟",
        "subtitle": "AI算法工程师面试题",
        "author": "WeThinkIn 社区（Rocky Ding 等）",
        "language": "zh-CN",
        "version": "",
        "description": "AI 算法工程师求职面试题与解答，按主题分章。",
        "license": "GPL-3.0-or-later",
        "source_note": note,
    }
    body = "".join(f"{key} = {_toml_string(value)}\n" for key, value in fields.items())
    # Upstream's images have no alt text and its answers no short form: warnings nobody here can act on.
    checks = "\n[check]\nalt_text = false\nkey_points_length = false\n"
    return body + f'\n[pdf]\npage_size = "A4"\n\n[anki]\nmodel_id = {model_id}\ndeck_id = {deck_id}\n' + checks


def _git_commit(src: Path) -> str:
    """The commit a git checkout is at, read from ``.git`` (no git needed), or ""."""
    git = src / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="ascii").strip()
        if not head.startswith("ref: "):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else ""
        ref = head.removeprefix("ref: ")
        if (git / ref).is_file():
            return (git / ref).read_text(encoding="ascii").strip()
        for line in (git / "packed-refs").read_text(encoding="ascii").splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except (OSError, UnicodeDecodeError):
        return ""
    return ""


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
