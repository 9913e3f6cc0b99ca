"""Import the WeThinkIn 《三年面试五年模拟》 repository (or any folder laid out like it).

The source is GitHub-flavoured Markdown written for GitHub's renderer: questions are raw HTML
headings (``<h2 id="1.标题">1.标题</h2>``, h1–h3 mixed), answers run to the next question, and HTML
spans, ``\\( \\)`` math and in-page anchors are everywhere. Our parser keeps raw HTML off, so this
module is a dialect converter: it works line by line (the honest tool for a dialect whose structure
lives in HTML lines that CommonMark would swallow into HTML blocks) and writes plain content-format
Markdown that ``pipeline.parser`` then validates like any hand-written chapter. Where CommonMark's own
reading matters (which lines are fenced code, whether a fence is still open) it asks our parser for
tokens instead of guessing.

Steps: find the source files (topics in the root README's order) → read each one (clean the text,
find headings, the table of contents, questions and groups) → build the anchor table across files
→ write one chapter per file, ``handbook.toml`` and the images.

One chapter per source file that holds questions: the file is the upstream's unit of subject
("损失函数知识点", "推理框架知识点"), so it makes a chapter of readable length in the PDF and a
sub-deck of useful size in Anki; the topic folder becomes a tag and the chapter description.

Ids are derived from stable things so that re-importing a newer checkout updates Anki notes in place:

- chapter id: ``wt-`` + hash of the source path relative to SRC;
- question id: ``wt-`` + hash of (source path, normalized title). The normalized title drops the
  question number, case, width and punctuation, so renumbering upstream keeps the ids, but **editing
  a title upstream changes that question's id** (Anki then sees a new note). Two questions with the
  same normalized title in one file get ``-2``, ``-3`` … in order of appearance.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

import yaml
from markdown_it.token import Token

from ..diagnostics import Diagnostic, HandbookError, Report
from ..parser import markdown_parser

HANDBOOK_ID = "wethinkin"
MARKER_NAME = ".handbook-import"  # marks a folder this importer wrote, so a re-import may replace it
IMAGES_DIR = "images"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SKIPPED_NAMES = {"readme.md", "notice.md", "license.md"}

# A question number at the start of a heading: "12.标题", "3、标题", "问题4：标题", "问题5. 标题".
_NUMBER = re.compile(r"^\s*(?:问题\s*(?P<q>\d+)\s*[：:.．、]?|(?P<n>\d+)\s*[.、．])\s*")
_CHAPTER_GROUP = re.compile(r"^第[一二三四五六七八九十百零〇\d]+[章部篇节]")
_TOC_TITLES = {"目录", "目 录", "contents", "table of contents"}

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])\b([^>]*)>(.*)$", re.IGNORECASE)
_HTML_CLOSE = re.compile(r"</h([1-6])\s*>", re.IGNORECASE)
_ID_ATTR = re.compile(r"""\bid\s*=\s*(["']?)([^"'>]*)(["']?)""", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)((?:\s[^<>]*?)?)\s*(/?)>")
_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^\s<>]*>", re.IGNORECASE)
_LINK = re.compile(r"(!?)\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\]\(([^()\s]*(?:\([^()]*\)[^()\s]*)*|<[^<>]*>)"
                   r"(?:\s+(\"[^\"]*\"|'[^']*'))?\s*\)")
# An image path with spaces is not CommonMark, but GitHub shows it, so the authors relied on it.
_LINK_OR_IMAGE = re.compile(_LINK.pattern + r"|!\[(?P<loose_alt>[^\[\]]*)\]\((?P<loose>[^()]*?)\)")
_PAREN_MATH = re.compile(r"\\\((.+?)\\\)")
_BRACKET_MATH = re.compile(r"\\\[(.+?)\\\]")
_MEANINGLESS_ALT = re.compile(r"^(?:image[-_ ]?\d*|img|图片|pic)?$", re.IGNORECASE)

# HTML elements reduced to their text (the markup only styled or positioned it).
_TEXT_ONLY = {
    "font", "span", "small", "smaller", "big", "center", "p", "div", "u", "sup", "sub", "mark", "ins",
    "section", "article", "figure", "figcaption", "details", "summary", "h1", "h2", "h3", "h4", "h5",
    "h6", "kbd", "abbr", "cite", "q", "tt", "var", "samp", "nobr", "label",
}
_MARKDOWN_EQUIVALENT = {"b": "**", "strong": "**", "i": "*", "em": "*", "del": "~~", "s": "~~", "strike": "~~"}


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What one source file became."""

    source: PurePosixPath  # relative to SRC
    chapter_file: str  # "" when the file held no questions and was skipped
    questions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportSummary:
    """The outcome of an import, for the summary the CLI prints and for tests."""

    out_dir: Path
    files: tuple[FileResult, ...]
    images_copied: int
    diagnostics: tuple[Diagnostic, ...]
    warning_kinds: tuple[tuple[str, int], ...]  # (kind, count), most frequent first

    @property
    def questions(self) -> int:
        return sum(f.questions for f in self.files)

    def lines(self) -> list[str]:
        """The human summary: files read, questions per file, warnings grouped by kind."""
        out = [f"read {len(self.files)} file(s) into {self.out_dir}"]
        width = max((_display_width(str(f.source)) for f in self.files), default=0)
        for f in self.files:
            where = f"-> {f.chapter_file}" if f.chapter_file else "(no questions; skipped)"
            pad = " " * (width - _display_width(str(f.source)))
            out.append(f"  {f.source}{pad}  {f.questions:4d}  {where}")
        chapters = sum(1 for f in self.files if f.chapter_file)
        out.append(f"{self.questions} question(s) in {chapters} chapter(s); {self.images_copied} image(s) copied")
        if self.warning_kinds:
            out.append("warnings by kind: " + ", ".join(f"{kind} {n}" for kind, n in self.warning_kinds))
        else:
            out.append("no warnings")
        return out


