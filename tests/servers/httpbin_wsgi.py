"""httpbin 0.10.0 as gunicorn serves it in the conformance suite.

httpbin's `/bytes/{n}`, `/stream-bytes/{n}` and `/range/{n}` hand the WSGI server `bytearray`
chunks. PEP 3333 asks for `bytes`; werkzeug's development server does not mind, gunicorn 23
refuses them mid-response (the client sees the connection close: "unexpected EOF"). This
wrapper converts each chunk and changes nothing else, so those endpoints answer as httpbin
means them to: `gunicorn --pythonpath tests/servers httpbin_wsgi:app` (httpbin itself
installs a top-level `tests` package, so this module is imported by its own name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from httpbin import app as httpbin_app


class _Bytes:
    def __init__(self, body: Iterable[Any]) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            yield bytes(chunk)

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> _Bytes:
    return _Bytes(httpbin_app(environ, start_response))
