"""Benchmarks (not tests): build a large synthetic handbook and print figures.

    python bench/bench.py [--copies 8] [--content content] [--cache .cache]

The synthetic handbook is ``--copies`` copies of every chapter of ``--content``, with unique chapter and
question ids, so the output is N times the size of the real book. Each build runs the CLI in a child
process (what ``make pdf`` runs); its progress lines, timed as they arrive, split the time into phases.
A first, untimed build fills the font and formula caches, so the figures are for a warm cache.

Printed for the PDF: pages, seconds, pages per second, the child's peak RSS, and the share of time
spent outside WeasyPrint's layout (reading, formulas, fonts, templates, PDF writing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pypdf

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = Path(sys.executable).parent / "handbook"
EPOCH = "1700000000"

# The PDF renderer's progress lines that open each phase (pipeline/pdf.py).
LAYOUT = re.compile(r"^· pdf: laying out the ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    seconds: float
    peak_rss_mib: float
    phases: tuple[tuple[str, float], ...]  # (progress line, seconds until the next line)


def synthesize(content: Path, copies: int, target: Path) -> tuple[int, int]:
    """Write ``copies`` copies of every chapter of ``content`` into ``target``; returns (chapters, questions)."""
    target.mkdir(parents=True)
    for entry in content.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name)
        elif entry.suffix != ".md":
            shutil.copy2(entry, target / entry.name)
    chapters = sorted(content.glob("*.md"))
    questions = 0
    for copy in range(1, copies + 1):
        suffix = f"-c{copy:02d}"
        for chapter in chapters:
            text = chapter.read_text(encoding="utf-8")
            text = re.sub(r"^id: *(\S+)", rf"id: \g<1>{suffix}", text, count=1, flags=re.M)
            text = re.sub(r"^title: *(.+)$", rf"title: \g<1> · {copy}", text, count=1, flags=re.M)
            text = re.sub(r"\{#([a-z0-9-]+)", rf"{{#\g<1>{suffix}", text)
            text = re.sub(r"\]\(#([a-z0-9-]+)\)", rf"](#\g<1>{suffix})", text)
            questions += len(re.findall(r"^## ", text, flags=re.M))
            (target / f"c{copy:02d}-{chapter.name}").write_text(text, encoding="utf-8")
    return len(chapters) * copies, questions


def run_build(content: Path, out: Path, cache: Path, fmt: str) -> Run:
    """One ``handbook build`` in a child process, its progress lines timed as they arrive."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    command = [str(HANDBOOK), "build", fmt, "--content", str(content), "--out", str(out), "--cache", str(cache)]
    start = time.monotonic()
    marks: list[tuple[str, float]] = [("· start", start)]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("· "):
            marks.append((line.rstrip(), time.monotonic()))
        elif ": error:" in line or "Error" in line:
            print(line.rstrip(), file=sys.stderr)
    child.stderr.close()
    # wait4 gives this child's own peak RSS (KiB on Linux); its own children (Node) are not counted.
    _, status, usage = os.wait4(child.pid, 0)
    end = time.monotonic()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the build failed (exit {child.returncode})")
    peak = usage.ru_maxrss / 1024
    phases = tuple(
        (label, (marks[i + 1][1] if i + 1 < len(marks) else end) - at) for i, (label, at) in enumerate(marks)
    )
    return Run(seconds=end - start, peak_rss_mib=peak, phases=phases)


def bench_pdf(content: Path, cache: Path, work: Path) -> None:
    out = work / "out-pdf"
    run_build(content, out, cache, "pdf")  # warm the font and formula caches
    shutil.rmtree(out)
    run = run_build(content, out, cache, "pdf")
    book = len(pypdf.PdfReader(out / "handbook.pdf").pages)
    practice = len(pypdf.PdfReader(out / "handbook-practice.pdf").pages)
    layout = sum(seconds for label, seconds in run.phases if LAYOUT.match(label))
    pages = book + practice
    print(f"pdf: {book} + {practice} pages (book + practice) in {run.seconds:.1f} s")
    print(f"pdf: {pages / run.seconds:.2f} pages/s, peak RSS {run.peak_rss_mib:.0f} MiB")
    print(
        f"pdf: WeasyPrint layout {layout:.1f} s ({layout / run.seconds:.0%}); "
        f"outside layout {run.seconds - layout:.1f} s ({1 - layout / run.seconds:.0%})"
    )
    for label, seconds in run.phases:
        print(f"    {seconds:7.2f} s  {label.removeprefix('· ')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8, help="copies of every chapter [8]")
    parser.add_argument("--content", type=Path, default=ROOT / "content", help="the handbook to replicate")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="the build cache [.cache]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handbook-bench-") as folder:
        work = Path(folder)
        chapters, questions = synthesize(args.content, args.copies, work / "content")
        print(f"synthetic handbook: {args.copies} copies of {args.content}: {chapters} chapters, {questions} questions")
        bench_pdf(work / "content", args.cache.resolve(), work)


if __name__ == "__main__":
    main()