def _display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class ImportError_(HandbookError):  # the trailing _ because the builtin ImportError means something else
    """The source or the output folder cannot be used."""


# --- the import, step by step -------------------------------------------------------------------


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
    sink = _Sink()
    files = _source_files(src)
    parsed = [p for p in (_read_source(path, src, sink) for path in files) if p is not None]
    anchors = _anchor_table(parsed)
    try:
        return _write(src, out, parsed, anchors, sink)
    except OSError as exc:  # a full disk or a read-only folder: the user's to fix, not a traceback
        raise ImportError_(f"{exc.filename or out}: cannot write the content folder: {exc.strerror}") from exc


def _write(
    src: Path, out: Path, parsed: Sequence[_Source], anchors: dict[tuple[str, str], str], sink: _Sink
) -> ImportSummary:
    _prepare_output(out)
    images = _ImageCopier(src, out, sink)
    results: list[FileResult] = []
    number = 0
    for source in parsed:
        if not source.questions:
            results.append(FileResult(source=source.rel, chapter_file="", questions=0))
            continue
        number += 1
        name = f"{number:02d}-{source.chapter_id}.md"
        text = _Converter(source, anchors, images, sink).chapter_text()
        (out / name).write_text(text, encoding="utf-8")
        results.append(FileResult(source=source.rel, chapter_file=name, questions=len(source.questions)))
    if not number:
        sink.warn("no-questions", src.name, None, "no file holds a numbered question; nothing to build")
    (out / "handbook.toml").write_text(_handbook_toml(src), encoding="utf-8")
    (out / MARKER_NAME).write_text("written by `handbook import wethinkin`; a re-import replaces it\n",
                                   encoding="utf-8")
    kinds = sorted(sink.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    return ImportSummary(
        out_dir=out, files=tuple(results), images_copied=images.copied,
        diagnostics=sink.report.items, warning_kinds=tuple(kinds),
    )


class _Sink:
    """Warnings about the source, counted by kind for the summary."""

    def __init__(self) -> None:
        self.report = Report()
        self.kinds: Counter[str] = Counter()

    def warn(self, kind: str, rel: PurePosixPath | str, line: int | None, message: str) -> None:
        self.kinds[kind] += 1
        self.report.warning(rel, line, message)


def _source_files(src: Path) -> list[Path]:
    """Markdown files below the topic folders, topics in the order the root README lists them."""
    order = _readme_topic_order(src)
    found = [
        p for p in src.rglob("*.md")
        if p.is_file() and p.parent != src and p.name.lower() not in _SKIPPED_NAMES
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    ]

    def key(path: Path) -> tuple[int, str, str]:
        rel = path.relative_to(src)
        topic = rel.parts[0]
        return (order.get(topic, len(order)), topic, rel.as_posix())

    return sorted(found, key=key)


def _readme_topic_order(src: Path) -> dict[str, int]:
    """Topic folders in the order of the root README's links (the upstream's own reading order)."""
    readme = next((p for p in sorted(src.glob("*")) if p.name.lower() == "readme.md"), None)
    if readme is None:
        return {}
    try:
        text = readme.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}
    order: dict[str, int] = {}
    for match in _LINK.finditer(text):
        target = unquote(match.group(3).strip("<>")).strip("./")
        if target and "/" not in target and (src / target).is_dir() and target not in order:
            order[target] = len(order)
    return order


# --- reading one source file --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Heading:
    index: int  # 0-based line index
    level: int
    text: str  # visible text, markup stripped
    anchor: str  # the HTML id, or "" (ATX headings)
    html: bool
    tail: str = ""  # text after an HTML heading's end tag, on the same line: it starts the answer


@dataclass(frozen=True, slots=True, kw_only=True)
class _Question:
    heading: _Heading
    id: str
    title: str  # without its number
    section: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Source:
    path: Path
    rel: PurePosixPath
    topic: str
    chapter_id: str
    lines: tuple[str, ...]
    in_code: tuple[bool, ...]  # True for fence lines and the lines between them
    in_math: tuple[int, ...]  # see _math_lines
    headings: tuple[_Heading, ...]
    questions: tuple[_Question, ...]
    groups: tuple[_Heading, ...]
    toc: tuple[tuple[int, int], ...]  # dropped [start, end) line ranges
    intro_end: int  # the intro is lines [0, intro_end), minus the TOC


