"""One PDF edition from its parts: chapters laid out first, then the page numbers they give to the
front matter, the tag index and the stamps (running heads, folios), then the assembly.

Page numbers a part prints (contents, index, cross-references, the practice edition's answer pages) are
known only once the chapters' lengths are; a chapter whose printed numbers moved is laid out again."""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import file_key, key
from ..context import Context
from ..labels import labels
from ..model import Asset, Chapter, Handbook, Image, Link, walk
from ..render import chapter_anchor, question_anchor
from ..workers import release_memory
from .assembly import assemble
from .engine import Engine, Job, Part, fingerprint
from .frame import OUTPUT_NAME
from .plan import REF_PREFIX, Plan, edition_anchors, make_plan

PART_TEMPLATE = "pdf/part.html.j2"
STAMP_TEMPLATE = "pdf/stamps.html.j2"
# Rounds of laying out chapters again when the page numbers their cross-references print moved.
_MAX_ROUNDS = 4
_STAMP_PAGES = 64  # pages of stamps a job at most


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """What is drawn in one page's margins."""

    folio: str = ""
    left: str = ""
    right: str = ""


class Edition:
    """One PDF edition assembled from its parts."""

    def __init__(
        self,
        *,
        name: str,
        title: str,
        handbook: Handbook,
        env: Any,
        frame: dict[str, Any],
        engine: Engine,
        ctx: Context,
        records: list[logging.LogRecord],
        destination: Path,
        run_on: bool = False,
    ) -> None:
        """``run_on``: lay all chapters out as one part, each following the last without a page break
        (the practice edition); otherwise every chapter is a part opening on a new page."""
        self.name = name
        chapters = handbook.chapters
        self.groups: tuple[tuple[Chapter, ...], ...] = (chapters,) if run_on else tuple((c,) for c in chapters)
        self.destination = destination
        self.title = title
        self.handbook = handbook
        self.env = env
        self.frame = frame
        self.engine = engine
        self.ctx = ctx
        self.records = records

    def build(
        self,
        *,
        with_index: bool,
        right_hand: bool,
        extra: dict[str, Any],
        front_pages: int | None = None,
        on_numbers: Callable[[dict[str, int]], None] = lambda numbers: None,
        on_final: Callable[[dict[str, int]], None] = lambda numbers: None,
    ) -> tuple[dict[str, int], int]:
        """Write the edition's PDF to its destination; returns the page number of every question and the
        front matter's page count.

        ``front_pages`` is a guess of the front matter's length (checked, and corrected if wrong); without
        it, the length the last build found is the guess, and without that the front matter is first laid
        out with unknown page numbers beside the chapters to learn it.
        ``on_numbers`` hears the page numbers as soon as they are known, once the front matter, the tag
        index and the stamps are started: the practice edition's chapters, which print them, follow.
        ``on_final`` hears them once they are settled, before the stamps and the assembly are done.
        """
        handbook = self.handbook
        engine = self.engine
        refs_of = [tuple(dict.fromkeys(a for c in group for a in chapter_refs(c))) for group in self.groups]
        numbers: dict[str, int] = {}  # anchor → page number; 0 (unknown) before the first layout
        self.ctx.progress(f"pdf: laying out the {self.name}'s chapters")
        if front_pages is None:
            front_pages = self._remembered_front_pages()
        placeholder = self._front(numbers, extra, with_index=with_index) if front_pages is None else None
        for round_number in range(_MAX_ROUNDS):
            jobs = [
                self._chapter_job(group, refs, numbers, extra) for group, refs in zip(self.groups, refs_of, strict=True)
            ]
            chapter_parts = engine.run(jobs)
            counts = [part.pages for part in chapter_parts]
            fresh = sum(engine.was_laid_out(job) for job in jobs)
            self.ctx.progress(f"pdf: {self.name}: {fresh} of {len(jobs)} chapters laid out, the rest from the cache")
            if placeholder is not None:
                front_pages = placeholder.result().pages
                placeholder = None
            assert front_pages is not None
            for _ in range(_MAX_ROUNDS):
                plan = make_plan(front_pages, counts, 1 if with_index else 0, right_hand=right_hand)
                found = {name: where[0] + 1 for name, where in edition_anchors(plan, chapter_parts).items()}
                if with_index:
                    found["tag-index"] = plan.back + 1
                on_numbers(found)  # first: the practice edition's chapters are the longest work left
                self.ctx.progress(f"pdf: laying out the {self.name}'s front matter, index and page stamps")
                front = self._front(found, extra, with_index=with_index)
                back = engine.submit([self._back_job(found, extra)])[0] if with_index else None
                stamp_groups = self._stamp_jobs(plan, chapter_parts)[:-1]
                stamps = _regroup(engine.submit([job for group in stamp_groups for job in group]), stamp_groups)
                stable = front.result().pages == front_pages
                front_pages = front.result().pages
                if stable:
                    break
            else:
                self.ctx.report.warning(
                    OUTPUT_NAME, None, f"the {self.name}'s contents did not settle at one length after "
                    f"{_MAX_ROUNDS} layouts: its page numbers may be wrong",
                )
            stale = any(found.get(a, 0) != numbers.get(a, 0) for refs in refs_of for a in refs)
            numbers = found
            if stale and round_number == _MAX_ROUNDS - 1:
                self.ctx.report.warning(
                    OUTPUT_NAME, None, f"the {self.name}'s cross-reference page numbers did not settle after "
                    f"{_MAX_ROUNDS} rounds: some may be wrong",
                )
            if not stale or round_number == _MAX_ROUNDS - 1:
                break
            # A cross-reference printed a page number that moved: lay those chapters out again.
            self.ctx.progress(f"pdf: laying out the {self.name}'s chapters again (page numbers of references moved)")
        assert front_pages is not None
        on_final(numbers)
        back_part = back.result() if back is not None else None
        plan = make_plan(front_pages, counts, back_part.pages if back_part else 0, right_hand=right_hand)
        stamp_parts = [[future.result() for future in group] for group in stamps]
        if back_part is not None:
            stamp_parts += [engine.run(group) for group in self._stamp_jobs(plan, chapter_parts, back_part)[-1:]]
        front_part = front.result()
        for part in [front_part, *chapter_parts, *([back_part] if back_part else [])]:
            self.records.extend(logging.makeLogRecord({"msg": m, "args": args}) for m, args in part.records)
        parts = [front_part, *chapter_parts, *([back_part] if back_part else []), *(p for g in stamp_parts for p in g)]
        assembled = key(engine.base_key, self._identifier(), repr(plan), *(fingerprint(p) for p in parts))
        if engine.reuse_assembled(assembled, self.destination):
            self.ctx.progress(f"pdf: the {self.name} ({plan.total} pages) is made of unchanged parts: from the cache")
        else:
            self.ctx.progress(f"pdf: assembling the {self.name} ({plan.total} pages)")
            with self.ctx.bulk:
                assemble(plan, front_part, chapter_parts, back_part, stamp_parts, self._identifier(), self.destination)
                release_memory()  # qpdf's objects are gone once _assemble returns
            engine.keep_assembled(assembled, self.destination)
        engine.forget_finished()
        engine.cache.put_record("hints", self._identifier("front-pages"), {"pages": front_pages})
        return answer_pages(handbook, numbers), front_pages

    def _remembered_front_pages(self) -> int | None:
        """The front matter's length in the last build of this edition: a guess, checked like any other
        (a wrong one costs one more layout of the front matter, as having none does)."""
        record = self.engine.cache.get_record("hints", self._identifier("front-pages"))
        pages = record[0].get("pages") if record is not None else None
        return pages if isinstance(pages, int) and pages > 0 else None

    def start_chapters(self, extra: dict[str, Any]) -> None:
        """Start laying out the chapters as the first round of ``build`` will ask for them."""
        jobs = [
            self._chapter_job(group, tuple(a for c in group for a in chapter_refs(c)), {}, extra)
            for group in self.groups
        ]
        self.engine.submit(jobs)

    def _values(self, extra: dict[str, Any], **values: Any) -> dict[str, Any]:
        return {
            **self.frame,
            **extra,
            "edition": self.name,
            "edition_title": self.title,
            **values,
        }

    def _chapter_job(
        self, group: tuple[Chapter, ...], refs: tuple[str, ...], numbers: dict[str, int], extra: dict[str, Any]
    ) -> Job:
        pairs = [(REF_PREFIX + a, numbers.get(a, 0)) for a in dict.fromkeys(refs)]
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(extra, part="chapter", chapter=group[0], chapters=group, refs=pairs, with_index=False)
        )
        inputs = key(*(assets_key(self.handbook, c) for c in group))
        return self.engine.job(html, self._identifier("+".join(c.id for c in group)), inputs=inputs)

    def _front(
        self, numbers: dict[str, int], extra: dict[str, Any], *, with_index: bool
    ) -> concurrent.futures.Future[Part]:
        """Start laying out the cover and contents, which point at every chapter, question and the index."""
        wanted = [chapter_anchor(c.id) for c in self.handbook.chapters]
        wanted += [question_anchor(q.id) for q in self.handbook.questions]
        wanted += ["tag-index"] if with_index else []
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(
                extra, part="front", chapter=None, refs=[(a, numbers.get(a, 0)) for a in wanted], with_index=with_index
            )
        )
        return self.engine.submit([self.engine.job(html, self._identifier("front"))])[0]

    def _back_job(self, numbers: dict[str, int], extra: dict[str, Any]) -> Job:
        refs = [(a, numbers.get(a, 0)) for a in (question_anchor(q.id) for q in self.handbook.questions)]
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(extra, part="back", chapter=None, refs=refs, with_index=True)
        )
        return self.engine.job(html, self._identifier("back"))

    def _stamp_jobs(self, plan: Plan, chapter_parts: Sequence[Part], back: Part | None = None) -> list[list[Job]]:
        """Running heads and page numbers, jobs for each part: the front matter, each chapter, the index
        (a placeholder page while its length is unknown); a long part's in several jobs (the practice
        edition is one part of hundreds of pages), so that every worker can take some."""
        book_title = self.handbook.meta.title
        front_pages = plan.chapters[0] if plan.chapters else plan.back
        front_pages -= sum(1 for blank in plan.blanks if blank < front_pages)
        runs: list[list[Stamp]] = [[Stamp()] + [Stamp(folio=str(n + 1)) for n in range(1, front_pages)]]
        # (first page, running head of each page, whether its first page opens a chapter with a big title)
        heads = [
            (plan.chapters[i], _page_titles(group, part), True)
            for i, (group, part) in enumerate(zip(self.groups, chapter_parts, strict=True))
        ]
        index_title = labels(self.handbook.meta.language)["tag_index"]
        heads.append((plan.back, [index_title] * (back.pages if back else 1), False))
        for start, titles, opening in heads:
            run: list[Stamp] = []
            for k, title in enumerate(titles):
                number = start + k + 1
                if k == 0 and opening:
                    run.append(Stamp(folio=str(number)))  # a chapter's opening page has its own big title
                elif number % 2 == 0:
                    run.append(Stamp(folio=str(number), left=book_title))
                else:
                    run.append(Stamp(folio=str(number), right=title))
            runs.append(run)
        template = self.env.get_template(STAMP_TEMPLATE)
        return [
            [
                self.engine.job(template.render(**self.frame, stamps=chunk), self._identifier("stamps"), stamps=True)
                for chunk in (run[i:i + _STAMP_PAGES] for i in range(0, len(run), _STAMP_PAGES))
            ]
            for run in runs
        ]

    def _identifier(self, part: str = "") -> str:
        # A stable first /ID half per edition: the same document across rebuilds, as the PDF spec asks.
        name = f"{self.handbook.meta.id}/{self.name}" + (f"/{part}" if part else "")
        return hashlib.sha256(name.encode()).hexdigest()[:32]


