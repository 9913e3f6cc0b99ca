"""One line of the dialect's text as content-format Markdown: HTML, math delimiters, links, images.

A line is split into code spans, math spans and text; only text is converted. HTML tags become a list
of pieces (text, and the start and end of each ``<a href>``) that is joined once the line is read, so
links are objects until they are written as Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from .images import ImageCopier
from .names import anchor_key
from .summary import Sink
from .syntax import LINK_OR_IMAGE, TAG

_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^\s<>]*>", re.IGNORECASE)
_PAREN_MATH = re.compile(r"\\\((.+?)\\\)")
_BRACKET_MATH = re.compile(r"\\\[(.+?)\\\]")
# Alt texts that say nothing about the image: editors' placeholders, and file names or timestamps
# an editor filled in. Such an image gets an empty alt, which the outputs show without a caption.
_PLACEHOLDER_ALTS = {
    "", "alt", "alt text", "image", "img", "pic", "picture", "photo", "图", "图片", "图像", "截图", "插图",
    "输入图片描述", "请输入图片描述", "在这里插入图片描述", "这里插入图片描述", "图片描述", "图片自定义高度",
}
_FILE_LIKE_ALT = re.compile(
    r"(?:(?:image|img|pic|screenshot|截图|屏幕截图|微信图片)[-_ ]*)?[\d_ .-]{6,}|.*\.(?:png|jpe?g|gif|svg|webp|bmp)",
    re.IGNORECASE,
)
_SIZE_ATTRS = re.compile(r"""\s*\b(?:height|width)\s*=\s*(?:"[^"]*"|'[^']*'|\S*)""", re.IGNORECASE)

# HTML elements reduced to their text (the markup only styled or positioned it).
_TEXT_ONLY = {
    "font", "span", "small", "smaller", "big", "center", "p", "div", "u", "sup", "sub", "mark", "ins",
    "section", "article", "figure", "figcaption", "details", "summary", "h1", "h2", "h3", "h4", "h5",
    "h6", "kbd", "abbr", "cite", "q", "tt", "var", "samp", "nobr", "label",
}
_MARKDOWN_EQUIVALENT = {"b": "**", "strong": "**", "i": "*", "em": "*", "del": "~~", "s": "~~", "strike": "~~"}


@dataclass(frozen=True, slots=True)
class _LinkStart:
    """``<a href=…>``: the text up to the matching ``_LinkEnd`` is its label."""

    href: str


@dataclass(frozen=True, slots=True)
class _LinkEnd:
    """``</a>`` closing a ``_LinkStart``."""


_Piece = str | _LinkStart | _LinkEnd