def _read_source(path: Path, src: Path, sink: _Sink) -> _Source | None:
    rel = PurePosixPath(path.relative_to(src).as_posix())
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        sink.warn("not-utf8", rel, None, f"file is not valid UTF-8 ({exc.reason}); skipped")
        return None
    except OSError as exc:
        sink.warn("unreadable", rel, None, f"cannot read file: {exc.strerror}; skipped")
        return None
    lines = tuple(_clean_line(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    in_code = _code_lines(lines)
    in_math = _math_lines(lines, in_code)
    headings = tuple(_headings(lines, in_code, rel, sink))
    toc = tuple(_toc_ranges(lines, headings))
    in_toc = {i for start, end in toc for i in range(start, end)}
    headings = tuple(h for h in headings if h.index not in in_toc)
    chapter_id = "wt-" + _digest(rel.as_posix(), 8)
    questions, groups = _classify(headings, rel, sink)
    first = min([q.heading.index for q in questions] + [g.index for g in groups], default=len(lines))
    return _Source(
        path=path, rel=rel, topic=rel.parts[0], chapter_id=chapter_id, lines=lines, in_code=in_code,
        in_math=in_math, headings=headings, questions=questions, groups=groups, toc=toc, intro_end=first,
    )


def _clean_line(line: str) -> str:
    """Remove zero-width characters; NBSP (used as code indentation) becomes a space.

    A line that began with a zero-width character loses its leading whitespace too: upstream it was
    an invisible paragraph start, and the tab behind it would otherwise make an indented code block.
    """
    if line[:1] in ("\u200b", "\ufeff", "\u2060"):
        line = line.translate(_ZERO_WIDTH).lstrip(" \t")
    return line.translate(_ZERO_WIDTH).replace("\u00a0", " ")


def _code_lines(lines: Sequence[str]) -> tuple[bool, ...]:
    """Which lines belong to fenced code, as our parser sees them (list context decides, not a regex)."""
    flags = [False] * len(lines)
    for token in _block_tokens(lines):
        if token.type == "fence" and token.map is not None:
            for index in range(token.map[0], min(token.map[1], len(lines))):
                flags[index] = True
    return tuple(flags)


def _block_tokens(lines: Sequence[str]) -> list[Token]:
    """Our parser's tokens for ``lines``, maps indexing ``lines``; a leading ``---`` is no front matter."""
    tokens = markdown_parser().parse("\n" + "\n".join(lines))
    for token in tokens:
        if token.map is not None:
            token.map = [token.map[0] - 1, token.map[1] - 1]
    return tokens


def _math_lines(lines: Sequence[str], in_code: Sequence[bool]) -> tuple[int, ...]:
    """Display formulas over several lines: from a line opening ``$$`` to the line closing it.

    Also ``$`` … ``$`` and ``\\[`` … ``\\]`` spread over lines (``$\\begin{aligned}`` …
    ``\\end{aligned}$``), which GitHub shows as a formula; those become ``$$`` blocks. Flags: 0 text,
    1 inside a formula, 2 its opening line, 3 its closing line. An opener that never closes (before
    a code fence or a heading) is left alone: its dollars are then escaped as text, which
    ``handbook check`` accepts.
    """
    flags = [0] * len(lines)
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        single = _dollars(stripped) % 2 == 1 and stripped.startswith("$") and not stripped.startswith("$$")
        double = stripped.startswith("$$") and stripped.count("$$") % 2 == 1
        bracket = stripped.startswith("\\[") and "\\]" not in stripped
        if not in_code[index] and (single or double or bracket):
            end = index + 1
            closer = "\\]" if bracket else "$"
            while end < len(lines) and not in_code[end] and closer not in lines[end] \
                    and not _HTML_HEADING.match(lines[end]) and not lines[end].startswith("#"):
                end += 1
            boundary = end >= len(lines) or in_code[end] or bool(_HTML_HEADING.match(lines[end])) \
                or bool(_ATX.match(lines[end]))
            closing = "" if boundary else lines[end].strip()
            if bracket:
                closes = closing.endswith("\\]") and "\\[" not in closing
            elif double:
                closes = closing.count("$$") % 2 == 1 and closing.endswith("$$")
            else:
                closes = (
                    _dollars(closing) % 2 == 1 and closing.endswith("$") and not closing.endswith("$$"))
            if closes:
                for i in range(index, end + 1):
                    flags[i] = 1
                flags[index], flags[end] = 2, 3
                index = end + 1
                continue
        index += 1
    return tuple(flags)


def _dollars(text: str) -> int:
    """How many unescaped ``$`` a line has."""
    return len(re.findall(r"(?<!\\)\$", text))


def _headings(lines: Sequence[str], in_code: Sequence[bool], rel: PurePosixPath, sink: _Sink) -> Iterator[_Heading]:
    for index, line in enumerate(lines):
        if in_code[index]:
            continue
        html = _HTML_HEADING.match(line)
        if html:
            yield _html_heading(index, html, rel, sink)
            continue
        atx = _ATX.match(line)
        if atx:
            yield _Heading(index=index, level=len(atx.group(1)), text=_visible(atx.group(2) or ""),
                           anchor="", html=False)


def _html_heading(index: int, match: re.Match[str], rel: PurePosixPath, sink: _Sink) -> _Heading:
    """An HTML heading line, recovering from a missing quote or a missing or mismatched end tag."""
    level, attrs, rest = int(match.group(1)), match.group(2), match.group(3)
    close = _HTML_CLOSE.search(rest)
    problems = []
    if close is None:
        problems.append(f"no </h{level}>")
        inner = rest
    else:
        inner = rest[: close.start()]
        if int(close.group(1)) != level:
            problems.append(f"<h{level}> closed by </h{close.group(1)}>")
    anchor = ""
    id_match = _ID_ATTR.search(attrs)
    if id_match:
        anchor = id_match.group(2).strip()
        if id_match.group(1) != id_match.group(3):
            problems.append("unbalanced quotes in id")
    elif "id" in attrs.lower():
        problems.append("unreadable id attribute")
    text = _visible(inner)
    if not text and anchor:
        text = anchor
    if problems:
        sink.warn("malformed-heading", rel, index + 1,
                  f"malformed heading tag ({'; '.join(problems)}) read as <h{level}> {text!r}")
    tail = rest[close.end():].strip() if close is not None else ""
    return _Heading(index=index, level=level, text=text, anchor=anchor, html=True, tail=tail)


def _visible(markup: str) -> str:
    """The text a reader sees: tags removed, whitespace collapsed."""
    text = _TAG.sub("", markup)
    return " ".join(text.split())


def _toc_ranges(lines: Sequence[str], headings: Sequence[_Heading]) -> Iterator[tuple[int, int]]:
    """A ``# 目录`` heading and the link list under it (with its ``## 第一章`` sub-headings)."""
    for heading in headings:
        if heading.text.strip().lower() not in _TOC_TITLES:
            continue
        end = heading.index + 1
        while end < len(lines) and _toc_line(lines, end):
            end += 1
        yield (heading.index, end)


def _toc_line(lines: Sequence[str], index: int) -> bool:
    stripped = lines[index].strip()
    if not stripped or set(stripped) <= set("-*_= "):
        return True
    if re.match(r"^(?:[-*+]|\d+[.)])\s+\[", stripped) or stripped.startswith("["):
        return True
    if _ATX.match(lines[index]):  # a sub-heading of the TOC only when a link list follows it
        following = next((line.strip() for line in lines[index + 1:] if line.strip()), "")
        return bool(re.match(r"^(?:[-*+]|\d+[.)])\s+\[", following))
    return False


def _question_number(text: str) -> int | None:
    match = _NUMBER.match(text)
    if match is None:
        return None
    return int(match.group("q") or match.group("n"))


def _is_wenti(text: str) -> bool:
    return bool(re.match(r"^\s*问题\s*\d", text))


def _classify(
    headings: Sequence[_Heading], rel: PurePosixPath, sink: _Sink
) -> tuple[tuple[_Question, ...], tuple[_Heading, ...]]:
    """Which headings are questions and which group the questions below them.

    A question is a numbered HTML heading (h1–h3) or a ``问题N`` heading; a file with neither uses
    its shallowest numbered ATX headings (``### N. 标题``). A numbered heading directly followed by
    a deeper heading numbered 1 opens a group; so do ``第N章`` headings and, in an ATX file, the
    headings above the question level.
    """
    candidates = [
        h for h in headings
        if (h.html and h.level <= 3 and _question_number(h.text) is not None) or _is_wenti(h.text)
    ]
    atx_level = 0
    if not candidates:
        numbered = [h for h in headings if not h.html and h.level >= 2 and _question_number(h.text) is not None]
        if numbered:
            atx_level = min(h.level for h in numbered)
            candidates = [h for h in numbered if h.level == atx_level]
    group_ids = {
        id(a) for a, b in itertools.pairwise(candidates)
        if b.level > a.level and _question_number(b.text) == 1 and not _is_wenti(a.text)
    }
    groups = [h for h in candidates if id(h) in group_ids]
    chosen = {id(h) for h in candidates}
    for h in headings:
        if id(h) in chosen or h.html:
            continue
        if (h.level <= 2 and _CHAPTER_GROUP.match(h.text)) or (atx_level and h.level < atx_level):
            groups.append(h)
    groups.sort(key=lambda h: h.index)

    questions: list[_Question] = []
    seen: Counter[str] = Counter()
    group_iter = iter(groups)
    next_group = next(group_iter, None)
    section = ""
    for head in candidates:
        if id(head) in group_ids:
            continue
        while next_group is not None and next_group.index < head.index:
            section = _section_name(next_group.text)
            next_group = next(group_iter, None)
        title = _NUMBER.sub("", head.text, count=1).strip() or head.text
        key = _normal_title(title)
        seen[key] += 1
        qid = "wt-" + _digest(f"{rel.as_posix()}\n{key}", 10)
        if seen[key] > 1:
            qid = f"{qid}-{seen[key]}"
            sink.warn("duplicate-title", rel, head.index + 1,
                      f"question title {title!r} appears {seen[key]} times in this file; this one is {qid!r}")
        questions.append(_Question(heading=head, id=qid, title=title, section=section))
    return tuple(questions), tuple(groups)


def _section_name(text: str) -> str:
    name = _NUMBER.sub("", text, count=1).strip() or text.strip()
    return name.removesuffix("正文").strip()


def _normal_title(title: str) -> str:
    """What identifies a question: its title without width, case, spacing or punctuation."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _anchor_key(anchor: str) -> str:
    text = unquote(anchor).removeprefix("user-content-")
    return _normal_title(text)


def _anchor_table(sources: Sequence[_Source]) -> dict[tuple[str, str], str]:
    """(file, anchor key) → question id, from each question heading's id attribute and its text."""
    table: dict[tuple[str, str], str] = {}
    for source in sources:
        for question in source.questions:
            for anchor in (question.heading.anchor, question.heading.text):
                if anchor:
                    table.setdefault((source.rel.as_posix(), _anchor_key(anchor)), question.id)
    return table


# --- writing ------------------------------------------------------------------------------------


def _prepare_output(out: Path) -> None:
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
    return body + f'\n[pdf]\npage_size = "A4"\n\n[anki]\nmodel_id = {model_id}\ndeck_id = {deck_id}\n'


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


class _ImageCopier:
    """Copies each local image once, to ``images/<path relative to SRC>``."""

    def __init__(self, src: Path, out: Path, sink: _Sink) -> None:
        self.src = src
        self.out = out
        self.sink = sink
        self.done: set[PurePosixPath] = set()

    @property
    def copied(self) -> int:
        return len(self.done)

    def place(self, source: _Source, target: str, line: int) -> str | None:
        """The content-relative URL of a copied image, or None (reported) when it cannot be used."""
        if re.match(r"^[A-Za-z]:[\\/]", target):  # "D:\\…\\imgs\\DCC.png", a path on an author's machine
            name = re.split(r"[\\/]", target)[-1]
            if (source.path.parent / "imgs" / name).is_file():
                self.sink.warn("image-recovered", source.rel, line,
                               f"image path {target!r} is on the author's disk; using imgs/{name} beside the file")
                target = f"imgs/{name}"
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith("/"):
            self.sink.warn("image-unsupported", source.rel, line, f"image location not supported: {target!r}")
            return None
        resolved = (source.path.parent / unquote(parts.path)).resolve()
        try:
            inside = PurePosixPath(resolved.relative_to(self.src).as_posix())
        except ValueError:
            self.sink.warn("image-outside", source.rel, line, f"image path leaves the source folder: {target!r}")
            return None
        if not resolved.is_file():
            self.sink.warn("image-missing", source.rel, line, f"image file not found: {target!r}")
            return None
        destination = PurePosixPath(IMAGES_DIR) / inside
        if destination not in self.done:
            path = self.out / destination
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resolved, path)
            except OSError as exc:
                self.sink.warn("image-unreadable", source.rel, line, f"cannot copy image {target!r}: {exc.strerror}")
                return None
            self.done.add(destination)
        return quote(destination.as_posix(), safe="/")


class _Converter:
    """Turns one source file into one chapter file. One converter per file per import."""

    def __init__(
        self, source: _Source, anchors: dict[tuple[str, str], str], images: _ImageCopier, sink: _Sink
    ) -> None:
        self.source = source
        self.anchors = anchors
        self.images = images
        self.sink = sink
        self.dropped = {i for start, end in source.toc for i in range(start, end)}
        self.headings = {h.index: h for h in source.headings}
        self.table_line = False

    def warn(self, kind: str, index: int, message: str) -> None:
        self.sink.warn(kind, self.source.rel, index + 1, message)

    def chapter_text(self) -> str:
        source = self.source
        front = {
            "id": source.chapter_id,
            "title": source.path.stem,
            "description": f"{source.topic} · {source.rel.as_posix()}",
        }
        out = ["---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip(), "---", ""]
        intro = self.body(0, source.intro_end)
        if intro:
            out += [*intro, ""]
        markers = sorted([q.heading.index for q in source.questions] + [g.index for g in source.groups])
        ends = {start: end for start, end in zip(markers, [*markers[1:], len(source.lines)], strict=True)}
        for group in source.groups:
            orphan = [i for i in range(group.index + 1, ends[group.index])
                      if source.lines[i].strip() and i not in self.dropped]
            if orphan:
                self.warn("orphan-text", orphan[0],
                          f"{len(orphan)} line(s) under group heading {group.text!r} belong to no "
                          "numbered question; left out")
        for question in source.questions:
            start = question.heading.index
            out += [self.question_heading(question), ""]
            answer = self.body(start + 1, ends[start])
            if question.heading.tail:
                answer = [self.tail_text(question.heading.tail, start), "", *answer]
            if not answer:
                self.warn("empty-answer", start, f"question {question.title!r} has no answer")
                answer = ["（原文无解答）"]
            out += [*answer, ""]
        return "\n".join(out).rstrip("\n") + "\n"

    def question_heading(self, question: _Question) -> str:
        self.table_line = True  # a <br> in a title is a space, as in a table cell
        title = " ".join(self.inline(question.title, question.heading.index, images=False).split())
        # The parser re-reads the text before a heading's {…} block unescaped, so an escaped \$ there
        # would count as a math delimiter; a full-width ＄ reads the same.
        title = title.replace("\\$", "＄")
        if not title.strip("\\ "):
            self.warn("empty-title", question.heading.index, "question heading has no text; titled （无标题）")
            title = "（无标题）"
        attrs = [f"#{question.id}", f'tags="{_tag(self.source.topic)}"']
        section = _attr_value(question.section)
        if section:
            attrs.append(f'section="{section}"')
        return f"## {title} {{{' '.join(attrs)}}}"

    # -- bodies

    def body(self, start: int, end: int) -> list[str]:
        """Lines [start, end) as content-format Markdown: headings at level 3+, HTML converted."""
        lines: list[str] = []
        levels: list[tuple[int, int]] = []  # (position in lines, source level) of each heading
        for index in range(start, end):
            if index in self.dropped:
                continue
            text = self.source.lines[index]
            if self.source.in_code[index]:
                lines.append(text)
                continue
            math = self.source.in_math[index]
            if math and not text.strip():
                continue  # a blank line would end the formula (and TeX rejects one in display math)
            if math:
                # A formula becomes a block of its own: blank lines around it (a $$ block cannot
                # interrupt a paragraph) and no indentation (four spaces would make it code).
                if not self.source.in_math[index - 1]:
                    lines.append("")
                lines.append(self._math_delimiters(text, math))
                if index + 1 == end or not self.source.in_math[index + 1]:
                    lines.append("")
                continue
            heading = self.headings.get(index)
            if heading is not None:
                if not heading.text:
                    continue
                levels.append((len(lines), heading.level))
                self.table_line = True  # a <br> in a heading is a space
                lines.append(" ".join(self.inline(heading.text, index, images=False).split()))
                if heading.tail:
                    lines += ["", self.tail_text(heading.tail, index), ""]
                continue
            lines.extend(self.block_line(text, index))
        self._set_heading_levels(lines, levels)
        out = _tidy(lines)
        if _close_fences(out):
            self.warn("unclosed-fence", start, "a code fence here runs to the end of its list, quote or "
                      "question without a closing line; closed there")
        return out

    @staticmethod
    def _math_delimiters(text: str, math: int) -> str:
        """A line of a formula over several lines, delimited by ``$$`` whatever the source used.

        Any other unescaped ``$`` goes: inside display math it can only end the formula early.
        """
        tex = _math_line(text).strip()
        if math == 2:
            tex = tex.removeprefix("$$") if tex.startswith("$$") else tex.removeprefix("\\[").removeprefix("$")
        elif math == 3:
            tex = tex.removesuffix("$$") if tex.endswith("$$") else tex.removesuffix("\\]").removesuffix("$")
        tex = re.sub(r"(?<!\\)\$", "", tex)
        # the delimiters on lines of their own: "$$| a |" could otherwise start a table
        if math in (2, 3) and tex.strip():
            return f"$$\n{tex}" if math == 2 else f"{tex}\n$$"
        return "$$" if math in (2, 3) else tex

    @staticmethod
    def _set_heading_levels(lines: list[str], levels: Sequence[tuple[int, int]]) -> None:
        """Answer headings start at ### and never skip a level, keeping their relative order."""
        ranks = {level: rank for rank, level in enumerate(sorted({lvl for _, lvl in levels}))}
        previous = 2
        for position, level in levels:
            new = min(3 + ranks[level], previous + 1, 6)
            previous = new
            lines[position] = f"\n{'#' * new} {lines[position]}\n"

    def block_line(self, text: str, index: int) -> list[str]:
        stripped = text.strip()
        if re.fullmatch(r"(?:</?(?:div|center|p|section|figure|details|summary)\b[^<>]*>\s*)+", stripped,
                        re.IGNORECASE):
            return [""]  # a wrapper line: it only separated blocks
        if stripped.startswith("\\[") and stripped.endswith("\\]") and len(stripped) > 4:
            tex = re.sub(r"(?<!\\)\$", "", stripped[2:-2]).strip()
            return ["", "$$", tex, "$$", ""] if tex else [""]
        indent = len(text) - len(text.lstrip())
        if indent >= 4 and re.match(r"<(?:img|div|center|p|a|font|span)\b", stripped, re.IGNORECASE):
            text = stripped  # indented inside a <div>, not code: GitHub read it as part of an HTML block
        self.table_line = stripped.startswith("|")
        converted = self.inline(text, index, images=True)
        pieces = converted.split("\n")
        first = pieces[0].lstrip()[:1]
        if first and first != stripped[:1]:  # "</h2>## x", "<font>```": a removed tag must not leave a block marker
            pieces[0] = _escape_block_start(pieces[0])
        return [pieces[0], *(_escape_block_start(p) for p in pieces[1:])]  # lines a <br> began

    def tail_text(self, text: str, index: int) -> str:
        """Text after ``</h2>`` on the heading's line: GitHub shows it as text in the HTML block, so
        it must not start a fence, list or heading here."""
        return _escape_block_start(self.inline(text.strip(), index, images=True).replace("\n", " "))

    # -- inline text

    def inline(self, text: str, index: int, *, images: bool) -> str:
        """One line of source text with its HTML, math delimiters, links and images converted."""
        # "$$\[ … \]$$": both kinds of delimiter around one formula
        text = _math_line(text)
        text = _PAREN_MATH.sub(lambda m: f"${m.group(1).strip()}$", text)
        text = _BRACKET_MATH.sub(
            lambda m: f"${m.group(1).strip()}$" if re.search(r"[\\^_=+{}]", m.group(1)) else m.group(0), text
        )
        parts: list[str] = []
        for kind, segment in _segments(text):
            if kind == "math":  # "$( \frac{1}{1-p} \)$": a stray LaTeX delimiter is no TeX
                fence = "$$" if segment.startswith("$$") and len(segment) >= 4 else "$"
                tex = re.sub(r"\\[()\[\]]|(?<!\\)\$", "", segment[len(fence): -len(fence)])
                # an empty formula goes: "$$" alone would open a display formula
                segment = f"{fence}{tex}{fence}" if tex.strip() else ""
                if segment and "".join(parts).endswith("$"):
                    segment = " " + segment  # "$$x$$$$y$$" would read as other delimiters
            if kind == "text":
                segment = self.links(segment, index, images=images)
                segment = self.tags(segment, index, images=images)
                segment = _escape_dollars(segment)
            parts.append(segment)
        return "".join(parts)

    def links(self, text: str, index: int, *, images: bool) -> str:
        """Markdown links and images, in one pass so that a rewritten target is never read again."""

        def replace(match: re.Match[str]) -> str:
            if match.group("loose") is not None:
                target = match.group("loose").strip()
                if " " not in target or urlsplit(target).scheme:
                    return match.group(0)
                return self.image(match.group("loose_alt"), target, index) if images else match.group("loose_alt")
            bang, label, target = match.group(1), match.group(2), match.group(3).strip("<>")
            if bang:
                return self.image(label, target, index) if images else label
            return self.link(label, target, index)

        return _LINK_OR_IMAGE.sub(replace, text)

    def image(self, alt: str, target: str, index: int) -> str:
        alt = " ".join(alt.replace("[", "").replace("]", "").split())
        if _MEANINGLESS_ALT.match(alt):  # "", "image-20250323205036349": the file name says more
            alt = PurePosixPath(re.split(r"[\\/]", unquote(target))[-1]).stem.replace("_", " ")
        if urlsplit(target).scheme in ("http", "https"):
            return f"![{alt}]({target})"
        url = self.images.place(self.source, target, index + 1)
        if url is None:
            return f"（图：{alt}）"
        return f"![{alt}]({url})"

    def link(self, label: str, target: str, index: int) -> str:
        parts = urlsplit(target)
        if parts.scheme in ("http", "https", "mailto", "ftp"):
            return f"[{label}]({target})"
        file = self.source.rel.as_posix()
        if parts.path:
            resolved = (self.source.path.parent / unquote(parts.path)).resolve()
            try:
                file = resolved.relative_to(self.images.src).as_posix()
            except ValueError:
                file = ""
            if not parts.fragment or not file.endswith(".md"):
                self.warn("link-relative", index, f"link to {target!r} outside the imported questions; kept as text")
                return label
        question_id = self.anchors.get((file, _anchor_key(parts.fragment)))
        if question_id is None:
            self.warn("link-broken", index, f"link target {target!r} matches no question; kept as text")
            return label
        return f"[{label}](#{question_id})"

    def tags(self, text: str, index: int, *, images: bool) -> str:
        """HTML tags: formatting tags become Markdown, styling tags vanish, anything else is text."""
        out: list[str] = []
        position = 0
        pending_href: list[str | None] = []
        for match in _TAG.finditer(text):
            out.append(_escape_angles(text[position: match.start()]))
            position = match.end()
            closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
            if name in _TEXT_ONLY:
                continue
            if name in _MARKDOWN_EQUIVALENT:
                out.append(_MARKDOWN_EQUIVALENT[name])
            elif name == "br":
                out.append(" " if self.table_line or not text[position:].strip() else "\\\n")
            elif name == "hr":
                out.append("\n\n---\n\n" if not self.table_line else " ")
            elif name == "img":
                values = _attrs(attrs)
                src = values.get("src", "")
                if src and images:
                    out.append(self.image(values.get("alt", ""), src, index))
                elif values.get("alt"):
                    out.append(values["alt"])
            elif name == "a":
                href = _attrs(attrs).get("href") if not closing else None
                if not closing:
                    pending_href.append(href)
                    out.append("\x00" if href else "")
                elif pending_href:
                    href = pending_href.pop()
                    out.append(f"\x01{href}\x02" if href else "")
            else:
                out.append(_escape_angles(match.group(0)))  # <iostream>, <X>: text that looks like a tag
        out.append(_escape_angles(text[position:]))
        return _close_anchors("".join(out), self, index)


_BLOCK_START = re.compile(
    r"(?:`{3,}|~{3,}|#{1,6}(?:\s|$)|>|[-+*](?:\s|$)|\d+[.)](?:\s|$)|(?:[-*_=]\s*){3,}$|=+\s*$|\$\$\s*$)"
)


def _escape_block_start(line: str) -> str:
    """Text that must stay a paragraph line: escape what would open a fence, heading, list or quote."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    if not _BLOCK_START.match(body):
        return line
    if body.startswith("$$"):
        return indent + "\\$\\$" + body[2:]
    digits = re.match(r"\d+", body)
    if digits:  # "1." cannot be escaped at the digit, only at its delimiter
        return indent + body[: digits.end()] + "\\" + body[digits.end():]
    return indent + "\\" + body


def _math_line(text: str) -> str:
    """A line of a multi-line display formula: TeX stays as written, bar stray LaTeX delimiters."""
    text = re.sub(r"\$\$\s*\\[\[(]", "$$", text)
    return re.sub(r"\\[\])]\s*\$\$", "$$", text)


def _close_anchors(text: str, converter: _Converter, index: int) -> str:
    """Turn the ``<a href>`` placeholders into Markdown links; an unclosed one is dropped."""
    while "\x00" in text:
        start = text.index("\x00")
        end = text.find("\x01", start)
        if end < 0:
            text = text[:start] + text[start + 1:]
            continue
        stop = text.index("\x02", end)
        label, href = text[start + 1: end], text[end + 1: stop]
        link = converter.link(label, href, index) if href else label
        text = text[:start] + link + text[stop + 1:]
    return text.replace("\x01", "").replace("\x02", "")


def _segments(text: str) -> Iterator[tuple[str, str]]:
    """Split a line into code spans, math spans and the text between them."""
    position = 0
    plain = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char == "\\" and position + 1 < length:
            position += 2
            continue
        if char == "`":
            run = len(text[position:]) - len(text[position:].lstrip("`"))
            # a code span closes at the next run of exactly as many backticks
            close = next((m.start() for m in re.finditer(r"`+", text[position + run:]) if len(m.group()) == run), -1)
            if close >= 0:
                close += position + run
                yield "text", text[plain:position]
                yield "code", text[position: close + run]
                position = plain = close + run
                continue
            # No closer on this line: escape the backticks, or CommonMark could pair them with a
            # backtick on the next line and hide that line's formulas and links in a code span.
            yield "text", text[plain:position]
            yield "code", "\\`" * run
            position = plain = position + run
            continue
        if char == "$":
            delimiter = "$$" if text.startswith("$$", position) else "$"
            close = _closing_dollar(text, position + len(delimiter), delimiter)
            if close >= 0:
                yield "text", text[plain:position]
                yield "math", text[position: close + len(delimiter)]
                position = plain = close + len(delimiter)
                continue
        position += 1
    yield "text", text[plain:]


def _closing_dollar(text: str, start: int, delimiter: str) -> int:
    position = start
    while True:
        close = text.find(delimiter, position)
        if close < 0:
            return -1
        if text[close - 1] != "\\" and close > start:
            return close
        position = close + 1


def _escape_dollars(text: str) -> str:
    """A ``$`` left outside math is a literal dollar sign."""
    return re.sub(r"(?<!\\)\$", r"\\$", text)


def _escape_angles(text: str) -> str:
    """``<`` stays visible text (``<iostream>``, ``<X>``), except in autolinks like ``<https://…>``."""
    out = []
    position = 0
    for match in _AUTOLINK.finditer(text):
        out.append(text[position: match.start()].replace("<", "\\<"))
        out.append(match.group(0))
        position = match.end()
    out.append(text[position:].replace("<", "\\<"))
    return "".join(out)


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip("\"'") for m in _ATTR.finditer(text)}


def _attr_value(text: str) -> str:
    """Plain text for a quoted attribute: the parser reads the heading's Markdown before the {…}."""
    text = _LINK_OR_IMAGE.sub(lambda m: m.group(2) or m.group("loose_alt") or "", text)
    text = re.sub(r"[\[\]{}<>`*_$\\|]", "", text).replace('"', "”")
    return " ".join(text.split())


def _tag(topic: str) -> str:
    return "_".join(_attr_value(topic).split()) or "wethinkin"


def _close_fences(lines: list[str]) -> int:
    """Close every code fence that only ends with its container or the text; returns how many.

    Asks our own parser which lines open fences: indentation, lists and quotes decide that, and a
    line-by-line guess gets them wrong. The closer repeats the opener's quote markers and indentation.
    """
    closed = 0
    for _ in range(3):  # a closer can change what follows it; settle in a few passes
        open_fences = []
        for token in _block_tokens(lines):
            if token.type != "fence" or token.map is None:
                continue
            start, end = token.map
            last = end - 1
            while last > start and not lines[last].strip():
                last -= 1
            closing = lines[last].strip().lstrip("> ").strip()
            if last > start and closing.startswith(token.markup) and set(closing) == {token.markup[0]}:
                continue
            opener = lines[start].expandtabs(4)
            column = opener.find(token.markup)
            prefix = "".join(ch if ch == ">" else " " for ch in opener[: max(column, 0)])
            open_fences.append((last + 1, prefix + token.markup))
        if not open_fences:
            break
        for position, closer in reversed(open_fences):
            lines.insert(position, closer)
        closed += len(open_fences)
    return closed


def _tidy(lines: Sequence[str]) -> list[str]:
    """Split embedded newlines, collapse blank runs outside code, trim blank lines at both ends."""
    out: list[str] = []
    fence = ""
    for line in (piece for item in lines for piece in item.split("\n")):
        match = _FENCE.match(line)
        if fence:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = ""
        elif match:
            fence = match.group(1)
        elif not line.strip():
            line = ""
            if out and not out[-1]:
                continue
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out
