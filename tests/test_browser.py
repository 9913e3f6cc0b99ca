"""The HTML folder as a reader gets it: opened from file:// in Debian's headless Chromium (see
tests/chromium.py), judged on the live DOM, computed styles and the fonts really drawn."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest

from pipeline.build import build
from pipeline.context import Options
from pipeline.serve import serve

from .chromium import Browser, no_cjk_fontconfig
from .test_html import Built, build_outputs, with_fonts, write_content

T = TypeVar("T")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("browser")
    return build_outputs(write_content(root), root / "out", root / "cache")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    # No CJK font on this "machine": whatever Chinese shows comes from the handbook's own fonts.
    opened = Browser(fontconfig=no_cjk_fontconfig(tmp_path_factory.mktemp("fontconfig")))
    yield opened
    opened.close()


RESULTS = "[...document.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'))"


def url(built: Built, page: str, query: str = "") -> str:
    return (built.folder / page).resolve().as_uri() + (f"?q={quote(query)}" if query else "")


def _rgb(color: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", color)[:3])


def _luminance(color: str) -> float:
    r, g, b = _rgb(color)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_chinese_drawn_in_the_handbooks_own_font_without_any_cjk_font_installed(
    built: Built, browser: Browser, tmp_path: Path
) -> None:
    browser.open(url(built, "chapter-basics.xhtml"))
    browser.evaluate("document.fonts.ready.then(() => true)")
    drawn = browser.platform_fonts("section.question .answer p")
    assert drawn, "no text drawn"
    # Every glyph of the answer's first paragraph came from the subset Noto Sans SC the page carries.
    assert {f["familyName"] for f in drawn} == {"Noto Sans SC"}
    assert all(f["isCustomFont"] for f in drawn)
    shot = browser.screenshot(tmp_path / "chapter.png")
    assert shot.stat().st_size > 5000


def test_search_finds_a_question_by_two_characters_from_the_middle_of_a_word_of_its_answer(
    built: Built, browser: Browser
) -> None:
    browser.open(url(built, "search.xhtml", "块里"))  # from "引用块里的话" in the answer of q-remote
    assert browser.evaluate(RESULTS) == ["chapter-more.xhtml#q-remote"]
    marked = browser.evaluate("[...document.querySelectorAll('#search-results mark')].map(m => m.textContent)")
    assert marked == ["块里"]
    assert float(browser.evaluate("document.documentElement.dataset.searchMs")) < 50


def test_search_is_case_insensitive_for_english_and_ranks_titles_first(built: Built, browser: Browser) -> None:
    browser.open(url(built, "search.xhtml", "CONST"))  # "const answer = 42" in a code block
    assert browser.evaluate(RESULTS) == ["chapter-more.xhtml#q-remote"]
    docs = '[["body", "甲", "乙", "注意力机制"], ["tag", "丙", "注意力", ""], ["title", "多头注意力", "", ""], ["no", "", "", ""]]'  # noqa: E501
    assert browser.evaluate(f"window.handbookSearch('意力', {docs})") == ["title", "tag", "body"]
    assert browser.evaluate("window.handbookSearch('力机')") == ["body"]  # the middle of a word
    assert browser.evaluate("window.handbookSearch('意')") == []  # two characters at least


def test_nothing_fetched_from_the_network(built: Built, browser: Browser) -> None:
    browser.events.clear()
    for page in ("index.xhtml", "chapter-more.xhtml", "search.xhtml"):
        browser.open(url(built, page, "x"))
    requested = browser.requested_urls()
    assert requested and all(u.startswith("file://") for u in requested), requested
    assert any(u.endswith("/fonts/NotoSansSC-400.woff2") for u in requested)


def test_dark_mode_colors(built: Built, browser: Browser) -> None:
    style = "(s, p) => getComputedStyle(document.querySelector(s))[p]"
    probe = f"""(() => {{ const c = {style}; return {{
        body: c('body', 'backgroundColor'), text: c('body', 'color'), code: c('pre.code', 'backgroundColor'),
        codeText: c('pre.code', 'color'), img: c('main img', 'backgroundColor'), math: c('math', 'color') }}; }})()"""
    try:
        browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
        browser.open(url(built, "chapter-more.xhtml"))
        dark = browser.evaluate(probe)
    finally:
        browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
    browser.open(url(built, "chapter-more.xhtml"))
    light = browser.evaluate(probe)
    assert _luminance(dark["body"]) < 0.15 < 0.8 < _luminance(dark["text"])
    assert _luminance(dark["code"]) < 0.2 and _luminance(dark["codeText"]) > 0.6
    assert _luminance(dark["math"]) > 0.8  # formulas follow the text color
    assert _rgb(dark["img"]) == (255, 255, 255)  # diagrams keep a white ground
    assert _luminance(light["body"]) > 0.95 and _luminance(light["text"]) < 0.2


def test_phone_width_nothing_sticks_out_and_the_pager_does_not_break_words(built: Built, browser: Browser) -> None:
    browser.open(url(built, "chapter-more.xhtml"))
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    # The long inline formula scrolls in its own box, unclipped: all of it is there to scroll to.
    box = browser.evaluate("(e => [e.clientWidth, e.scrollWidth])(document.querySelector('.math-scroll'))")
    assert box[0] <= 390 < box[1]
    spaces = "[...document.querySelectorAll('.pager-title')].map(e => getComputedStyle(e).whiteSpace)"
    assert browser.evaluate(spaces) == ["nowrap", "nowrap"]


def test_self_test_folds_answers_opens_on_click_and_is_remembered(built: Built, browser: Browser) -> None:
    shown = "getComputedStyle(document.querySelector('#q-what-is-x .answer')).display"
    browser.open(url(built, "chapter-basics.xhtml"))
    if browser.evaluate("document.documentElement.classList.contains('self-test')"):
        browser.evaluate("document.querySelector('.self-test-toggle').click()")
    assert browser.evaluate(shown) == "block"
    browser.evaluate("document.querySelector('.self-test-toggle').click()")
    assert browser.evaluate(shown) == "none"
    browser.evaluate("document.querySelector('#q-what-is-x h2').click()")
    assert browser.evaluate(shown) == "block"
    browser.open(url(built, "chapter-basics.xhtml"))
    assert browser.evaluate(shown) == "none"  # remembered in localStorage
    browser.evaluate("document.querySelector('.self-test-toggle').click()")
    assert browser.evaluate(shown) == "block"


def test_slash_focuses_the_search_box_and_questions_have_permalinks(built: Built, browser: Browser) -> None:
    browser.open(url(built, "chapter-basics.xhtml"))
    browser.send("Input.dispatchKeyEvent", type="keyDown", key="/", text="/")
    assert browser.evaluate("document.activeElement.className") == "search-input"
    assert browser.evaluate("document.querySelector('#q-second a.permalink').getAttribute('href')") == "#q-second"


def test_serve_rebuilds_and_reloads_the_open_page_and_survives_errors(tmp_path: Path, browser: Browser) -> None:
    content = write_content(tmp_path)
    options = Options(out_dir=tmp_path / "out", cache_dir=with_fonts(tmp_path / "cache"))
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve,
        kwargs={"site": tmp_path / "out" / "html", "watched": [content], "port": 0, "report": lines.append,
                "stop": stop, "build": lambda: build(content, ("html",), options)},
        daemon=True,
    )
    thread.start()
    try:
        address = _wait(lambda: next((m.group(0) for line in lines if (m := re.search(r"http://\S+/", line))), None))
        browser.open(address + "chapter-basics.xhtml")
        title = "document.querySelector('h1.chapter-title')?.textContent"
        assert browser.evaluate(title) == "基础"
        chapter = content / "01-basics.md"
        chapter.write_text(chapter.read_text(encoding="utf-8").replace("title: 基础", "title: 基础改过"), "utf-8")
        started = time.monotonic()
        _wait(lambda: browser.evaluate(title) == "基础改过" or None)
        assert time.monotonic() - started < 15  # about 3 s on a loaded 2-core machine: new glyphs, formulas cached
        # An error in the content: shown on the page, and the last good copy stays served.
        chapter.write_text(chapter.read_text(encoding="utf-8") + "\n![坏图](images/nope.png)\n", "utf-8")
        shown = _wait(lambda: browser.evaluate("document.getElementById('handbook-serve-error')?.textContent"))
        assert "nope.png" in shown and "01-basics.md" in shown
        assert browser.evaluate(title) == "基础改过"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert any("build failed" in line and "nope.png" in line for line in lines)


def _wait(probe: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except RuntimeError:  # the page is reloading: its context is gone for a moment
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_print_shows_every_answer_and_no_controls(built: Built, browser: Browser) -> None:
    browser.open(url(built, "chapter-basics.xhtml"))
    if not browser.evaluate("document.documentElement.classList.contains('self-test')"):
        browser.evaluate("document.querySelector('.self-test-toggle').click()")
    try:
        browser.send("Emulation.setEmulatedMedia", media="print")
        shown = browser.evaluate(
            "[getComputedStyle(document.querySelector('.site-header')).display,"
            " getComputedStyle(document.querySelector('#q-what-is-x .answer')).display]"
        )
    finally:
        browser.send("Emulation.setEmulatedMedia", media="")
        browser.evaluate("document.querySelector('.self-test-toggle').click()")
    assert shown == ["none", "block"]
