"""The results folder over HTTP, read-only, on loopback: the links in Luna's artifacts.

Files only: no directory listings, no dot files, GET and HEAD only (the standard
library's handler refuses every other method with 501).
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

TYPES = {".md": "text/markdown; charset=utf-8", ".jsonl": "application/x-ndjson", ".log": "text/plain; charset=utf-8"}


class ResultsHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def send_head(self) -> Any:
        parts = unquote(urlsplit(self.path).path).split("/")
        if any(part.startswith(".") for part in parts if part):
            self.send_error(404, "not found")
            return None
        if Path(self.translate_path(self.path)).is_dir():
            self.send_error(404, "no listing: open a file of a run folder")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


def results_server(out_dir: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for `out_dir`; raises OSError if the port is taken."""
    handler = functools.partial(ResultsHandler, directory=str(out_dir))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
