"""One PDF edition from its parts: every part (chapters, front matter, tag index) laid out at once, then
the stamps (running heads, folios, page numbers) and the assembly.

The page numbers the contents, the tag index and the practice edition's answer keys print are known
only once every part's length is: those parts keep a box of fixed width for each number, which the
stamps fill, so that no part is laid out twice for its numbers. A cross-reference's number runs in the
text: a chapter whose printed numbers moved is laid out again."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import Cache, file_key, key
from ..context import Context
from ..labels import labels
from ..model import Chapter, Handbook
from ..render import Hooks, chapter_anchor, question_anchor
from ..sitecache import page_key, shown
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
_PART_HTML = "pdf-part-html"  # the cache's namespace of chapters' parts as templated
_HANDBOOK_WIDE = ("handbook", "tag_index")  # frame values a chapter's part is templated without
# A cross-reference in a part's HTML: it reads its page number from the page-refs (see plan.REF_PREFIX).
_REF_LINK = re.compile(f'href="#{re.escape(REF_PREFIX)}([^"]+)"')


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """What is drawn in one page's margins."""

    folio: str = ""
    left: str = ""
    right: str = ""
    numbers: tuple[Number, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Number:
    """A page number drawn in the box a part kept for it (CSS px from the page area's top left corner)."""

    kind: str  # which page number: a contents "chapter" or "entry", an "index" entry, an "answer" key
    left: float
    top: float
    width: float
    text: str


def _with_numbers(
    run: list[Stamp], part: Part, pages: dict[str, int], text_of: Callable[[str, int], str]
) -> list[Stamp]:
    """The stamps of ``part``'s pages with the page numbers its boxes are for: an answer key's is the
    question's page in the book (``pages["answer:" + anchor]``), any other the target's in this edition;
    ``text_of(kind, number)`` is what the box shows."""
    numbers: dict[int, list[Number]] = {}
    for name, page, left, top, width in part.slots:
        kind, _, target = name.split("-", 2)
        page_number = pages.get(f"answer:{target}" if kind == "answer" else target, 0)
        text = text_of(kind, page_number) if page_number else ""
        numbers.setdefault(page, []).append(Number(kind=kind, left=left, top=top, width=width, text=text))
    return [dataclasses.replace(s, numbers=tuple(numbers.get(k, ()))) for k, s in enumerate(run)]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settled:
    """An edition whose parts are laid out and whose page numbers are known."""

    plan: Plan
    front: Part
    chapters: tuple[Part, ...]
    back: Part | None
    numbers: dict[str, int]


class Edition:
    """One PDF edition assembled from its parts."""

    def __init__(
        self,
        *,
        name: str,
        title: str,
        handbook: Handbook,
        env: Any,
        hooks: Hooks,
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
        # The anchors each group's cross-references print the page number of, each once, as its part shows
        # them (the practice edition shows no answers): found when the part is first rendered.
        self._refs: dict[int, tuple[str, ...]] = {}
        self._jobs: dict[int, tuple[tuple[int, ...] | None, Job]] = {}  # the last job of each group, by its numbers
        self._settled: _Settled | None = None
        self._stamps: list[list[concurrent.futures.Future[Part]]] | None = None
        self.destination = destination
        self.title = title
        self.handbook = handbook
        self.env = env
        self.hooks = hooks
        self.frame = frame
        # What a chapter's part is templated with besides its chapters: not the whole handbook (nor the tag
        # index, which holds it), so that the part's key (_templated) covers all it can show.
        self._chapter_frame = {k: v for k, v in frame.items() if k not in _HANDBOOK_WIDE}
        self._chapter_frame_repr = repr(sorted(self._chapter_frame.items()))
        self._reprs: dict[str, str] = {}  # each chapter's repr, by its id (a part is keyed by it more than once)
        self.engine = engine
        self.ctx = ctx
        self.records = records

    def start(self, *, with_index: bool) -> None:
        """Start laying out every part of the edition: none depends on another's page numbers (the
        stamps draw the numbers of the contents, the tag index and the answer keys), so all can be laid
        out at once, the longest first. Parts that print a cross-reference's page number are laid out
        again in ``settle`` if it turns out not to be 0."""
        chapters = [self._chapter_job(index, self._remembered) for index in range(len(self.groups))]
        self.engine.submit([*self._matter_jobs(with_index), *chapters])

    def settle(self, *, with_index: bool, right_hand: bool) -> dict[str, int]:
        """Wait for the edition's parts (laying out again those whose cross-references' numbers moved)
        and return the page number of every anchor of its chapters (and of the tag index)."""
        engine = self.engine
        # anchor → page number: at first those the last build found (0 if unknown), then this build's
        numbers = self._remembered
        self.ctx.progress(f"pdf: laying out the {self.name}'s chapters")
        front, *back = engine.submit(self._matter_jobs(with_index))
        for round_number in range(_MAX_ROUNDS):
            jobs = [self._chapter_job(index, numbers) for index in range(len(self.groups))]
            chapter_parts = engine.run(jobs)
            fresh = sum(engine.was_laid_out(job) for job in jobs)
            self.ctx.progress(f"pdf: {self.name}: {fresh} of {len(jobs)} chapters laid out, the rest from the cache")
            back_part = back[0].result() if back else None
            plan = make_plan(
                front.result().pages, [p.pages for p in chapter_parts], back_part.pages if back_part else 0,
                right_hand=right_hand,
            )
            found = {name: where[0] + 1 for name, where in edition_anchors(plan, chapter_parts).items()}
            if with_index:
                found["tag-index"] = plan.back + 1
            stale = any(found.get(a, 0) != numbers.get(a, 0) for refs in self._refs.values() for a in refs)
            numbers = found
            if not stale:
                break
            if round_number == _MAX_ROUNDS - 1:
                self.ctx.report.warning(
                    OUTPUT_NAME, None, f"the {self.name}'s cross-reference page numbers did not settle after "
                    f"{_MAX_ROUNDS} rounds: some may be wrong",
                )
                break
            # A cross-reference printed a page number that moved: lay those chapters out again.
            self.ctx.progress(f"pdf: laying out the {self.name}'s chapters again (page numbers of references moved)")
        printed = sorted({a for refs in self._refs.values() for a in refs})
        engine.cache.put_record("hints", self._identifier("numbers"), {a: numbers.get(a, 0) for a in printed})
        self._settled = _Settled(
            plan=plan, front=front.result(), chapters=tuple(chapter_parts), back=back_part, numbers=numbers
        )
        return numbers

    def start_stamps(self, answers: dict[str, int] | None = None) -> None:
        """Start laying out the stamps of the settled edition. ``answers`` is the page number of each
        question in the book (by its anchor), which the practice edition's answer keys print."""
        settled = self._settled
        assert settled is not None, "settle() first"
        self.ctx.progress(f"pdf: the {self.name}'s page stamps")
        pages = {**settled.numbers, **{f"answer:{a}": n for a, n in (answers or {}).items()}}
        groups = self._stamp_jobs(settled.plan, settled.front, settled.chapters, settled.back, pages)
        futures = iter(self.engine.submit([job for group in groups for job in group]))
        self._stamps = [[next(futures) for _ in group] for group in groups]

    def finish(self) -> None:
        """Write the edition's PDF to its destination once its stamps are laid out."""
        settled, engine = self._settled, self.engine
        assert settled is not None and self._stamps is not None, "start_stamps() first"
        stamp_parts = [[future.result() for future in group] for group in self._stamps]
        plan, front, chapters, back = settled.plan, settled.front, settled.chapters, settled.back
        for part in [front, *chapters, *([back] if back else [])]:
            self.records.extend(logging.makeLogRecord({"msg": m, "args": args}) for m, args in part.records)
        parts = [front, *chapters, *([back] if back else []), *(p for g in stamp_parts for p in g)]
        assembled = key(engine.base_key, self._identifier(), repr(plan), *(fingerprint(p) for p in parts))
        if engine.reuse_assembled(assembled, self.destination):
            self.ctx.progress(f"pdf: the {self.name} ({plan.total} pages) is made of unchanged parts: from the cache")
        else:
            self.ctx.progress(f"pdf: assembling the {self.name} ({plan.total} pages)")
            with self.ctx.bulk:
                assemble(plan, front, chapters, back, stamp_parts, self._identifier(), self.destination)
                release_memory()  # qpdf's objects are gone once _assemble returns
            engine.keep_assembled(assembled, self.destination)
        engine.forget_finished()

    def _values(self, **values: Any) -> dict[str, Any]:
        return {
            **self.frame,
            "edition": self.name,
            "edition_title": self.title,
            **values,
        }

    @functools.cached_property
    def _remembered(self) -> dict[str, int]:
        """The page numbers the cross-references printed in the last build of this edition: a guess, checked
        like any other; right, it saves laying a chapter that prints them out twice after it was edited."""
        record = self.engine.cache.get_record("hints", self._identifier("numbers"))
        found = record[0] if record is not None else {}
        return {str(a): n for a, n in found.items() if isinstance(n, int)} if isinstance(found, dict) else {}

    def _chapter_job(self, index: int, numbers: dict[str, int]) -> Job:
        group = self.groups[index]

        def render(refs: tuple[str, ...]) -> str:
            return self._templated(group, [(REF_PREFIX + a, numbers.get(a, 0)) for a in refs])

        refs = self._refs.get(index)
        printed = tuple(numbers.get(a, 0) for a in refs) if refs is not None else None
        made = self._jobs.get(index)
        if made is not None and made[0] == printed:
            return made[1]  # as ``start`` made it (templating every chapter again costs a second)
        html = render(refs or ())
        if refs is None:
            refs = self._refs[index] = tuple(dict.fromkeys(_REF_LINK.findall(html)))
            printed = tuple(numbers.get(a, 0) for a in refs)
            if refs:
                html = render(refs)
        inputs = key(*(assets_key(self.handbook, c, self.engine.cache, self._repr(c)) for c in group))
        job = self.engine.job(html, self._identifier("+".join(c.id for c in group)), inputs=inputs)
        self._jobs[index] = (printed, job)
        return job

    def _templated(self, group: tuple[Chapter, ...], refs: list[tuple[str, int]]) -> str:
        """The HTML of a part of chapters, from the cache when its key is there: templating every chapter
        to find its key cost a second of every build of the corpus. The key is what the part shows: its
        chapters' whole model, what the hooks answer for their nodes (formulas' SVG, images' URLs, links),
        the page-refs, the edition, the frame's values, the tool (templates and code). Not with
        ``--fetch-remote``: a fetched image's place is not in that key (remote images are otherwise
        placeholders, which the chapters' repr decides)."""
        cache = self.engine.cache if not self.ctx.options.fetch_remote else Cache(None)
        reprs = [self._repr(chapter) for chapter in group]
        answers = [shown(cache, chapter, text).answers(self.hooks) for chapter, text in zip(group, reprs, strict=True)]
        entry = page_key(
            "pdf-part", PART_TEMPLATE, self.name, self.title, self._chapter_frame_repr, repr(refs), *reprs, *answers
        )
        record = cache.get_record(_PART_HTML, entry)
        if record is not None:
            return record[1].decode("utf-8")
        html = str(self.env.get_template(PART_TEMPLATE).render(
            **self._chapter_frame, edition=self.name, edition_title=self.title, part="chapter",
            chapter=group[0], chapters=group, refs=refs, with_index=False,
        ))
        cache.put_record(_PART_HTML, entry, {}, html.encode("utf-8"))
        return html

    def _repr(self, chapter: Chapter) -> str:
        text = self._reprs.get(chapter.id)
        if text is None:
            text = self._reprs[chapter.id] = repr(chapter)
        return text

    def _matter_jobs(self, with_index: bool) -> list[Job]:
        """The front matter's job, and the tag index's if the edition has one."""
        return [self._front_job(with_index=with_index), *([self._back_job()] if with_index else [])]

    def _front_job(self, *, with_index: bool) -> Job:
        """The cover and contents. The contents point at every chapter, question and the index: empty
        elements named after them make those links resolve inside the part (the assembly re-points them)."""
        wanted = [chapter_anchor(c.id) for c in self.handbook.chapters]
        wanted += [question_anchor(q.id) for q in self.handbook.questions]
        wanted += ["tag-index"] if with_index else []
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(part="front", chapter=None, refs=[(a, 0) for a in wanted], with_index=with_index)
        )
        return self.engine.job(html, self._identifier("front"))

    def _back_job(self) -> Job:
        refs = [(question_anchor(q.id), 0) for q in self.handbook.questions]
        html = self.env.get_template(PART_TEMPLATE).render(
            **self._values(part="back", chapter=None, refs=refs, with_index=True)
        )
        return self.engine.job(html, self._identifier("back"))

    def _stamp_jobs(
        self, plan: Plan, front: Part, chapter_parts: Sequence[Part], back: Part | None, pages: dict[str, int]
    ) -> list[list[Job]]:
        """Running heads, folios and the page numbers the parts kept boxes for, jobs for each part: the
        front matter, each chapter, the index; a long part's in several jobs (the practice edition is one
        part of hundreds of pages), so that every worker can take some."""
        book_title = self.handbook.meta.title
        runs: list[list[Stamp]] = [[Stamp()] + [Stamp(folio=str(n + 1)) for n in range(1, front.pages)]]
        # (first page, running head of each page, whether its first page opens a chapter with a big title)
        heads = [
            (plan.chapters[i], _page_titles(group, part), True)
            for i, (group, part) in enumerate(zip(self.groups, chapter_parts, strict=True))
        ]
        if back is not None:
            heads.append((plan.back, [labels(self.handbook.meta.language)["tag_index"]] * back.pages, False))
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
        parts = [front, *chapter_parts, *([back] if back is not None else [])]
        answer_key = labels(self.handbook.meta.language)["answer_key"]

        def text(kind: str, page: int) -> str:
            return answer_key.format(title=book_title, page=page) if kind == "answer" else str(page)

        runs = [_with_numbers(run, part, pages, text) for run, part in zip(runs, parts, strict=True)]
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


def assets_key(handbook: Handbook, chapter: Chapter, cache: Cache, chapter_repr: str | None = None) -> str:
    """A key over the bytes of the local images ``chapter`` shows (its HTML names them only)."""
    images = shown(cache, chapter, repr(chapter) if chapter_repr is None else chapter_repr).images
    return file_key({handbook.root / path for path in images}, handbook.root)
