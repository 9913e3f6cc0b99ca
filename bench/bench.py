"""Benchmarks (not tests): build big handbooks and print tables of figures.

    python bench/bench.py [--jobs N] [--pairs 2] [--detail] [--only corpus|content]

Handbooks: the 《三年面试五年模拟》 corpus imported from ../shared/corpus/wethinkin-dev into a temporary
folder (when the importer and the corpus are there; else ``content/`` replicated ``--copies`` times with
unique ids), a subset of it (three topic folders, ~240 questions), and ``content/`` itself. Every build
runs the CLI in a child process, as ``make`` does; peak RSS is sampled over the whole process tree (the
build, its layout workers, Node for MathJax).

The default table (issue 19) compares commands run in turn, A B A B …, and quotes the median of the
ratios pair by pair, so that a machine whose speed drifts still gives a fair ratio:

- a cold build of all outputs (empty cache; only the derived fonts are reused, see docs/performance.md)
  with ``--jobs N`` against ``--jobs 1``, on the subset and on the whole corpus;
- after that, on the whole corpus, a no-op rebuild and a rebuild after editing one answer (a new sentence
  each time), against the cold ``--jobs N`` build; peak RSS of each;
- the baseline: the same book and practice edition laid out by one WeasyPrint process from one HTML
  file each (bench/baseline.py, the renderer as it was before per-chapter layout).

``--detail`` adds the older table: a cold build of each output alone, where the PDF's time goes, a
template change, pandoc md→epub as a peer.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pypdf

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = Path(sys.executable).parent / "handbook"
CORPUS = ROOT.parent / "shared" / "corpus" / "wethinkin-dev"
# Three topic folders of the corpus, 236 questions: the "~240-question subset" of issue 19.
SUBSET = ("机器学习基础", "编程基础：Python", "计算机基础")
EPOCH = "1700000000"
FORMATS = ("html", "epub", "anki", "pdf")
FORMATS_ALL = ("all",)
# The template the "one template changed" rebuild edits: the cover, which only the front matter shows.
TEMPLATE = ROOT / "templates" / "pdf" / "frame.html.j2"
TEMPLATE_EDIT = ('<p class="cover-version">', '<p class="cover-version" data-edition="bench">')
LAYOUT = re.compile(r"^· pdf: laying out ")
CHAPTERS = re.compile(r"^· pdf: (\w+): (\d+) of (\d+) chapters laid out")


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    seconds: float
    peak_rss_mib: float
    lines: tuple[str, ...]
    phases: tuple[tuple[str, float], ...]  # (progress line, seconds until the next line)


class TreeRSS:
    """Samples the summed RSS of a process and all its descendants every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
                rss[int(entry)] = int(fields[21]) * page
            tree = {self.pid}
            grown = True
            while grown:
                grown = False
                for pid, parent in parents.items():
                    if parent in tree and pid not in tree:
                        tree.add(pid)
                        grown = True
            self.peak = max(self.peak, sum(rss.get(pid, 0) for pid in tree))
            self._stop.wait(0.05)


def run(command: list[str], *, env: dict[str, str] | None = None) -> Run:
    """A child process, its progress lines (stderr, ``· …``) timed as they arrive."""
    start = time.monotonic()
    marks: list[tuple[str, float]] = [("· start", start)]
    # Python's default, bytecode written and reused, whatever this shell says: a no-op is mostly imports.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    child = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**inherited, **(env or {})}
    )
    sampler = TreeRSS(child.pid)
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("· "):
            marks.append((line.rstrip(), time.monotonic()))
        elif ": error:" in line or line.startswith(("Error", "Traceback")):
            print(line.rstrip(), file=sys.stderr)
    child.stderr.close()
    code = child.wait()
    end = time.monotonic()
    peak = sampler.stop()
    if code != 0:
        raise SystemExit(f"failed (exit {code}): {' '.join(command)}")
    phases = tuple(
        (label, (marks[i + 1][1] if i + 1 < len(marks) else end) - at) for i, (label, at) in enumerate(marks)
    )
    return Run(seconds=end - start, peak_rss_mib=peak, lines=tuple(m for m, _ in marks), phases=phases)


def build(content: Path, out: Path, cache: Path, formats: tuple[str, ...], jobs: int) -> Run:
    command = [str(HANDBOOK), "build", *formats, "--content", str(content), "--out", str(out)]
    command += ["--cache", str(cache), "--jobs", str(jobs)]
    return run(command, env={"SOURCE_DATE_EPOCH": EPOCH})