@dataclass(frozen=True, slots=True, kw_only=True)
class Inline:
    """Converts the inline text of one source file; holds only what every line of the file shares."""

    src: Path  # the source root
    path: Path  # the source file
    rel: PurePosixPath  # the source file relative to ``src``
    anchors: Mapping[tuple[str, str], str]  # (file, anchor key) → question id, across all files
    images: ImageCopier
    sink: Sink

    def warn(self, kind: str, index: int, message: str) -> None:
        self.sink.warn(kind, self.rel, index, message)

    def convert(self, text: str, index: int, *, images: bool, one_line: bool) -> str:
        """One line of source text with its HTML, math delimiters, links and images converted.

        :param index: the 0-based source line, for warnings.
        :param images: False where an image can only be its alt text (headings).
        :param one_line: the result must stay on one line (a table row, a heading): ``<br>`` and
            ``<hr>`` become spaces.
        """
        # "$$\[ … \]$$": both kinds of delimiter around one formula
        text = math_line(text)
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
                segment = self._links(segment, index, images=images)
                segment = self._tags(segment, index, images=images, one_line=one_line)
                segment = _escape_dollars(segment)
            parts.append(segment)
        return "".join(parts)

    def _links(self, text: str, index: int, *, images: bool) -> str:
        """Markdown links and images, in one pass so that a rewritten target is never read again."""

        def replace(match: re.Match[str]) -> str:
            if match.group("loose") is not None:
                target = match.group("loose").strip()
                if " " not in target or urlsplit(target).scheme:
                    return match.group(0)
                return self._image(match.group("loose_alt"), target, index) if images else match.group("loose_alt")
            bang, label, target = match.group(1), match.group(2), match.group(3).strip("<>")
            if bang:
                return self._image(label, target, index) if images else label
            return self._link(label, target, index)

        return LINK_OR_IMAGE.sub(replace, text)

    def _image(self, alt: str, target: str, index: int) -> str:
        alt = caption(alt)
        if urlsplit(target).scheme in ("http", "https"):
            self.images.link_remote()
            return f"![{alt}]({target})"
        url = self.images.place(self.path, self.rel, target, index)
        if url is None:
            return f"（图：{alt}）" if alt else "（图）"
        return f"![{alt}]({url})"

    def _link(self, label: str, target: str, index: int) -> str:
        parts = urlsplit(target)
        if parts.scheme in ("http", "https", "mailto", "ftp"):
            return f"[{label}]({target})"
        file = self.rel.as_posix()
        if parts.path:
            resolved = (self.path.parent / unquote(parts.path)).resolve()
            try:
                file = resolved.relative_to(self.src).as_posix()
            except ValueError:
                file = ""
            if not parts.fragment or not file.endswith(".md"):
                self.warn("link-relative", index, f"link to {target!r} outside the imported questions; kept as text")
                return label
        question_id = self.anchors.get((file, anchor_key(parts.fragment)))
        if question_id is None:
            self.warn("link-broken", index, f"link target {target!r} matches no question; kept as text")
            return label
        return f"[{label}](#{question_id})"

    def _tags(self, text: str, index: int, *, images: bool, one_line: bool) -> str:
        """HTML tags: formatting tags become Markdown, styling tags vanish, anything else is text."""
        out: list[_Piece] = []
        position = 0
        pending_href: list[str | None] = []
        for match in TAG.finditer(text):
            out.append(_escape_angles(text[position: match.start()]))
            position = match.end()
            closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
            if name in _TEXT_ONLY:
                continue
            if name in _MARKDOWN_EQUIVALENT:
                out.append(_MARKDOWN_EQUIVALENT[name])
            elif name == "br":
                out.append(" " if one_line or not text[position:].strip() else "\\\n")
            elif name == "hr":
                out.append("\n\n---\n\n" if not one_line else " ")
            elif name == "img":
                values = _attrs(attrs)
                src = values.get("src", "")
                if src and images:
                    out.append(self._image(values.get("alt", ""), src, index))
                elif values.get("alt"):
                    out.append(values["alt"])
            elif name == "a":
                if not closing:
                    href = _attrs(attrs).get("href")
                    pending_href.append(href)
                    if href:
                        out.append(_LinkStart(href))
                elif pending_href and pending_href.pop():
                    out.append(_LinkEnd())
            else:
                out.append(_escape_angles(match.group(0)))  # <iostream>, <X>: text that looks like a tag
        out.append(_escape_angles(text[position:]))
        return _join_links(out, lambda label, href: self._link(label, href, index))


def _join_links(pieces: Sequence[_Piece], link: Callable[[str, str], str]) -> str:
    """The pieces as text, each ``<a href>`` … ``</a>`` written by ``link``; an unclosed one is its text."""
    out: list[str] = []
    opened: list[tuple[int, str]] = []  # (position in out, href)
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, _LinkStart):
            opened.append((len(out), piece.href))
        elif opened:
            start, href = opened.pop()
            label = "".join(out[start:])
            del out[start:]
            out.append(link(label, href))
    return "".join(out)


def caption(alt: str) -> str:
    """An image's alt text as a caption: "" when it is a placeholder or a file name."""
    text = " ".join(_SIZE_ATTRS.sub("", alt).replace("[", "").replace("]", "").split())
    text = text.strip("\"'“”‘’ ")
    if text.casefold() in _PLACEHOLDER_ALTS or _FILE_LIKE_ALT.fullmatch(text):
        return ""
    return text


def math_line(text: str) -> str:
    """A line of a multi-line display formula: TeX stays as written, bar stray LaTeX delimiters."""
    text = re.sub(r"\$\$\s*\\[\[(]", "$$", text)
    return re.sub(r"\\[\])]\s*\$\$", "$$", text)


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


def attr_value(text: str) -> str:
    """Plain text for a quoted attribute: the parser reads the heading's Markdown before the {…}."""
    text = LINK_OR_IMAGE.sub(lambda m: m.group(2) or m.group("loose_alt") or "", text)
    text = re.sub(r"[\[\]{}<>`*_$\\|]", "", text).replace('"', "”")
    return " ".join(text.split())
