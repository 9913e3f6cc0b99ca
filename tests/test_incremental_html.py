"""The HTML folder and the EPUB after an edit: only the pages that show what changed are templated again,
and the bytes are those of a build without the cache (html/ file by file, the EPUB whole)."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from pipeline import html, sitecache, webfonts
from pipeline.build import Options, build
from pipeline.epub import OUTPUT_NAME

from .test_html import PROJECT, SOURCE_DATE_EPOCH, with_fonts, write_content

Edit = Callable[[Path], None]


def digests(out: Path) -> dict[str, str]:
    files = [*sorted((out / html.OUTPUT_DIR).rglob("*")), out / OUTPUT_NAME]
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def run(content: Path, out: Path, cache: Path | None) -> tuple[dict[str, str], list[str]]:
    """Build html and epub; the files' sha256 and the progress lines."""
    progress: list[str] = []
    options = Options(out_dir=out, cache_dir=cache, source_date_epoch=SOURCE_DATE_EPOCH)
    build(content, ["html", "epub"], options, progress=progress.append)
    return digests(out), progress


def templated(progress: list[str]) -> int:
    found = [m for line in progress if (m := re.fullmatch(r"html: (\d+) of \d+ pages templated.*", line))]
    assert len(found) == 1, progress
    return int(found[0].group(1))


FOURTH_CHAPTER = """\
---
id: extra
title: 附加
---

## 附加题 {#extra-question}

附加的回答。
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test content, with a fourth chapter and a link from the first to the third, built once with a
    cache into ``out`` beside them: (content, cache), copied by each test."""
    root = tmp_path_factory.mktemp("incremental")
    content = write_content(root)
    (content / "04-extra.md").write_text(FOURTH_CHAPTER, encoding="utf-8")
    with (content / "01-basics.md").open("a", encoding="utf-8") as first:
        first.write("\n也见[纯文本那题](03-plain.md#plain-question)。\n")
    cache = with_fonts(root / "cache")
    run(content, root / "out", cache)
    return content, cache


def edited(warm: tuple[Path, Path], tmp_path: Path, edit: Edit) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Edit a copy of the warm content; build it with a copy of the warm cache over a copy of its outputs,
    and without any cache."""
    content = tmp_path / "content"
    shutil.copytree(warm[0], content)
    cache = tmp_path / "cache"
    shutil.copytree(warm[1], cache, symlinks=True)
    shutil.copytree(warm[0].parent / "out", tmp_path / "out")
    edit(content)
    after, progress = run(content, tmp_path / "out", cache)
    cold, _ = run(content, tmp_path / "cold", None)
    return after, progress, cold


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_an_edit_to_one_answer_templates_one_page_with_the_bytes_of_a_build_without_cache(
    warm: tuple[Path, Path], tmp_path: Path
) -> None:
    def edit(content: Path) -> None:
        replace(content / "02-more.md", "1. 第一", "1. 第一第二")
        site = tmp_path / "out" / html.OUTPUT_DIR
        (site / html.STYLESHEET).write_text("/* someone's */", encoding="utf-8")  # in place
        kept.update({name: (site / name).stat().st_ino for name in ("assets/images/pixel.png", "chapter-more.xhtml")})
        (site / "cover.png").unlink()
        (site / "cover.png").symlink_to(site / "assets/images/pixel.png")

    kept: dict[str, int] = {}
    after, progress, cold = edited(warm, tmp_path, edit)
    assert after == cold
    assert templated(progress) == 1
    site = tmp_path / "out" / html.OUTPUT_DIR
    # An unchanged file is the same file (linked into the new folder, not written again); the rest is new.
    assert (site / "assets/images/pixel.png").stat().st_ino == kept["assets/images/pixel.png"]
    assert (site / "chapter-more.xhtml").stat().st_ino != kept["chapter-more.xhtml"]
    assert not (site / "cover.png").is_symlink()


def test_a_chapter_title_reaches_the_contents_the_tag_page_and_its_neighbours_pagers(
    warm: tuple[Path, Path], tmp_path: Path
) -> None:
    def retitle(content: Path) -> None:
        replace(content / "02-more.md", "title: 更多内容", "title: 另外的内容")

    after, progress, cold = edited(warm, tmp_path, retitle)
    assert after == cold
    # chapters 1 and 3 (the pager), 2 and the contents; the tag page lists questions, not chapters
    assert templated(progress) == 4


def test_a_question_moving_to_another_page_changes_the_pages_that_link_to_it(
    warm: tuple[Path, Path], tmp_path: Path
) -> None:
    # The first chapter links to a question of the third, whose page's name changes; the first's text
    # does not, nor its pager (the third is not its neighbour).
    after, progress, cold = edited(warm, tmp_path, lambda c: replace(c / "03-plain.md", "id: plain", "id: plainer"))
    assert after == cold
    assert "html/chapter-plainer.xhtml" in after
    assert templated(progress) == 5  # chapters 1 (the link), 2 and 4 (their pagers), 3 and the contents


def test_an_image_that_becomes_a_jpeg_changes_the_page_that_shows_it(warm: tuple[Path, Path], tmp_path: Path) -> None:
    def to_jpeg(content: Path) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (2, 2), "red").save(buffer, format="JPEG")
        (content / "images" / "pixel.png").write_bytes(buffer.getvalue())  # the site names it by its content

    after, progress, cold = edited(warm, tmp_path, to_jpeg)
    assert after == cold
    assert "html/assets/images/pixel.jpg" in after
    assert templated(progress) == 1


def test_damaged_page_entries_are_misses(warm: tuple[Path, Path], tmp_path: Path) -> None:
    def damage(content: Path) -> None:
        for entry in (tmp_path / "cache" / sitecache.PAGES).rglob("*"):
            if entry.is_file():
                entry.write_bytes(entry.read_bytes()[:-1])
        replace(content / "02-more.md", "1. 第一", "1. 第一第二")

    after, progress, cold = edited(warm, tmp_path, damage)
    assert after == cold
    assert templated(progress) == templated(run(warm[0], tmp_path / "again", None)[1])


def test_font_subsets_are_cut_again_only_for_new_characters(
    warm: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cuts: list[str] = []
    real = webfonts.subset

    def counting(path: Path, text: str, *, math: bool = False) -> bytes:
        cuts.append(path.name)
        return real(path, text, math=math)

    monkeypatch.setattr(webfonts, "subset", counting)
    after, _, cold = edited(warm, tmp_path, lambda c: replace(c / "02-more.md", "1. 第一", "1. 第二第一"))
    assert after == cold
    assert len(cuts) == len([f for f in after if f.startswith("html/fonts/")])  # the build without cache only
    cuts.clear()
    replace(tmp_path / "content" / "02-more.md", "1. 第二第一", "1. 第二第一，鬱")  # a character no page had
    run(tmp_path / "content", tmp_path / "out", tmp_path / "cache")
    assert len(cuts) == 1  # the regular text face


def test_templates_see_only_the_handbook_metadata() -> None:
    """A page's key holds ``handbook.meta``, not the whole handbook: a template that used more would show
    what the key does not cover."""
    templates = PROJECT / "templates"
    for path in [*(templates / "html").glob("*.j2"), *(templates / "partials").glob("*.j2")]:
        uses = re.findall(r"\bhandbook\.(\w+)", path.read_text(encoding="utf-8"))
        assert set(uses) <= {"meta", "js", "css"}, path  # handbook.js and handbook.css are file names
