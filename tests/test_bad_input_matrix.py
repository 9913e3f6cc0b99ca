"""Bad input and faults of the environment, one table (issue 13).

Every case starts from a good content folder and an output folder holding a good build's outputs, breaks
one thing, runs commands, and asserts: the exit code, a located ``path:line:`` message (or one clear line
for the environment), no traceback, and that the previous outputs are byte-identical afterwards (no
temporary left either). Cases use ``check`` and ``build html epub anki`` on tiny folders: a few seconds for
the whole table.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

from .conftest import HANDBOOK_TOML

EPOCH = "1700000000"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'
CHAPTER = """\
---
id: alpha
title: 第一章
---

导言。

## 第一个问题 {#q-one tags="t1 t2"}

答案，见[第二题](#q-two)。

![点](images/ok.png)

## 第二个问题 {#q-two tags="t2"}

![图](images/ok.svg)
"""
IMAGE_LINE = 12  # the line of ![点](images/ok.png) above
SECOND = """\
---
id: beta
title: 第二章
---

## 第三个问题 {#q-three}

答案。
"""

CHECK = ("check",)
HTML = ("build", "html", "--no-cache")
ALL = ("build", "html", "epub", "anki", "--no-cache")


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    setup: Callable[[Path, Path], None]  # (content, out)
    commands: tuple[tuple[str, ...], ...] = (CHECK, HTML)
    exit_code: int = 1
    expect: tuple[str, ...] = ()  # each in every command's output
    env: dict[str, str] = field(default_factory=dict)
    patch: Callable[[pytest.MonkeyPatch, Path], None] | None = None

    def __str__(self) -> str:
        return self.name


def _write(relative: str, data: str | bytes) -> Callable[[Path, Path], None]:
    def setup(content: Path, out: Path) -> None:
        path = content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")

    return setup


def _image(reference: str) -> Callable[[Path, Path], None]:
    """The first question's image points at ``reference``."""
    return _write("01-alpha.md", CHAPTER.replace("images/ok.png", reference))


def _svg(svg: str) -> Callable[[Path, Path], None]:
    def setup(content: Path, out: Path) -> None:
        _write("images/evil.svg", svg)(content, out)
        _image("images/evil.svg")(content, out)

    return setup


def _answer(text: str) -> Callable[[Path, Path], None]:
    return _write("01-alpha.md", CHAPTER.replace("答案，见", text + "\n\n答案，见"))


def _toml(old: str, new: str) -> Callable[[Path, Path], None]:
    return _write("handbook.toml", HANDBOOK_TOML.replace(old, new))


def _both(*setups: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def setup(content: Path, out: Path) -> None:
        for step in setups:
            step(content, out)

    return setup


def _symlink(relative: str, target: Callable[[Path], Path | str]) -> Callable[[Path, Path], None]:
    def setup(content: Path, out: Path) -> None:
        path = content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(target(content))

    return setup


def _outside(content: Path) -> Path:
    secret = content.parent / "outside" / "secret.png"
    secret.parent.mkdir(exist_ok=True)
    secret.write_bytes(PNG + b"SECRET")
    return secret


def _make_outside(content: Path, out: Path) -> None:
    _outside(content)


def _nothing(content: Path, out: Path) -> None:
    pass


def _replace_with_folder(name: str) -> Callable[[Path, Path], None]:
    def setup(content: Path, out: Path) -> None:
        path = out / name
        path.unlink(missing_ok=True)
        path.mkdir()
        (path / "kept.txt").write_text("mine", encoding="utf-8")

    return setup


def _user_file_named_html(content: Path, out: Path) -> None:
    shutil.rmtree(out / "html")
    (out / "html").write_text("my notes", encoding="utf-8")


def _disk_full(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    real = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if out in self.parents:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _read_only(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    # Tests may run as root, who writes anywhere: the build's own question is what is answered here.
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if Path(path) == out and mode & os.W_OK else real(path, mode)
    )


def _busy(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    handle = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(handle, fcntl.LOCK_EX)  # another build (another open file description) holds the folder
    real = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if fd != handle and operation & fcntl.LOCK_NB:
            raise BlockingIOError(errno.EWOULDBLOCK, "busy")
        real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    monkeypatch.setattr(os, "close", _closing(handle))


def _closing(extra: int) -> Callable[[int], None]:
    real = os.close

    def close(fd: int) -> None:
        real(fd)
        if fd != extra:
            with contextlib.suppress(OSError):
                real(extra)

    return close


def _cache_entry_folder(content: Path, out: Path) -> None:
    """Every entry of a filled cache replaced by a folder of the same name."""
    cache = content.parent / "cache"
    result = CliRunner().invoke(main, [*ALL[:-1], "-q", "--content", str(content), "--out", str(content.parent / "o"),
                                       "--cache", str(cache)], env={"SOURCE_DATE_EPOCH": EPOCH})
    assert result.exit_code == 0, result.output
    for path in [p for p in cache.rglob("*") if p.is_file() and "fonts" not in p.parts]:
        path.unlink()
        path.mkdir()


L = IMAGE_LINE
CASES = [
    # -- item 1: the resource policy
    Case(name="svg-file-uri", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg" '
         'xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="file:///etc/passwd"/></svg>'),
         expect=(f"01-alpha.md:{L}: error: image 'images/evil.svg' refused", "file:///etc/passwd")),
    Case(name="svg-relative-outside", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg">'
         '<image href="../../outside/secret.png"/></svg>'), expect=(f"01-alpha.md:{L}: error:", "../../outside")),
    Case(name="svg-use-outside", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg"><use href="/etc/x.svg#a"/></svg>'),
         expect=(f"01-alpha.md:{L}: error:", "/etc/x.svg#a")),
    Case(name="svg-css-import", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg"><style>@import "x.css";</style>'
         '</svg>'), expect=(f"01-alpha.md:{L}: error:", "@import")),
    Case(name="svg-css-url", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(/etc/p)"/>'
         '</svg>'), expect=(f"01-alpha.md:{L}: error:", "/etc/p")),
    Case(name="svg-external-entity", setup=_svg('<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'),
         expect=(f"01-alpha.md:{L}: error:", "entity")),
    Case(name="svg-entity-expansion", setup=_svg('<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
         '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'), expect=(f"01-alpha.md:{L}: error:",)),
    Case(name="svg-script", setup=_svg('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
         expect=(f"01-alpha.md:{L}: error:", "script")),
    Case(name="svg-not-xml", setup=_svg("<svg"), expect=(f"01-alpha.md:{L}: error:", "not well-formed")),
    Case(name="image-symlink-outside", setup=_symlink("images/ok.png", _outside),
         expect=(f"01-alpha.md:{L}: error: image path escapes the content folder",)),
    Case(name="image-dotdot", setup=_both(_make_outside, _image("../outside/secret.png")),
         expect=(f"01-alpha.md:{L}: error: image path escapes the content folder",)),
    Case(name="image-file-url", setup=_image("file:///etc/passwd"),
         expect=(f"01-alpha.md:{L}: error: unsupported image location 'file:///etc/passwd'",)),
    Case(name="image-javascript-url", setup=_image("javascript:alert(1)"),
         expect=(f"01-alpha.md:{L}: error: unsupported image location",)),
    Case(name="image-data-url", setup=_image("data:image/png;base64,AAAA"),
         expect=(f"01-alpha.md:{L}: error: unsupported image location",)),
    Case(name="image-absolute", setup=_image("/etc/passwd"), expect=(f"01-alpha.md:{L}: error: unsupported image",)),
    Case(name="image-symlink-loop", setup=_symlink("images/ok.png", lambda c: c / "images" / "ok.png"),
         expect=(f"01-alpha.md:{L}: error: image path is a symlink loop",)),
    Case(name="image-missing", setup=_image("images/nope.png"),
         expect=(f"01-alpha.md:{L}: error: image file not found",)),
    Case(name="image-is-folder", setup=_both(lambda c, o: (c / "images" / "dir.png").mkdir(), _image("images/dir.png")),
         expect=(f"01-alpha.md:{L}: error: image file not found",)),
    # -- item 8: images that do not decode
    Case(name="image-truncated", setup=_write("images/ok.png", PNG[:40]),
         expect=(f"01-alpha.md:{L}: error: image 'images/ok.png' refused: the image does not decode",)),
    Case(name="image-not-an-image", setup=_write("images/ok.png", b"hello"),
         expect=(f"01-alpha.md:{L}: error:", "does not decode")),
    # -- item 7: chapter files that are not files
    Case(name="chapter-dangling-symlink", setup=_symlink("03-gone.md", lambda c: c / "nothing.md"),
         expect=("03-gone.md: error: not a chapter file: a symlink to nothing",)),
    Case(name="chapter-folder", setup=lambda c, o: (c / "03-dir.md").mkdir(),
         expect=("03-dir.md: error: not a chapter file: a folder",)),
    Case(name="chapter-symlink-loop", setup=_symlink("03-loop.md", lambda c: c / "03-loop.md"),
         expect=("03-loop.md: error: not a chapter file: a symlink loop",)),
    Case(name="chapter-symlink-outside", setup=_symlink("03-out.md", lambda c: _write("../elsewhere.md", SECOND)(c, c)
         or c.parent / "elsewhere.md"), expect=("03-out.md: error: not a chapter file: a symlink to a file outside",)),
    Case(name="duplicate-id-in-heading", setup=_write("01-alpha.md", CHAPTER.replace("{#q-two", "{#q-two #q-2")),
         expect=("01-alpha.md:14: error: question attribute 'id' given more than once",)),
    Case(name="link-to-wrong-file", setup=_answer("[x](nope.md#q-three)"),
         commands=(("check", "--strict"),), expect=("01-alpha.md:10: warning: link 'nope.md#q-three'",)),
    # -- handbook.toml
    Case(name="toml-is-folder", setup=_replace_with_folder("../content/handbook.toml"),
         expect=("handbook.toml: error: cannot read handbook.toml",)),
    Case(name="toml-missing", setup=lambda c, o: (c / "handbook.toml").unlink(),
         expect=("handbook.toml: error: missing handbook.toml",)),
    Case(name="toml-invalid", setup=_write("handbook.toml", "id = \n"),
         expect=("handbook.toml:1: error: invalid TOML",)),
    Case(name="margins-auto", setup=_toml("[anki]", '[pdf]\nmargins = "2cm auto"\n\n[anki]'),
         expect=("handbook.toml: error: 'pdf.margins' must be one to four lengths",)),
    Case(name="page-size-unknown", setup=_toml("[anki]", '[pdf]\npage_size = "Z9"\n\n[anki]'),
         expect=("handbook.toml: error: 'pdf.page_size' must be one of",)),
    Case(name="toml-nul-in-title", setup=_toml('title = "测试手册"', 'title = "测试\\u0000手册"'),
         commands=(("check", "--strict"), (*HTML, "--strict")),
         expect=("handbook.toml: warning: control character U+0000 removed from 'title'",)),
    # -- text
    Case(name="control-characters", setup=_answer("文本\x01\x0b\x1b\x0c"), commands=(("check", "--strict"),),
         expect=("01-alpha.md:10: warning: control character U+0001, U+000B, U+001B, U+000C removed",)),
    Case(name="deep-emphasis", setup=_answer("*a " * 300 + "x" + " a*" * 300),
         expect=("01-alpha.md:10: error: Markdown nested",)),
    Case(name="footnote-in-quote-in-footnote", setup=_answer("[^1]: >[^1]: "),
         expect=("01-alpha.md:8: error: Markdown the parser cannot follow",)),  # the last line markdown-it names
    Case(name="deep-links", setup=_answer("[" * 2000 + "x" + "](#q-one)" * 2000), exit_code=0, commands=(CHECK,)),
    Case(name="not-utf8", setup=_write("01-alpha.md", CHAPTER.encode("utf-8") + b"\xff\xfe"),
         expect=("01-alpha.md:17: error: file is not valid UTF-8",)),
    Case(name="missing-front-matter", setup=_write("01-alpha.md", "## 问题 {#q-one}\n\n答案\n"),
         expect=("01-alpha.md:1: error: missing front matter",)),
    Case(name="invalid-yaml", setup=_write("01-alpha.md", CHAPTER.replace("id: alpha", "id: [alpha")),
         expect=("01-alpha.md:", "error: invalid YAML in front matter")),
    Case(name="unclosed-fence", setup=_write("01-alpha.md", CHAPTER + "\n```python\nprint(1)\n"),
         expect=("01-alpha.md:18: error: unclosed code fence",)),
    Case(name="duplicate-question-id", setup=_write("02-beta.md", SECOND.replace("q-three", "q-one")),
         expect=("02-beta.md:6: error: duplicate question id 'q-one'",)),
    Case(name="unterminated-display-math", setup=_answer("$$ x"), expect=("01-alpha.md:10: error: unterminated $$",)),
    Case(name="invalid-tex", setup=_answer(r"公式 $\frac{a$ 坏"), commands=(("check", "--strict"),),
         expect=(r"01-alpha.md:10: warning: invalid formula '\\frac{a'",)),
    Case(name="strict-warnings-only", setup=_write("01-alpha.md", CHAPTER.replace(" {#q-two tags=\"t2\"}", "")),
         commands=((*HTML, "--strict"),), expect=("warning(s) in the content, treated as errors (--strict)",)),
    # -- options
    Case(name="content-symlink-loop", setup=_nothing, commands=(("check", "--content", "{loop}"),),
         expect=("content folder not found",)),
    Case(name="content-missing", setup=_nothing, commands=(("check", "--content", "{missing}"),),
         expect=("content folder not found",)),
    Case(name="chapter-option-unknown", setup=_answer("改动"), commands=((*ALL, "--chapter", "nope"),),
         expect=("unknown chapter id 'nope'",)),
    Case(name="tag-option-unknown", setup=_answer("改动"), commands=((*ALL, "--tag", "nope"),),
         expect=("no question has the tag 'nope'",)),
    # -- the environment: exit 2, one line
    Case(name="out-below-a-file", setup=_nothing, commands=(("build", "html", "--no-cache", "--out", "{file}/sub"),),
         exit_code=2, expect=("cannot write to the output folder",)),
    Case(name="apkg-is-a-folder", setup=_both(_answer("改动"), _replace_with_folder("handbook.apkg")),
         commands=(ALL,), exit_code=2,
         expect=("handbook.apkg is a folder, where the build writes a file",)),
    Case(name="epub-is-a-folder", setup=_both(_answer("改动"), _replace_with_folder("handbook.epub")),
         commands=(ALL,), exit_code=2,
         expect=("handbook.epub is a folder",)),
    Case(name="html-is-a-users-file", setup=_user_file_named_html, commands=(HTML,), exit_code=2,
         expect=("html is not a folder the build made; move it away",)),
    Case(name="source-date-epoch-huge", setup=_nothing, commands=(HTML,), exit_code=2,
         env={"SOURCE_DATE_EPOCH": "99999999999999"}, expect=("SOURCE_DATE_EPOCH must be a whole number",)),
    Case(name="source-date-epoch-text", setup=_nothing, commands=(HTML,), exit_code=2,
         env={"SOURCE_DATE_EPOCH": "yesterday"}, expect=("SOURCE_DATE_EPOCH must be a whole number",)),
    Case(name="disk-full", setup=_answer("改动"), commands=(ALL,), exit_code=2, patch=_disk_full,
         expect=("No space left on device",)),
    Case(name="read-only-out", setup=_answer("改动"), commands=(ALL,), exit_code=2, patch=_read_only,
         expect=("cannot write to the output folder", "read-only")),
    Case(name="out-busy", setup=_answer("改动"), commands=(HTML,), exit_code=2, patch=_busy,
         expect=("another build is writing to",)),
    Case(name="cache-below-a-file", setup=_answer(r"公式 $x^2$"), exit_code=2,
         commands=(("check", "--cache", "{file}/cache"), ("build", "html", "--cache", "{file}/cache")),
         expect=("cannot write the math cache", "Not a directory")),
    Case(name="javascript-link", setup=_answer("[点我](javascript:alert(1))"), commands=(("check", "--strict"),),
         expect=("01-alpha.md:10: warning: link location 'javascript:alert(1)' not allowed",)),
    Case(name="cache-entries-are-folders", setup=_cache_entry_folder, exit_code=0,
         commands=(("build", "html", "epub", "anki", "--cache", "{cache}"),)),
]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A good content folder and the outputs of a good build of it."""
    root = tmp_path_factory.mktemp("baseline")
    content = root / "content"
    files: dict[str, str | bytes] = {"handbook.toml": HANDBOOK_TOML, "01-alpha.md": CHAPTER, "02-beta.md": SECOND,
                                     "images/ok.png": PNG, "images/ok.svg": SVG}
    for relative, data in files.items():
        _write(relative, data)(content, root)
    out = root / "out"
    result = CliRunner().invoke(main, [*ALL, "-q", "--content", str(content), "--out", str(out)],
                                env={"SOURCE_DATE_EPOCH": EPOCH})
    assert result.exit_code == 0, result.output
    yield content, out


def _snapshot(out: Path) -> dict[str, bytes | None]:
    return {
        path.relative_to(out).as_posix(): (path.read_bytes() if path.is_file() else None)
        for path in sorted(out.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Case, baseline: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content, out = tmp_path / "content", tmp_path / "out"
    shutil.copytree(baseline[0], content, symlinks=True)
    shutil.copytree(baseline[1], out, symlinks=True)
    case.setup(content, out)
    before = _snapshot(out)
    (tmp_path / "file").write_text("a file", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    names = {"{loop}": str(tmp_path / "loop"), "{missing}": str(tmp_path / "missing"),
             "{file}": str(tmp_path / "file"), "{cache}": str(tmp_path / "cache")}
    if case.patch is not None:
        case.patch(monkeypatch, out)
    for command in case.commands:
        args = [names.get(a, a.replace("{file}", names["{file}"])) for a in command]
        if "--content" not in args:
            args += ["--content", str(content)]
        if args[0] == "build":
            args += ["-q"] + (["--out", str(out)] if "--out" not in args else [])
        result = CliRunner().invoke(main, args, env={"SOURCE_DATE_EPOCH": EPOCH, **case.env})
        shown = result.output
        assert result.exit_code == case.exit_code, (args, shown, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in shown
        for expected in case.expect:
            assert expected in shown, (args, expected, shown)
        if case.exit_code:
            non_diagnostic = [line for line in shown.splitlines() if line.startswith("Error:")]
            assert len(non_diagnostic) <= 1, shown
    monkeypatch.undo()
    assert _snapshot(out) == before, "the previous outputs changed"


def test_the_table_has_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