def fresh_cache(work: Path, name: str) -> Path:
    """An empty build cache that shares the derived fonts (a tool resource, ~60 s to derive)."""
    cache = work / name
    cache.mkdir()
    fonts = ROOT / ".cache" / "fonts"
    if fonts.is_dir():
        (cache / "fonts").symlink_to(fonts)
    return cache


# --- handbooks -------------------------------------------------------------------------------------


def import_corpus(target: Path, corpus: Path, folders: tuple[str, ...] = ()) -> bool:
    """Import the corpus (or only ``folders`` of it, with its images and README) into ``target``."""
    try:
        from pipeline.importers import import_wethinkin
    except ImportError:
        return False
    if not corpus.is_dir():
        return False
    if folders:
        part = target.with_name(target.name + "-source")
        part.mkdir()
        for name in (*folders, "imgs"):
            shutil.copytree(corpus / name, part / name)
        shutil.copy2(corpus / "README.md", part / "README.md")
        corpus = part
    import_wethinkin(corpus, target)
    return True


def synthesize(content: Path, copies: int, target: Path) -> None:
    """``copies`` copies of every chapter of ``content``, with unique chapter and question ids."""
    target.mkdir(parents=True)
    for entry in content.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name)
        elif entry.suffix != ".md":
            shutil.copy2(entry, target / entry.name)
    for copy in range(1, copies + 1):
        suffix = f"-c{copy:02d}"
        for chapter in sorted(content.glob("*.md")):
            text = chapter.read_text(encoding="utf-8")
            text = re.sub(r"^id: *(\S+)", rf"id: \g<1>{suffix}", text, count=1, flags=re.M)
            text = re.sub(r"^title: *(.+)$", rf"title: \g<1> · {copy}", text, count=1, flags=re.M)
            text = re.sub(r"\{#([a-z0-9-]+)", rf"{{#\g<1>{suffix}", text)
            text = re.sub(r"\]\(#([a-z0-9-]+)\)", rf"](#\g<1>{suffix})", text)
            (target / f"c{copy:02d}-{chapter.name}").write_text(text, encoding="utf-8")