def _regroup(
    futures: Sequence[concurrent.futures.Future[Part]], groups: Sequence[Sequence[Job]]
) -> list[list[concurrent.futures.Future[Part]]]:
    """Futures submitted as one list, cut back into the groups their jobs came in."""
    found, start = [], 0
    for group in groups:
        found.append(list(futures[start:start + len(group)]))
        start += len(group)
    return found


def _page_titles(group: tuple[Chapter, ...], part: Part) -> list[str]:
    """The running head of each page of a part: the chapter under way at the top of the page (the one
    of a group of chapters run on that last started on an earlier page, or on this one)."""
    starts = sorted(
        (part.anchors[chapter_anchor(c.id)][0], n, c.title) for n, c in enumerate(group)
        if chapter_anchor(c.id) in part.anchors
    )
    titles = []
    for page in range(part.pages):
        begun = [title for index, _, title in starts if index <= page]
        titles.append(begun[-1] if begun else group[0].title)
    return titles


def answer_pages(handbook: Handbook, numbers: dict[str, int]) -> dict[str, int]:
    return {q.id: numbers.get(question_anchor(q.id), 0) for q in handbook.questions}


def chapter_refs(chapter: Chapter) -> tuple[str, ...]:
    """The anchors of the questions ``chapter`` cross-references, in order, each once."""
    found: dict[str, None] = {}
    for node, _ in walk(chapter):
        if isinstance(node, Link) and node.question_id is not None:
            found[question_anchor(node.question_id)] = None
    return tuple(found)


def assets_key(handbook: Handbook, chapter: Chapter) -> str:
    """A key over the bytes of the local images ``chapter`` shows (its HTML names them only)."""
    assets = {n.target for n, _ in walk(chapter) if isinstance(n, Image) and isinstance(n.target, Asset)}
    paths = {handbook.root / asset.path for asset in assets}
    return file_key(paths, handbook.root)
