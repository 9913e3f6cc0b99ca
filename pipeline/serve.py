"""``handbook serve``: the HTML copy on 127.0.0.1, rebuilt when the content or the templates change.

The build itself is the caller's (the CLI passes it in): this module watches the folders, runs the
build when a file changed (the cache keeps it to what changed: formulas, fonts and images come back
from it), serves the last good copy, and tells the open page through a small polling script that
only the server adds: the page reloads after a rebuild, and shows the error when the content has one.
The server keeps running through errors.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .diagnostics import ContentError, HandbookError

HOST = "127.0.0.1"
STATUS_PATH = "/__handbook/status"
CLIENT_PATH = "/__handbook/reload.js"
POLL_SECONDS = 0.4

# Added before </head> of every page served, never written into the folder.
CLIENT = """\
(function () {
  "use strict";
  var seen = null;
  function show(error) {
    var box = document.getElementById("handbook-serve-error");
    if (!error) { if (box) { box.remove(); } return; }
    if (!box) {
      box = document.createElementNS("http://www.w3.org/1999/xhtml", "pre");
      box.id = "handbook-serve-error";
      box.setAttribute("style", "position:fixed;left:0;right:0;bottom:0;max-height:50vh;overflow:auto;margin:0;"
        + "padding:1em;background:#3b0a0a;color:#ffdede;font:13px/1.5 monospace;white-space:pre-wrap;z-index:99");
      document.body.appendChild(box);
    }
    box.textContent = error;
  }
  function poll() {
    fetch("STATUS_PATH", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      if (seen !== null && s.version !== seen) { window.location.reload(); return; }
      seen = s.version;
      show(s.error);
    }).catch(function () { /* the server restarts: try again */ }).then(function () {
      window.setTimeout(poll, 700);
    });
  }
  poll();
})();
""".replace("STATUS_PATH", STATUS_PATH)


@dataclass(slots=True)
class State:
    """What the page polls: the build's number (a new one reloads it) and the last error, if any."""

    version: int = 0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def as_json(self) -> bytes:
        with self.lock:
            return json.dumps({"version": self.version, "error": self.error}, ensure_ascii=False).encode("utf-8")


def snapshot(folders: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """Every file under ``folders`` with its modification time and size (what a change changes)."""
    found: dict[Path, tuple[int, int]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            try:
                stat = path.stat()
            except OSError:
                continue
            if path.is_file():
                found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def rebuild(build: Callable[[], object], state: State, report: Callable[[str], None]) -> None:
    """Run ``build``; on success count a new version, on failure keep serving the last good copy."""
    started = time.monotonic()
    error: str | None
    try:
        build()
    except ContentError as exc:
        error = "\n".join(str(d) for d in exc.diagnostics) or str(exc)
    except HandbookError as exc:
        error = str(exc)
    except Exception:  # a bug must not stop the server: show it and keep watching
        error = traceback.format_exc()
    else:
        error = None
    with state.lock:
        state.error = error
        if error is None:
            state.version += 1
    if error is None:
        report(f"rebuilt in {time.monotonic() - started:.1f} s")
    else:
        report(f"build failed (the last good copy is still served):\n{error}")


_TYPES = {".xhtml": "application/xhtml+xml", ".js": "text/javascript", ".woff2": "font/woff2", ".svg": "image/svg+xml"}


def handler(site: Path, state: State) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def guess_type(self, path: str | os.PathLike[str]) -> str:
            return _TYPES.get(Path(path).suffix.lower()) or super().guess_type(path)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(site), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # the base class's parameter name
            pass  # one line per request drowns the build's messages

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == STATUS_PATH:
                self._send(state.as_json(), "application/json")
            elif path == CLIENT_PATH:
                self._send(CLIENT.encode("utf-8"), "text/javascript")
            elif path.endswith(".xhtml") or path == "/":
                target = site / ("index.xhtml" if path == "/" else path.lstrip("/"))
                try:
                    data = target.resolve().read_bytes() if target.resolve().is_relative_to(site.resolve()) else None
                except OSError:
                    data = None
                if data is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                # The one thing the server adds: its reload script, before the page's own </head>.
                data = data.replace(b"</head>", f'<script src="{CLIENT_PATH}"></script>\n</head>'.encode(), 1)
                self._send(data, "application/xhtml+xml")
            else:
                super().do_GET()

        def _send(self, data: bytes, content_type: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def serve(
    *, site: Path, watched: Iterable[Path], build: Callable[[], object], port: int,
    report: Callable[[str], None], stop: threading.Event | None = None,
) -> None:
    """Build, serve ``site`` on 127.0.0.1:``port`` and rebuild whenever a file under ``watched`` changes,
    until ``stop`` is set (or forever).

    :param site: the HTML folder the build writes.
    :param watched: the content folder and the templates.
    :param build: one build of the HTML copy; raises ContentError when the content has errors.
    :param report: where the terminal lines go.
    """
    folders = [Path(p) for p in watched]
    state = State()
    stop = stop or threading.Event()
    before = snapshot(folders)
    rebuild(build, state, report)
    site.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((HOST, port), handler(site, state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    report(f"serving http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        while not stop.wait(POLL_SECONDS):
            now = snapshot(folders)
            if now != before:
                changed = sorted({p for p in now.keys() | before.keys() if now.get(p) != before.get(p)})
                report("changed: " + ", ".join(p.name for p in changed[:5]) + (" …" if len(changed) > 5 else ""))
                before = now
                rebuild(build, state, report)
    finally:
        server.shutdown()
        server.server_close()