def edit_one_answer(content: Path, number: int = 0) -> str:
    """Append a sentence (the ``number``-th: each edit is new) to the first answer paragraph of the
    middle chapter; returns the file's name."""
    chapters = sorted(content.glob("*.md"))
    chapter = chapters[len(chapters) // 2]
    lines = chapter.read_text(encoding="utf-8").split("\n")
    heading = next(i for i, line in enumerate(lines) if line.startswith("## "))
    for i in range(heading + 1, len(lines)):
        if lines[i].strip() and not lines[i].startswith(("#", "|", "`", "$", "-", "*", ">", "!", "<", " ")):
            lines[i] += f"（补充{number or ''}：这是基准测试加上的一句话。）"
            break
    chapter.write_text("\n".join(lines), encoding="utf-8")
    return chapter.name


# --- measurements ----------------------------------------------------------------------------------


def pdf_pages(out: Path) -> tuple[int, int]:
    return (
        len(pypdf.PdfReader(out / "handbook.pdf").pages),
        len(pypdf.PdfReader(out / "handbook-practice.pdf").pages),
    )


def layout_seconds(result: Run) -> float:
    return sum(seconds for label, seconds in result.phases if LAYOUT.match(label))


def laid_out(result: Run) -> str:
    found = [CHAPTERS.match(line) for line in result.lines]
    return ", ".join(f"{m[1]} {m[2]}/{m[3]}" for m in found if m) or "no PDF chapter"


def bench(title: str, content: Path, work: Path, jobs: int, *, rebuilds_only: bool = False) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    print(f"\n## {title}", flush=True)

    def row(label: str, value: str) -> None:
        rows.append((label, value))
        print(f"  {label:<58} {value}", flush=True)

    if not rebuilds_only:
        cold: dict[str, Run] = {}
        for fmt in FORMATS:
            out = work / f"{name}-cold-{fmt}"
            cold[fmt] = result = build(content, out, fresh_cache(work, f"{name}-cache-{fmt}"), (fmt,), jobs)
            extra = ""
            if fmt == "pdf":
                book, practice = pdf_pages(out)
                pages = book + practice
                extra = f"; {book} + {practice} pages, {pages / result.seconds:.1f} pages/s"
            figures = f"{result.seconds:7.1f} s, peak RSS {result.peak_rss_mib:5.0f} MiB{extra}"
            row(f"cold build {fmt} (--jobs {jobs})", figures)
        pdf = cold["pdf"]
        layout = layout_seconds(pdf)
        outside = pdf.seconds - layout
        row("  pdf: waiting for WeasyPrint layout (wall)", f"{layout:7.1f} s")
        row(
            "  pdf: outside WeasyPrint layout (wall)",
            f"{outside:7.1f} s ({outside / pdf.seconds:.0%} of the cold build)",
        )
        for label, seconds in pdf.phases:
            if seconds >= 0.5:
                row(f"    {label.removeprefix('· ')[:54]}", f"{seconds:7.1f} s")

        # The baseline reuses the cold PDF build's cache (formulas rendered): it is charged for layout only.
        base = run(
            [sys.executable, str(ROOT / "bench" / "baseline.py"), str(content), str(work / f"{name}-cache-pdf")],
            env={"SOURCE_DATE_EPOCH": EPOCH},
        )
        figures = f"{base.seconds:7.1f} s, peak RSS {base.peak_rss_mib:5.0f} MiB"
        row("baseline: one WeasyPrint process, one HTML per edition", figures)
        row("  ratio: cold parallel PDF / baseline", f"{pdf.seconds / base.seconds:7.2f}")

    out = work / f"{name}-all"
    cache = fresh_cache(work, f"{name}-cache-all")
    first = build(content, out, cache, FORMATS, jobs)
    row("cold build of all outputs", f"{first.seconds:7.1f} s, peak RSS {first.peak_rss_mib:5.0f} MiB")
    noop = build(content, out, cache, FORMATS, jobs)
    row("no-op rebuild of all outputs", f"{noop.seconds:7.2f} s")
    edited = work / f"{name}-edited"
    shutil.copytree(content, edited)
    chapter = edit_one_answer(edited)
    one = build(edited, out, cache, FORMATS, jobs)
    row(f"rebuild after editing one answer ({chapter})", f"{one.seconds:7.1f} s; chapters laid out: {laid_out(one)}")
    original = TEMPLATE.read_text(encoding="utf-8")
    try:
        TEMPLATE.write_text(original.replace(*TEMPLATE_EDIT), encoding="utf-8")
        changed = build(edited, out, cache, FORMATS, jobs)
    finally:
        TEMPLATE.write_text(original, encoding="utf-8")
    row(
        f"rebuild after changing one template ({TEMPLATE.name}, cover)",
        f"{changed.seconds:7.1f} s; chapters laid out: {laid_out(changed)}",
    )

    if shutil.which("pandoc"):
        chapters = [str(p) for p in sorted(content.glob("*.md"))]
        command = ["pandoc", "--from", "markdown", "--to", "epub3", "--mathml", "--resource-path", str(content)]
        command += ["--metadata", "title=bench", "-o", str(work / f"{name}-pandoc.epub"), *chapters]
        peer = run(command)
        row("pandoc md→epub (peer baseline)", f"{peer.seconds:7.1f} s, peak RSS {peer.peak_rss_mib:5.0f} MiB")
    return rows


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def alternate(pairs: int, first: Callable[[int], Run], second: Callable[[int], Run]) -> list[tuple[Run, Run]]:
    """``first`` and ``second`` in turn, ``pairs`` times (each told its round)."""
    return [(first(n), second(n)) for n in range(pairs)]


def ratio_figures(results: list[tuple[Run, Run]]) -> str:
    ratios = [a.seconds / b.seconds for a, b in results]
    each = ", ".join(f"{a.seconds:.1f}/{b.seconds:.1f}" for a, b in results)
    return f"median {median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}; s: {each})"


def schedule(title: str, content: Path, work: Path, jobs: int, pairs: int, *, rebuilds: bool) -> Run | None:
    """Cold all outputs --jobs N vs --jobs 1 in turn; with ``rebuilds``, no-op and one-answer edits after
    the last cold --jobs N build, each against the cold builds' median. Returns the last cold N-job run."""
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    count = sum(1 for path in content.glob("*.md") for line in path.open(encoding="utf-8") if line.startswith("## "))
    print(f"\n## {title}: {len(list(content.glob('*.md')))} chapters, {count} level-2 headings", flush=True)

    def cold(n: int, jobs: int) -> Run:
        out, cache = work / f"{name}-out-{jobs}-{n}", fresh_cache(work, f"{name}-cache-{jobs}-{n}")
        result = build(content, out, cache, FORMATS_ALL, jobs)
        if n:  # the first round's folders are kept for the rebuilds; later ones are removed (disk)
            shutil.rmtree(out)
            shutil.rmtree(cache)
        return result

    results = alternate(pairs, lambda n: cold(n, jobs), lambda n: cold(n, 1))
    print(f"  cold all outputs, --jobs {jobs} / --jobs 1: {ratio_figures(results)}", flush=True)
    rss = max(a.peak_rss_mib for a, _ in results)
    rss1 = max(b.peak_rss_mib for _, b in results)
    print(f"  peak RSS, cold --jobs {jobs}: {rss:.0f} MiB; --jobs 1: {rss1:.0f} MiB", flush=True)
    cold_n = median([a.seconds for a, _ in results])
    if not rebuilds:
        return results[0][0]
    out, cache = work / f"{name}-out-{jobs}-0", work / f"{name}-cache-{jobs}-0"
    noops = [build(content, out, cache, FORMATS_ALL, jobs) for _ in range(5)]
    noop = median([r.seconds for r in noops])
    print(f"  no-op rebuild: median {noop:.3f} s of 5 = {noop / cold_n:.4f}x the cold --jobs {jobs} build", flush=True)
    edited = work / f"{name}-edited"
    shutil.copytree(content, edited)
    edits = []
    for n in range(1, 4):
        chapter = edit_one_answer(edited, n)
        edits.append(build(edited, out, cache, FORMATS_ALL, jobs))
    edit = median([r.seconds for r in edits])
    print(
        f"  one-answer edit ({chapter}): median {edit:.2f} s of 3 = {edit / cold_n:.4f}x the cold build; "
        f"peak RSS {max(r.peak_rss_mib for r in edits):.0f} MiB; PDF chapters laid out: {laid_out(edits[-1])}",
        flush=True,
    )
    slow = sorted(((s, label) for label, s in edits[-1].phases if s >= 0.3), reverse=True)[:6]
    spent = "; ".join(f"{label.removeprefix('· ')[:48]} {s:.1f} s" for s, label in slow)
    print(f"    where the edit's time goes: {spent}", flush=True)
    return results[0][0]


def baseline(content: Path, work: Path, jobs: int) -> None:
    """One WeasyPrint process per edition, against the cold PDF build of this build's schedule."""
    cache = fresh_cache(work, "baseline-pdf")
    pdf = build(content, work / "baseline-out", cache, ("pdf",), jobs)
    base = run([sys.executable, str(ROOT / "bench" / "baseline.py"), str(content), str(cache)],
               env={"SOURCE_DATE_EPOCH": EPOCH})
    print(f"  cold PDF alone (--jobs {jobs}): {pdf.seconds:.1f} s, peak RSS {pdf.peak_rss_mib:.0f} MiB", flush=True)
    print(f"  baseline, one WeasyPrint process, one HTML per edition: {base.seconds:.1f} s, "
          f"peak RSS {base.peak_rss_mib:.0f} MiB; ratio {pdf.seconds / base.seconds:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes [cores]")
    parser.add_argument("--copies", type=int, default=8, help="copies of content/ without the corpus [8]")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the WeThinkIn checkout [../shared/corpus/…]")
    parser.add_argument("--only", choices=("corpus", "content"), help="one of the two handbooks")
    parser.add_argument("--rebuilds-only", action="store_true", help="skip the cold builds per output and the baseline")
    parser.add_argument("--pairs", type=int, default=2, help="rounds of --jobs N vs --jobs 1 cold builds [2]")
    parser.add_argument("--detail", action="store_true", help="also the per-output table of earlier issues")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-process WeasyPrint baseline")
    args = parser.parse_args()
    print(f"handbook benchmark: {os.cpu_count()} cores, --jobs {args.jobs}, {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="handbook-bench-") as folder:
        work = Path(folder)
        if args.only != "content":
            subset, big = work / "subset", work / "corpus"
            if import_corpus(subset, args.corpus, SUBSET) and import_corpus(big, args.corpus):
                schedule("subset (three topic folders)", subset, work, args.jobs, args.pairs + 1, rebuilds=False)
                schedule("corpus (wethinkin-dev, imported)", big, work, args.jobs, args.pairs, rebuilds=True)
                if not args.no_baseline:
                    baseline(big, work, args.jobs)
            shutil.rmtree(big, ignore_errors=True)
        if args.detail:
            detail(args, work)


def detail(args: argparse.Namespace, work: Path) -> None:
    """The per-output table of issue 8."""
    if args.only != "content":
        big = work / "corpus-detail"
        if import_corpus(big, args.corpus):
            bench("corpus (wethinkin-dev, imported)", big, work, args.jobs, rebuilds_only=args.rebuilds_only)
        else:
            synthesize(ROOT / "content", args.copies, big)
            bench(f"content/ ×{args.copies}", big, work, args.jobs, rebuilds_only=args.rebuilds_only)
    if args.only != "corpus":
        bench("content/", ROOT / "content", work, args.jobs, rebuilds_only=args.rebuilds_only)


if __name__ == "__main__":
    main()
