"""A loopback HTTP server that records every request and echoes its headers back.

Used by the credential and canary tests: one instance is the target the user names,
another (another port = another origin) must never receive a credential.

- ``GET /openapi.json``: a small OpenAPI 3 spec (``/echo``, ``/redirect``), no ``servers``;
- ``/echo`` (any method): HTTP 500 with every request header in the JSON body (a failing
  endpoint that reflects credentials, the worst case for masking);
- ``/redirect``: 302 to the URL in ``?to=`` (or to ``elsewhere`` given at start);
- ``/``: an HTML page that loads an image and a script from ``elsewhere``;
- ``POST /realms/<realm>/protocol/openid-connect/token``: a Keycloak-style exchange that
  answers ``token`` (a value the test knows and Luna does not) for ``client_secret``;
- anything else: 200 with the headers echoed.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CREDENTIAL_HEADERS = ("authorization", "cookie", "x-api-key", "proxy-authorization")

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "echo", "version": "1"},
    "paths": {
        "/echo": {
            "get": {"operationId": "echo", "summary": "Echo headers, fail", "responses": {"200": {"description": "ok"}}}
        },
        "/redirect": {"get": {"operationId": "redirect", "responses": {"200": {"description": "ok"}}}},
    },
}


class EchoServer:
    """``with EchoServer(elsewhere=...) as s``: s.url, s.requests, s.credentials()."""

    def __init__(
        self, elsewhere: str | None = None, api_key_header: str = "x-api-key", token: str = "", client_secret: str = ""
    ) -> None:
        self.elsewhere = elsewhere
        self.token, self.client_secret = token, client_secret
        self.api_key_header = api_key_header.lower()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def credentials(self) -> list[tuple[str, str, str]]:
        """(path, header, value) of every credential-carrying header received."""
        names = set(CREDENTIAL_HEADERS) | {self.api_key_header}
        with self._lock:
            return [(r["path"], k, v) for r in self.requests for k, v in r["headers"].items() if k in names]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append({"method": self.command, "path": self.path, "headers": headers})
                parts = urlsplit(self.path)
                if parts.path == "/openapi.json":
                    return self._send(200, json.dumps(SPEC), "application/json")
                if parts.path.endswith("/protocol/openid-connect/token") and server.token:
                    if form.get("client_secret", [""])[0] != server.client_secret:
                        return self._send(401, '{"error": "invalid_client"}', "application/json")
                    answer = {"access_token": server.token, "expires_in": 300, "token_type": "Bearer"}
                    return self._send(200, json.dumps(answer), "application/json")
                if parts.path == "/redirect":
                    to = parse_qs(parts.query).get("to", [server.elsewhere or "/"])[0]
                    return self._send(302, "", "text/plain", {"Location": to})
                if parts.path == "/":
                    other = server.elsewhere or ""
                    page = (
                        "<!doctype html><html lang=en><head><title>echo</title></head><body><main><h1>echo</h1>"
                        f'<img src="{other}/pixel.png" alt="x"><script src="{other}/x.js"></script></main></body></html>'
                    )
                    return self._send(200, page, "text/html")
                body = json.dumps({"headers": headers, "path": self.path})
                self._send(500 if parts.path == "/echo" else 200, body, "application/json")

            def _send(self, status: int, body: str, ctype: str, extra: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        return Handler
