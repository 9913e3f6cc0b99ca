"""A killed or interrupted PDF build leaves no process and no temporary file behind (issue 13, item 2),
and the next build removes what a killed one left (item 10). Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
HANDBOOK = Path(sys.executable).parent / "handbook"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found + [grandchild for child in found for grandchild in _children(child)]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped; its parent reaps it


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_pdf_build(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int], Path]:
    """A PDF build of the repository's content with two workers, stopped while they lay out chapters."""
    cache = tmp_path / "cache"
    cache.mkdir()
    if (REPO / ".cache" / "fonts").is_dir():
        (cache / "fonts").symlink_to(REPO / ".cache" / "fonts")  # derived fonts are slow to make
    out = tmp_path / "out"
    process = subprocess.Popen(
        [str(HANDBOOK), "build", "pdf", "--content", str(REPO / "content"), "--out", str(out), "--cache", str(cache),
         "--jobs", "2"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
        # Ctrl-C as in a terminal: a suite started as a background job of a non-interactive shell
        # (`make test &`) ignores SIGINT, and an ignored signal stays ignored across exec.
        preexec_fn=_default_sigint,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "laying out the book's chapters" in line:
            break
    else:
        pytest.fail(f"the build ended before laying out: {process.wait()}")
    deadline = time.monotonic() + 30
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # into the layouts
    return process, _children(process.pid), out


def _wait_gone(pids: list[int], since: float, limit: float) -> float:
    while any(_alive(pid) for pid in pids) and time.monotonic() - since < limit + 10:
        time.sleep(0.05)
    return time.monotonic() - since


def test_kill_9_leaves_no_worker_and_the_next_build_sweeps(tmp_path: Path) -> None:
    process, workers, out = _start_pdf_build(tmp_path)
    assert len(workers) >= 2
    start = time.monotonic()
    process.kill()
    process.wait()
    assert process.stderr is not None
    process.stderr.close()
    assert _wait_gone(workers, start, 2.0) < 2.0, [pid for pid in workers if _alive(pid)]
    leftovers = [p.name for p in out.iterdir()]
    assert all(name.endswith(".tmp") for name in leftovers)  # what only the next build can remove
    (out / ".html.abcd1234").mkdir()  # a staging folder of an HTML build killed earlier
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = subprocess.run([str(HANDBOOK), "build", "html", "--content", str(REPO / "tests" / "fixtures" / "mini"),
                             "--out", str(out), "--no-cache", "-q"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["html", "notes.txt"]


def test_ctrl_c_stops_within_2_s_and_leaves_nothing(tmp_path: Path) -> None:
    process, workers, out = _start_pdf_build(tmp_path)
    start = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # as the terminal does: the whole foreground group
    process.wait(timeout=30)
    stopped = time.monotonic() - start
    assert process.stderr is not None
    with process.stderr:  # read (and closed) before any assertion can fail
        told = process.stderr.read()
    assert process.returncode != 0, f"the build ended before the signal: {told[-500:]}"
    assert stopped < 2.0
    assert _wait_gone(workers, start, 2.0) < 2.0
    assert "Traceback" not in told
    assert list(out.iterdir()) == []


def test_sigterm_unwinds_like_ctrl_c(tmp_path: Path) -> None:
    process, workers, out = _start_pdf_build(tmp_path)
    start = time.monotonic()
    process.terminate()
    process.wait(timeout=30)
    assert process.stderr is not None
    with process.stderr:  # read (and closed) before any assertion can fail
        told = process.stderr.read()
    assert process.returncode == 128 + signal.SIGTERM, told[-500:]
    assert _wait_gone(workers, start, 2.0) < 2.0
    assert "Traceback" not in told
    assert list(out.iterdir()) == []  # the temporaries were removed on the way out
