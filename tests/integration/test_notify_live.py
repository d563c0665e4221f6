"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (http.server in a thread):
retries, backoff, Retry-After, signatures checked on the receiver side, failures that
never raise; then the Prefect tasks once under the test harness."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from luna.results import Latency, RunResult, Stats
from tasks.notify.webhooks import WebhookTarget, deliver_all, run_event, send_webhook
from tests.conftest import Demo, free_port

pytestmark = pytest.mark.integration

SECRET = "whsec-live-9f8e7d6c5b4a"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float


@dataclass
class Receiver:
    """Records every POST; answers from `script` ((status, headers, delay_s) per request),
    then with `default`. Verifies X-Luna-Signature itself, as a real receiver would."""

    url: str
    secret: str
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    default: tuple[int, dict[str, str], float] = (200, {}, 0.0)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *script: tuple[int, dict[str, str], float], default: int = 200) -> None:
        with self.lock:
            self.script = list(script)
            self.default = (default, {}, 0.0)
            self.requests.clear()

    def next_answer(self) -> tuple[int, dict[str, str], float]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def check(self, body: bytes, header: str | None) -> bool:
        if not header:
            return False
        fields = dict(part.split("=", 1) for part in header.split(","))
        expected = hmac.new(self.secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return abs(time.time() - int(fields["t"])) < 300 and hmac.compare_digest(expected, fields["v1"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    port = free_port()
    box = Receiver(url=f"http://127.0.0.1:{port}", secret=SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record = Received(
                self.path, dict(self.headers), body, box.check(body, self.headers.get("X-Luna-Signature")), time.time()
            )
            with box.lock:
                box.requests.append(record)
            status, headers, delay = box.next_answer()
            time.sleep(delay)
            payload = b'{"ok":true}' if status < 400 else b"nope"
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as http:
        yield http


def result(run_dir: Path) -> RunResult:
    return RunResult(
        run_id="20250101-000000-smoke-live",
        service="Live",
        profile="smoke",
        target="http://127.0.0.1:1",
        status="passed",
        message="ok",
        started_at=datetime(2025, 1, 1, tzinfo=UTC),
        total=Stats(requests=10, rps=1.0, latency_ms=Latency(p95=12.5), error_rate=0.0),
        run_dir=str(run_dir),
    )


def target(receiver: Receiver, path: str = "/hook", fmt: str = "json") -> WebhookTarget:
    return WebhookTarget(url=receiver.url + path, format=fmt)


def test_503_twice_then_200_retries_with_backoff_and_signs_every_attempt(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.answer((503, {}, 0.0), (503, {}, 0.0), default=200)
    started = time.monotonic()
    out = send_webhook(
        target(receiver), {"event": "run.finished"}, secret=SECRET, client=client, base_delay=0.2, max_delay=8
    )
    elapsed = time.monotonic() - started
    assert out.ok and out.status == 200 and out.attempts == 3 and out.error is None
    assert len(receiver.requests) == 3
    assert all(r.verified for r in receiver.requests)
    assert 0.3 <= elapsed < 3  # waits in [0.1, 0.2] then [0.2, 0.4]
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19
    first = receiver.requests[0]
    assert first.headers["X-Luna-Event"] == "run.finished"
    assert first.headers["User-Agent"] == "luna/0.1"
    assert first.headers["Content-Type"] == "application/json"
    assert json.loads(first.body) == {"event": "run.finished"}


def test_429_honours_retry_after(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer((429, {"Retry-After": "1"}, 0.0), default=200)
    started = time.monotonic()
    out = send_webhook(target(receiver), {}, secret=SECRET, client=client, base_delay=0.01)
    elapsed = time.monotonic() - started
    assert out.ok and out.attempts == 2
    assert 1.0 <= elapsed < 3
    assert receiver.requests[1].at - receiver.requests[0].at >= 0.95


def test_retry_after_is_capped_at_max_delay(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer((429, {"Retry-After": "60"}, 0.0), default=200)
    started = time.monotonic()
    out = send_webhook(target(receiver), {}, client=client, max_delay=0.3)
    assert out.ok and out.attempts == 2
    assert time.monotonic() - started < 2


def test_always_500_gives_up_after_attempts_without_raising(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer(default=500)
    out = send_webhook(target(receiver), {}, secret=SECRET, client=client, attempts=3, base_delay=0.05)
    assert not out.ok and out.status == 500 and out.attempts == 3
    assert out.error == "HTTP 500 Internal Server Error"
    assert len(receiver.requests) == 3


def test_other_4xx_is_not_retried(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer(default=400)
    out = send_webhook(target(receiver), {}, client=client, attempts=4, base_delay=0.05)
    assert not out.ok and out.status == 400 and out.attempts == 1
    assert out.error == "HTTP 400 Bad Request nope"
    assert len(receiver.requests) == 1
    assert "X-Luna-Signature" not in receiver.requests[0].headers  # no secret, no signature


def test_timeouts_are_retried(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer((200, {}, 1.0), default=200)
    out = send_webhook(target(receiver), {}, client=client, attempts=2, base_delay=0.05, timeout_s=0.3)
    assert out.ok and out.attempts == 2
    assert len(receiver.requests) == 2


def test_connection_refused_is_a_result_not_an_exception(client: httpx.Client) -> None:
    dead = WebhookTarget(url=f"http://127.0.0.1:{free_port()}/hook")
    started = time.monotonic()
    out = send_webhook(dead, {}, secret=SECRET, client=client, attempts=3, base_delay=0.05)
    assert not out.ok and out.status is None and out.attempts == 3
    assert out.error is not None and out.error.startswith("ConnectError")
    assert time.monotonic() - started < 5


def test_secrets_never_reach_the_result(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer(default=500)
    url = receiver.url + "/hook?token=tok-abc-123"
    out = send_webhook(WebhookTarget(url=url), {}, secret=SECRET, client=client, attempts=2, base_delay=0.01)
    dumped = out.model_dump_json() + repr(out) + str(out)
    for secret in (SECRET, "tok-abc-123"):
        assert secret not in dumped
    assert out.url.endswith("/hook?token=***")
    assert all(r.verified for r in receiver.requests)  # the secret was used, just not shown
    refused = WebhookTarget(url=f"http://127.0.0.1:{free_port()}/h?key=k-999")
    failed = send_webhook(refused, {}, secret=SECRET, client=client, attempts=1)
    assert not {"k-999", SECRET} & set(failed.model_dump_json().replace('"', " ").split())
    assert "k-999" not in failed.model_dump_json()
    # Credentials in a webhook URL are refused outright (luna/urls.py), and the error does not echo them.
    with pytest.raises(ValueError) as caught:
        WebhookTarget(url=receiver.url.replace("http://", "http://alice:pa55word@") + "/hook")
    assert "pa55word" not in str(caught.value).split("input_value")[0]


def test_deliver_all_sends_each_format(receiver: Receiver, tmp_path: Path) -> None:
    receiver.answer(default=200)
    targets = [target(receiver, "/json"), target(receiver, "/slack", "slack")]
    event = run_event(result(tmp_path), verdict="pass", links={"report": "https://r.example/x"})
    outs = deliver_all(targets, event, SECRET, attempts=1)
    assert [o.ok for o in outs] == [True, True]
    assert outs[1].url == f"{receiver.url}/slack"  # one segment: nothing to hide
    sent = {r.path: json.loads(r.body) for r in receiver.requests}
    assert sent["/json"]["verdict"] == "pass" and sent["/json"]["totals"]["p95_ms"] == 12.5
    assert sent["/json"]["links"] == {"report": "https://r.example/x"}
    assert set(sent["/slack"]) == {"text", "blocks"} and "12.5 ms" in sent["/slack"]["blocks"][0]["text"]["text"]
    assert all(r.verified for r in receiver.requests)


# ---- the Prefect tasks, once, under the harness ------------------------------------------


@pytest.fixture(scope="session")
def notify_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_prefect_tasks_log_and_never_fail_the_run(
    notify_harness: None, receiver: Receiver, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    from luna.errors import ConfigError
    from luna.settings import load_settings
    from tasks.notify.hooks import HookContext, HookError, HookOutcome
    from tasks.notify.tasks import notify_webhooks, run_hooks
    from tasks.notify.webhooks import DeliveryResult

    monkeypatch.chdir(clean_env)
    receiver.answer(default=200)
    dead = f"http://127.0.0.1:{free_port()}/gone"
    monkeypatch.setenv("LUNA_WEBHOOK_URLS", f"{receiver.url}/ok,slack+{receiver.url}/services/T/B/tok,{dead}")
    monkeypatch.setenv("LUNA_WEBHOOK_SECRET", SECRET)
    hooks = clean_env / "hooks"
    hooks.mkdir()
    (hooks / "ok.py").write_text(  # the run logger works inside a hook's thread
        "from prefect import get_run_logger\n\n"
        "def on_run_finish(context):\n    get_run_logger().info('hook saw %s', context.run_id)\n"
    )
    (hooks / "bad.py").write_text("def on_run_finish(context):\n    raise ValueError('bad hook')\n")
    run_dir = clean_env / "run"
    run_dir.mkdir()
    run = result(run_dir)

    @flow
    def notify(strict: bool) -> tuple[list[DeliveryResult], list[HookOutcome]]:
        settings = load_settings()  # what a flow does once, at its start
        outcomes = run_hooks("finish", HookContext.at_finish(run), settings, folder=str(hooks), strict=strict)
        deliveries = notify_webhooks(run_event(run), settings)
        return deliveries, outcomes

    state = notify(False, return_state=True)
    assert state.is_completed(), state.message
    deliveries, outcomes = state.result()
    assert [d.ok for d in deliveries] == [True, True, False]
    assert deliveries[1].url == f"{receiver.url}/services/***"
    assert deliveries[2].attempts == 4 and deliveries[2].error and deliveries[2].error.startswith("ConnectError")
    assert {o.name: o.ok for o in outcomes} == {"bad": False, "ok": True}
    assert all(r.verified for r in receiver.requests) and len(receiver.requests) == 2
    links = json.loads(next(r.body for r in receiver.requests if r.path == "/ok"))["links"]
    assert links["prefect"].endswith(f"/runs/flow-run/{state.state_details.flow_run_id}")

    failed = notify(True, return_state=True)
    assert failed.is_failed()
    with pytest.raises(HookError, match="bad hook"):
        failed.result()

    monkeypatch.setenv("LUNA_HOOKS_DIR", str(clean_env / "nope"))

    @flow
    def missing_dir() -> list[HookOutcome]:
        return run_hooks("start", HookContext(run_id="r", run_dir=str(run_dir), phase="start"), load_settings())

    with pytest.raises(ConfigError, match="LUNA_HOOKS_DIR"):
        missing_dir()


def test_load_test_flow_notifies_once_per_run_whatever_the_end(
    notify_harness: None, receiver: Receiver, demo: Demo, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams
    from tests.conftest import write_catalog

    monkeypatch.chdir(clean_env)
    monkeypatch.setenv("LUNA_WEBHOOK_URLS", f"{receiver.url}/runs")
    monkeypatch.setenv("LUNA_WEBHOOK_SECRET", SECRET)
    catalog = write_catalog(clean_env / "e.json", [{"name": "Boom", "group": "g", "path": "/api/always500"}])

    receiver.answer(default=200)
    failed = load_test(LoadTestParams(target=demo.url, config=str(catalog), smoke_duration="1s"), return_state=True)
    assert failed.is_failed()
    (sent,) = receiver.requests  # the verdict's notification only, not a second one from the failure hook
    payload = json.loads(sent.body)
    assert sent.verified and payload["verdict"] == "fail" and payload["status"] == "failed"

    receiver.answer(default=200)
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = load_test(LoadTestParams(target=dead, config=str(catalog)), return_state=True)
    assert unreachable.is_failed()
    (sent,) = receiver.requests
    payload = json.loads(sent.body)
    assert sent.verified and payload["status"] == "error" and "target unreachable" in payload["message"]
