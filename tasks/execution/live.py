"""k6's live web dashboard during a run, behind a small loopback proxy of Luna's.

k6 serves its dashboard on K6_WEB_DASHBOARD_PORT, and then does not exit while a browser
tab still holds its event stream (k6's documented behaviour; measured: a run of 4 s ended
only when the client left, 40 s later). A flow must not hang on a forgotten tab, so Luna
gives k6 a private loopback port and serves the dashboard to the user through this proxy,
which ends every event stream when k6 sends its `stop` event and refuses new ones after
that, so k6 exits as soon as the test ends. The proxy closes with the run: the URL answers
during the run and is gone after it.

On whenever k6's dashboard is (LUNA_K6_DASHBOARD=true; LUNA_LIVE_DASHBOARD=false keeps only
its export): the dashboard is off by default because it keeps every duration sample in k6's
memory until the end (tasks/execution/series.py), so the live view of a default run is
Grafana over InfluxDB, and Prefect's run log with k6's progress. Sharded runs have none
(each shard sees a part of the load).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from luna.settings import LunaSettings

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveDashboard:
    """The proxy for one run: `url` for the user, `k6_env` for k6's process."""

    def __init__(self, port: int) -> None:
        self.k6_port = free_port()
        self.ended = threading.Event()
        self.streams: set[Any] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-dashboard", daemon=True)

    @property
    def k6_env(self) -> dict[str, str]:
        return {"K6_WEB_DASHBOARD_HOST": "127.0.0.1", "K6_WEB_DASHBOARD_PORT": str(self.k6_port)}

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.k6_port}"

    def close(self) -> None:
        """End the event streams (k6 may exit) and stop answering."""
        self.ended.set()
        with self.lock:
            for stream in list(self.streams):
                with contextlib.suppress(OSError):
                    stream.close()
        self.server.shutdown()
        self.server.server_close()


def _handler(live: LiveDashboard) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the run log has k6's lines
            pass

        def do_GET(self) -> None:
            events = self.path.split("?")[0].rstrip("/").endswith("/events")
            if events and live.ended.is_set():
                self._plain(204, "")  # the test has ended: an EventSource stops reconnecting on 204
                return
            try:
                with httpx.stream("GET", live.upstream + self.path, timeout=httpx.Timeout(10, read=None)) as up:
                    self.send_response(up.status_code)
                    for name, value in up.headers.items():
                        if name.lower() not in HOP_HEADERS:
                            self.send_header(name, value)
                    if events:
                        self._events(up)
                    else:
                        body = up.read()
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
            except httpx.HTTPError:
                self._plain(503, "k6 is not serving its dashboard (starting, or the run has ended)\n")
            except OSError:
                pass  # the browser went away

        def _events(self, up: httpx.Response) -> None:
            """Relay the event stream; end it after k6's `stop` event."""
            self.send_header("Connection", "close")
            self.end_headers()
            with live.lock:
                live.streams.add(up)
            try:
                stopping = False
                for line in up.iter_lines():
                    self.wfile.write(line.encode("utf-8") + b"\n")
                    self.wfile.flush()
                    stopping = stopping or line.startswith("event: stop")
                    if stopping and line == "":
                        live.ended.set()
                        break
            finally:
                with live.lock:
                    live.streams.discard(up)
                self.close_connection = True

        def _plain(self, code: int, text: str) -> None:
            body = text.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Proxy


@contextlib.contextmanager
def live_dashboard(settings: LunaSettings) -> Iterator[LiveDashboard | None]:
    """The run's live dashboard (None when LUNA_LIVE_DASHBOARD is off); closed on exit."""
    if not (settings.luna_k6_dashboard and settings.luna_live_dashboard):
        yield None
        return
    live = LiveDashboard(settings.luna_live_dashboard_port)
    live.thread.start()
    try:
        yield live
    finally:
        live.close()
