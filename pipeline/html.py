"""EPUB-ready XHTML: one page per chapter, a title page and a contents page, the shared partials."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup, escape

from .build import Context
from .model import Asset, Handbook, Math, MathBlock, RemoteImage
from .render import Hooks, environment, question_anchor

OUTPUT_DIR = "html"


def chapter_file(chapter_number: int) -> str:
    return f"chapter-{chapter_number:02d}.xhtml"


def _placeholder_math(node: Math | MathBlock) -> Markup:
    return Markup('<code class="tex">{}</code>').format(escape(node.tex))


def render(handbook: Handbook, ctx: Context) -> Sequence[Path]:
    pages = {q.id: chapter_file(c.number) for c in handbook.chapters for q in c.questions}

    def image_src(target: Asset | RemoteImage) -> str | None:
        return None if isinstance(target, RemoteImage) else f"assets/{target.path.as_posix()}"

    hooks = Hooks(
        math=_placeholder_math,
        image_src=image_src,
        question_href=lambda qid: f"{pages[qid]}#{question_anchor(qid)}",
    )
    env = environment(hooks)

    def fill(folder: Path) -> None:
        page = env.get_template("html/chapter.xhtml.j2")
        for chapter in handbook.chapters:
            ctx.progress(f"html: {chapter.title}")
            (folder / chapter_file(chapter.number)).write_text(
                page.render(handbook=handbook, chapter=chapter, chapter_file=chapter_file), encoding="utf-8"
            )
        index = env.get_template("html/index.xhtml.j2")
        (folder / "index.xhtml").write_text(
            index.render(handbook=handbook, chapter_file=chapter_file), encoding="utf-8"
        )
        for asset in handbook.assets:
            target = folder / "assets" / asset.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(handbook.root / asset.path, target)

    return [ctx.writer.replace_dir(ctx.options.out_dir / OUTPUT_DIR, fill)]
