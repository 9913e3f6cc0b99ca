"""The build's one pool of workers: every layout of the build (each PDF part of both editions, the stamps,
the printable cards) is a task on it, so that ``--jobs N`` means N busy cores whichever output needs them.

With ``--jobs 1`` the tasks run one at a time on a thread of the build's own process (the same code path,
and WeasyPrint is never entered by two threads at once); otherwise in spawned worker processes that die
with the build.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import functools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """The build stopped (an error elsewhere, Ctrl-C): work not yet begun is not begun."""


class Workers:
    """Runs tasks for the whole build, in the order they are submitted (the longest first is the
    submitter's choice). Made when the first task arrives; ``close`` lets the workers go, ``abort``
    kills them at once."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.stopped = threading.Event()
        # Set once the outputs that lay out have handed over all the work they know of (the chapters):
        # the build's own Python work (the HTML, the deck) waits for it rather than delay the workers'.
        self.fed = threading.Event()
        self._lock = threading.Lock()
        self._pool: concurrent.futures.Executor | None = None
        self._at_close: list[Callable[[], None]] = []

    def at_close(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` where the tasks ran, after the last one (with one job: the layout thread)."""
        if cleanup not in self._at_close:
            self._at_close.append(cleanup)

    def start(self) -> None:
        """Start every worker now, from the build's main thread: only there can they be started ignoring
        Ctrl-C (see ``_workers_ignore_sigint``), and they import WeasyPrint while the build reads."""
        with self._lock:
            if self._pool is None:
                self._pool = self._start()
        if self.jobs > 1:
            with _workers_ignore_sigint():
                for _ in range(self.jobs):  # ProcessPoolExecutor spawns a worker per task while none is idle
                    self.submit(_warm_up)

    def submit(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        if self.stopped.is_set():
            raise Cancelled()
        with self._lock:
            if self._pool is None:
                self._pool = self._start()
            if self.jobs == 1:
                return self._pool.submit(self._unless_stopped, function, *args)
            return self._pool.submit(function, *args)

    def _unless_stopped(self, function: Callable[..., T], *args: Any) -> T:
        if self.stopped.is_set():
            raise Cancelled()
        return function(*args)

    def _start(self) -> concurrent.futures.Executor:
        if self.jobs == 1:
            return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="layout")
        # Ctrl-C reaches the whole process group: a worker still starting would print a KeyboardInterrupt
        # traceback. Workers ignore it; the build kills them (abort).
        with _workers_ignore_sigint():
            # spawn: fresh workers, not copies of this process and everything it holds (peak memory).
            return concurrent.futures.ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=watch_parent, initargs=(os.getpid(),),
            )

    def close(self, *, abort: bool = False) -> None:
        """Let the workers go: after the last task, or at once (``abort``: an error, Ctrl-C), when they are
        killed rather than left to finish work nobody will use."""
        if abort:
            self.stopped.set()
        with self._lock:
            pool, self._pool = self._pool, None
        for cleanup in self._at_close:
            if isinstance(pool, concurrent.futures.ThreadPoolExecutor):
                pool.submit(cleanup)
            else:
                cleanup()
        if pool is None:
            return
        if abort and isinstance(pool, concurrent.futures.ProcessPoolExecutor):
            # ProcessPoolExecutor has no public way to stop a running task before Python 3.14.
            for worker in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    worker.kill()
            # Waiting is quick once the workers are dead (the pool's thread finds it broken), and leaves no
            # thread for the interpreter's exit to wake through a pipe it may have closed (Python 3.11).
            pool.shutdown(wait=True, cancel_futures=True)
            return
        pool.shutdown(wait=not abort, cancel_futures=True)


def _warm_up() -> None:
    """A worker's first task: load the layout engine while the build is still reading and templating."""
    import weasyprint  # noqa: F401


def watch_parent(parent: int) -> None:
    """A worker's initializer: die with the build. Ctrl-C is the build's to handle (it kills the workers);
    when the build itself is killed (``kill -9``), Linux sends this process SIGKILL, and elsewhere a
    thread notices within half a second that its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the build died before the request above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Workers started in this block ignore SIGINT from their first instruction: an ignored signal stays
    ignored across exec, and Python then installs no KeyboardInterrupt handler (a blocked signal mask
    is not inherited by spawned workers). A Ctrl-C that arrives in these few milliseconds is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


def release_memory() -> None:
    """Give memory freed by a layout or an assembly back to the system.

    glibc keeps freed heap memory for reuse: a worker that laid out a big chapter, or the build after
    assembling a book with qpdf, would otherwise hold its high-water mark (~300 MB) while idle, and the
    build's peak is the sum over its processes (docs/performance.md). Elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's, among the symbols the interpreter already loaded
    except (OSError, AttributeError):
        return None
