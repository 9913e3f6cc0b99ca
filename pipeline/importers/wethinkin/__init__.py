"""Import the WeThinkIn 《三年面试五年模拟》 repository (or any folder laid out like it).

The source is GitHub-flavoured Markdown written for GitHub's renderer: questions are raw HTML
headings (``<h2 id="1.标题">1.标题</h2>``, h1–h3 mixed), answers run to the next question, and HTML
spans, ``\\( \\)`` math and in-page anchors are everywhere. Our parser keeps raw HTML off, so this
package is a dialect converter that writes plain content-format Markdown, which ``pipeline.parser``
then validates like any hand-written chapter.

The data flows through one module per step:

- ``scan``: find the source files (topics in the root README's order) and read each one into
  cleaned lines that know whether they are code, formula or heading;
- ``structure``: the table of contents, the questions, the groups above them and their ids, and the
  anchor table that links between questions resolve against;
- ``convert`` (block level) and ``inline`` (one line's text): one chapter's Markdown;
- ``write``: the content folder, ``handbook.toml``, the images (``images``) and the summary.

One chapter per source file that holds questions: the file is the upstream's unit of subject
("损失函数知识点", "推理框架知识点"), so it makes a chapter of readable length in the PDF and a
sub-deck of useful size in Anki; the topic folder becomes a tag and the chapter description.
"""

from __future__ import annotations

from pathlib import Path

from .scan import source_files
from .structure import anchor_table, read_source
from .summary import FileResult, ImportError_, ImportSummary, Sink
from .write import write_content

__all__ = ["FileResult", "ImportError_", "ImportSummary", "import_wethinkin"]


def import_wethinkin(src: Path, out: Path) -> ImportSummary:
    """Convert a WeThinkIn checkout into a content folder.

    :param src: the checkout (topic folders with Markdown files and their ``imgs/`` folders).
    :param out: the content folder to write; must be empty, missing, or an earlier import.
    :returns: the summary; diagnostics are warnings about the source, never errors.
    :raises ImportError_: when ``src`` is not a folder or ``out`` holds something else.
    """
    src = src.resolve()
    out = out.resolve()
    if not src.is_dir():
        raise ImportError_(f"{src}: source folder not found")
    sink = Sink()
    sources = [s for s in (read_source(path, src, sink) for path in source_files(src)) if s is not None]
    anchors = anchor_table(sources)
    try:
        return write_content(src, out, sources, anchors, sink)
    except OSError as exc:  # a full disk or a read-only folder: the user's to fix, not a traceback
        raise ImportError_(f"{exc.filename or out}: cannot write the content folder: {exc.strerror}") from exc
