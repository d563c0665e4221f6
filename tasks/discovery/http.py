"""HTTP for discovery with a wall-clock deadline per request, on top of httpx.

httpx's timeouts apply to each socket operation, so a server that drips one byte at a time
keeps a request alive for ever. `deadline_client()` gives an httpx Client whose network
streams cap every read, write and connect at the time left before the deadline of the
request under way (`Deadline.start()`), and fail with httpx.ReadTimeout once it has passed.
The deadline covers the whole exchange: connecting, sending, the status line and headers,
and the body.
"""

from __future__ import annotations

import time
import typing
from typing import Any

import httpcore
import httpx

REQUEST_DEADLINE_S = 20.0  # per request, wall clock (a large spec built on first request can take seconds)
FETCH_DEADLINE_S = 30.0  # one document read by URL


class Deadline:
    """The wall-clock end of the request under way (monotonic seconds)."""

    def __init__(self, seconds: float = REQUEST_DEADLINE_S, outer: float | None = None) -> None:
        self.seconds = seconds
        self.outer = outer  # a deadline for everything (a whole probe), if any
        self.at = time.monotonic() + seconds

    def start(self) -> None:
        """A new request: `seconds` from now, but never past the outer deadline."""
        self.at = time.monotonic() + self.seconds
        if self.outer is not None:
            self.at = min(self.at, self.outer)

    def left(self, timeout: float | None) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout(f"the discovery deadline passed ({self.seconds:g} s per request)")
        return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self.inner, self.deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self.inner.read(max_bytes, self.deadline.left(timeout))
        except httpcore.ReadTimeout:
            if self.deadline.at - time.monotonic() <= 0.05:  # the socket waited out our deadline: say so
                raise httpcore.ReadTimeout(
                    f"the discovery deadline passed ({self.deadline.seconds:g} s per request)"
                ) from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, self.deadline.left(timeout)), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: Deadline) -> None:
        self.inner, self.deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.inner.connect_tcp(host, port, self.deadline.left(timeout), local_address, socket_options)
        return _Stream(stream, self.deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self.inner.connect_unix_socket(path, self.deadline.left(timeout), socket_options), self.deadline)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's own transport (request/response mapping, error mapping) over a connection
    pool whose streams keep the deadline. httpx has no option for a network backend, so
    the pool it made is replaced by the same pool with ours."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_Backend(deadline),
        )


def deadline_client(deadline: Deadline, *, read_timeout: float = 5.0) -> httpx.Client:
    """An httpx Client (no redirects followed, no proxy from the environment) whose every
    request ends by the deadline; call `deadline.start()` before each request."""
    return httpx.Client(transport=_Transport(deadline), timeout=read_timeout, follow_redirects=False, trust_env=False)
