"""A local HTTP server that speaks the Anthropic Messages API wire format.

The only fake in Luna's tests: Claude cannot be reached from the test machines, so the
real `anthropic` SDK talks to this server through VISUAL_QA_AI_BASE_URL. It implements
`POST /v1/messages` (x-api-key checked, JSON errors in the API's shape, `request-id`
header), answers with a `tool_use` block for the requested tool plus a `usage` object, and
records every request (headers, body, decoded image sizes, arrival time) so tests can
check what each persona sent.

Prompt caching is simulated: a request whose blocks up to the last `cache_control` mark
(with the tools and system prompt) were seen before reports those tokens as
`cache_read_input_tokens`, else as `cache_creation_input_tokens` (from 1,024 tokens up).

Behaviours, chosen per request by a marker found in its prompt text (see `rules`):
`ok` (default), `rate_limit_once` (429 with retry-after, then ok), `server_error_once`
(529 overloaded, then ok), `refusal` (stop_reason refusal, no tool call), `text_only`
(a plain text answer), `bad_input` (tool input of the wrong shape), `not_json` (a 200
with a body that is not JSON), `always_429`.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-ant-test-fake-key-0000"
CACHE_MIN_TOKENS = 1024  # the API's minimum cacheable prompt for Sonnet and Opus


@dataclass
class Recorded:
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    images: list[tuple[int, int]] = field(default_factory=list)  # (width, height) of each PNG
    status: int = 200

    @property
    def system(self) -> str:
        return str(self.body.get("system", ""))

    def texts(self) -> list[str]:
        return [b["text"] for m in self.body["messages"] for b in m["content"] if b.get("type") == "text"]

    @property
    def prompt(self) -> str:
        """The system prompt and every text block, in order."""
        return "\n".join([self.system, *self.texts()])

    def asks_as(self, name: str) -> bool:
        """Whether this request is the persona called `name` ("You are <name>.")."""
        return f"You are {name}." in self.prompt


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class FakeAnthropic:
    def __init__(self, latency_s: float = 0.0, api_key: str = API_KEY) -> None:
        self.latency_s = latency_s
        self.api_key = api_key
        self.rules: dict[str, str] = {}  # marker in the system prompt -> behaviour
        self.requests: list[Recorded] = []
        self._fired: set[str] = set()
        self._cache: set[str] = set()  # prompt-cache prefixes written
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # ---- the wire format -------------------------------------------------------------

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("request-id", f"req_{secrets.token_hex(8)}")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    @staticmethod
    def _error(kind: str, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", 0))
        payload = h.rfile.read(length)
        if h.path.split("?")[0] != "/v1/messages":
            self._send(h, 404, self._error("not_found_error", f"no route {h.path}"))
            return
        try:
            body = json.loads(payload)
        except json.JSONDecodeError:
            self._send(h, 400, self._error("invalid_request_error", "body is not JSON"))
            return
        record = Recorded(headers={k.lower(): v for k, v in h.headers.items()}, body=body, at=time.monotonic())
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(h, record)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, h: BaseHTTPRequestHandler, record: Recorded) -> None:
        body = record.body
        if record.headers.get("x-api-key") != self.api_key:
            record.status = 401
            self._send(h, 401, self._error("authentication_error", "invalid x-api-key"))
            return
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                record.status = 400
                self._send(h, 400, self._error("invalid_request_error", f"{key}: Field required"))
                return
        for message in body["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else []:
                if block.get("type") == "image":
                    record.images.append(png_size(base64.b64decode(block["source"]["data"])))
        behaviour = "ok"
        for marker, rule in self.rules.items():
            if marker in record.prompt:
                behaviour = rule
                break
        if behaviour.endswith("_once"):
            with self._lock:
                first = record.prompt not in self._fired
                self._fired.add(record.prompt)
            behaviour = behaviour if first else "ok"
        if behaviour in ("rate_limit_once", "always_429"):
            record.status = 429
            self._send(h, 429, self._error("rate_limit_error", "rate limited"), {"retry-after": "1"})
            return
        if behaviour == "server_error_once":
            record.status = 529
            self._send(h, 529, self._error("overloaded_error", "Overloaded"))
            return
        if self.latency_s:
            time.sleep(self.latency_s)
        if behaviour == "not_json":
            self._send(h, 200, b"<html>proxy error</html>")
            return
        tool = (body.get("tools") or [{}])[0].get("name", "report_findings")
        content: list[dict[str, Any]]
        stop = "tool_use"
        if behaviour == "refusal":
            content, stop = [], "refusal"
        elif behaviour == "text_only":
            content, stop = [{"type": "text", "text": "The page looks fine to me."}], "end_turn"
        elif behaviour == "bad_input":
            content = [
                {"type": "tool_use", "id": "toolu_bad", "name": tool, "input": {"findings": [{"severity": "urgent"}]}}
            ]
        else:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{secrets.token_hex(6)}",
                    "name": tool,
                    "input": self.findings(record),
                }
            ]
        total, cached, prefix_key = self._tokens(body)
        created = read = 0
        if prefix_key is not None and cached >= CACHE_MIN_TOKENS:
            with self._lock:
                if prefix_key in self._cache:
                    read = cached
                else:
                    created = cached
                    self._cache.add(prefix_key)  # the fake's answer is complete once written
        answer = {
            "id": f"msg_{secrets.token_hex(8)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": total - created - read,
                "output_tokens": 120,
                "cache_creation_input_tokens": created,
                "cache_read_input_tokens": read,
            },
        }
        self._send(h, 200, answer)

    @staticmethod
    def _tokens(body: dict[str, Any]) -> tuple[int, int, str | None]:
        """(all input tokens, tokens up to the last cache_control block, that prefix's key).
        Text counts 1 token per 4 characters, an image width x height / 750 (as the API
        documents, after scaling the long edge to 1568 px)."""

        def count(block: dict[str, Any]) -> int:
            if block.get("type") == "image":
                w, h = png_size(base64.b64decode(block["source"]["data"]))
                scale = min(1.0, 1568 / max(w, h))
                return int(w * scale * h * scale) // 750
            return len(str(block.get("text", ""))) // 4

        blocks = [b for m in body["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])]
        head = len(json.dumps(body.get("tools", []))) // 4 + len(str(body.get("system", ""))) // 4
        total, cached, key = head + sum(count(b) for b in blocks), 0, None
        marked = [i for i, b in enumerate(blocks) if "cache_control" in b]
        if marked:
            prefix = blocks[: marked[-1] + 1]
            cached = head + sum(count(b) for b in prefix)
            key = json.dumps([body.get("model"), body.get("tools"), body.get("system"), prefix], sort_keys=True)
        return total, cached, key

    def findings(self, record: Recorded) -> dict[str, Any]:
        """The default answer: one finding that echoes who asked and how many images came."""
        who = record.texts()[-1].split(".")[0].removeprefix("You are ").strip()
        return {
            "findings": [
                {
                    "severity": "medium",
                    "category": "layout",
                    "description": f"{who} saw {len(record.images)} screenshots",
                    "location": "header",
                    "suggestion": "tighten the spacing",
                }
            ]
        }
