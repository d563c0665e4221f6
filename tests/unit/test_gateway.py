"""The webhook gateway over HTTP (ASGI): signatures, replays, size limit, event mapping.

The app gets a recording emitter (its `emit` argument) in place of Prefect; the real
Prefect path is tests/e2e/test_webhook_trigger.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from app.gateway.app import create_app
from app.gateway.events import LunaEvent
from app.gateway.verify import ReplayCache
from luna.errors import ConfigError
from luna.gateway_settings import ENV_NAMES, GatewaySettings, load_gateway_settings
from tasks.notify.webhooks import sign

pytestmark = pytest.mark.unit

with warnings.catch_warnings():  # Starlette's note about httpx; the client works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
DATA = Path(__file__).parent / "data" / "webhooks"
GENERIC, GITHUB, GITLAB = "generic-secret-value", "github-secret-value", "gitlab-token-value"


class Recorder:
    def __init__(self) -> None:
        self.events: list[LunaEvent] = []
        self.down = False

    async def __call__(self, event: LunaEvent) -> None:
        if self.down:
            raise ConnectionError("prefect down")
        self.events.append(event)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def make_client(recorder: Recorder, **overrides: Any) -> TestClient:
    values: dict[str, Any] = {
        "generic_secret": GENERIC,
        "github_secret": GITHUB,
        "gitlab_token": GITLAB,
        "default_target": "http://127.0.0.1:9/default",
        **overrides,
    }
    return TestClient(create_app(GatewaySettings(**values), emit=recorder))


@pytest.fixture
def client(recorder: Recorder, clean_env: Path) -> TestClient:
    return make_client(recorder)


def generic_post(
    client: TestClient, body: dict[str, Any] | bytes, *, t: int | None = None, secret: str = GENERIC
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = sign(raw, secret, int(time.time()) if t is None else t)
    return client.post("/webhooks/generic", content=raw, headers={"X-Luna-Signature": header})


def github_post(client: TestClient, event: str, body: dict[str, Any], delivery: str, secret: str = GITHUB) -> Any:
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    return client.post("/webhooks/github", content=raw, headers={**headers, "Content-Type": "application/json"})


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / name).read_text(encoding="utf-8")))


# ---- generic ----------------------------------------------------------------------------


def test_generic_signed_post_emits_one_event(client: TestClient, recorder: Recorder) -> None:
    body = {"target": "http://127.0.0.1:8787", "commit": "abc123", "environment": "staging", "service": "shop"}
    response = generic_post(client, body)
    assert response.status_code == 202, response.text
    [event] = recorder.events
    assert event.event == "luna.webhook.generic.deploy"
    assert event.resource["prefect.resource.id"] == "luna.service.shop"
    assert event.payload["target"] == "http://127.0.0.1:8787" and event.payload["commit"] == "abc123"
    assert event.payload["environment"] == "staging" and event.payload["profile"] is None
    assert response.json()["id"] == str(event.id)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Luna-Signature": "t=1,v1=00"}, {"X-Luna-Signature": "garbage"}],
    ids=["missing", "wrong", "malformed"],
)
def test_generic_without_a_valid_signature_is_401_and_emits_nothing(
    client: TestClient, recorder: Recorder, headers: dict[str, str]
) -> None:
    response = client.post("/webhooks/generic", content=b'{"target": "http://127.0.0.1:1"}', headers=headers)
    assert response.status_code == 401 and recorder.events == []
    assert GENERIC not in response.text


def test_generic_signed_with_another_secret_is_401(client: TestClient, recorder: Recorder) -> None:
    assert generic_post(client, {"target": "http://127.0.0.1:1"}, secret="not-the-secret").status_code == 401
    assert recorder.events == []


def test_generic_tampered_body_is_401(client: TestClient, recorder: Recorder) -> None:
    raw = b'{"target": "http://127.0.0.1:1"}'
    header = sign(raw, GENERIC, int(time.time()))
    response = client.post(
        "/webhooks/generic", content=raw.replace(b':1"', b':2"'), headers={"X-Luna-Signature": header}
    )
    assert response.status_code == 401 and recorder.events == []


def test_generic_replay_and_stale_timestamp_are_rejected(client: TestClient, recorder: Recorder) -> None:
    raw = json.dumps({"target": "http://127.0.0.1:1"}).encode()
    header = sign(raw, GENERIC, int(time.time()))
    first = client.post("/webhooks/generic", content=raw, headers={"X-Luna-Signature": header})
    again = client.post("/webhooks/generic", content=raw, headers={"X-Luna-Signature": header})
    assert (first.status_code, again.status_code) == (202, 409)
    stale = generic_post(client, {"target": "http://127.0.0.1:1"}, t=int(time.time()) - 301)
    future = generic_post(client, {"target": "http://127.0.0.1:1"}, t=int(time.time()) + 301)
    assert (stale.status_code, future.status_code) == (401, 401) and "clock" in stale.json()["error"]
    assert len(recorder.events) == 1


def test_oversized_body_is_413_before_anything_else(recorder: Recorder, clean_env: Path) -> None:
    client = make_client(recorder, max_body_bytes=1024)
    big = json.dumps({"target": "http://127.0.0.1:1", "pad": "x" * 2000}).encode()
    assert generic_post(client, big).status_code == 413
    assert client.post("/webhooks/generic", content=big).status_code == 413  # unsigned too: size first

    def chunks() -> Any:  # no Content-Length: counted while streaming
        yield big[:1000]
        yield big[1000:]

    assert client.post("/webhooks/generic", content=chunks()).status_code == 413
    assert recorder.events == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"commit": "x"}, "no target"),
        ({"target": "ftp://x"}, "not an http(s) URL"),
        ({"target": "http://127.0.0.1:1", "profile": "huge"}, "body.profile"),
        ({"target": "http://127.0.0.1:1", "commit": 5}, "body.commit must be a string"),
        ({"target": "http://127.0.0.1:1", "event": "Bad Kind!"}, "body.event"),
    ],
)
def test_generic_bad_payloads_are_422_with_the_field_named(
    recorder: Recorder, clean_env: Path, body: dict[str, Any], fragment: str
) -> None:
    client = make_client(recorder, default_target=None)
    response = generic_post(client, body)
    assert response.status_code == 422 and fragment in response.json()["error"]
    assert recorder.events == []


def test_signed_non_json_is_400(client: TestClient, recorder: Recorder) -> None:
    assert generic_post(client, b"not json").status_code == 400 and recorder.events == []


def test_allowed_hosts_limit_where_load_may_go(recorder: Recorder, clean_env: Path) -> None:
    client = make_client(recorder, allowed_hosts="127.0.0.1, localhost")
    assert generic_post(client, {"target": "http://localhost:8080"}).status_code == 202
    refused = generic_post(client, {"target": "http://10.0.0.7"})
    assert refused.status_code == 422 and "LUNA_WEBHOOK_ALLOWED_HOSTS" in refused.json()["error"]
    assert len(recorder.events) == 1


def test_prefect_down_is_502_and_the_retry_is_accepted(client: TestClient, recorder: Recorder) -> None:
    recorder.down = True
    payload = fixture("github-deployment_status.json")
    assert github_post(client, "deployment_status", payload, "d-502").status_code == 502
    recorder.down = False
    assert github_post(client, "deployment_status", payload, "d-502").status_code == 202  # same delivery id, retried
    assert len(recorder.events) == 1


# ---- GitHub -------------------------------------------------------------------------------


def test_github_deployment_status_success_maps_url_commit_environment(client: TestClient, recorder: Recorder) -> None:
    response = github_post(client, "deployment_status", fixture("github-deployment_status.json"), "d-1")
    assert response.status_code == 202, response.text
    [event] = recorder.events
    assert event.event == "luna.webhook.github.deployment_status"
    assert event.resource["prefect.resource.id"] == "luna.service.octo-org/shop"
    p = event.payload
    assert (p["target"], p["commit"], p["environment"]) == (
        "http://127.0.0.1:8787",
        "9f2c1e7d8b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e",
        "staging",
    )
    assert p["delivery"] == "d-1" and p["sender"] == "octocat"


def test_github_same_delivery_twice_is_409(client: TestClient, recorder: Recorder) -> None:
    body = fixture("github-deployment_status.json")
    assert github_post(client, "deployment_status", body, "d-2").status_code == 202
    assert github_post(client, "deployment_status", body, "d-2").status_code == 409
    assert len(recorder.events) == 1


def test_github_wrong_or_missing_signature_is_401(client: TestClient, recorder: Recorder) -> None:
    body = fixture("github-deployment_status.json")
    assert github_post(client, "deployment_status", body, "d-3", secret="wrong").status_code == 401
    raw = json.dumps(body).encode()
    unsigned = client.post(
        "/webhooks/github", content=raw, headers={"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-4"}
    )
    assert unsigned.status_code == 401 and recorder.events == []


def test_github_pending_deployment_and_ping_start_nothing(client: TestClient, recorder: Recorder) -> None:
    pending = fixture("github-deployment_status.json")
    pending["deployment_status"]["state"] = "pending"
    response = github_post(client, "deployment_status", pending, "d-5")
    assert response.status_code == 200 and "pending" in response.json()["ignored"]
    assert github_post(client, "ping", {"zen": "hi"}, "d-6").json()["ignored"].startswith("pong")
    assert github_post(client, "issues", {"action": "opened"}, "d-7").status_code == 200
    assert recorder.events == []


def test_github_push_uses_the_default_target(client: TestClient, recorder: Recorder) -> None:
    response = github_post(client, "push", fixture("github-push.json"), "d-8")
    assert response.status_code == 202, response.text
    [event] = recorder.events
    assert event.event == "luna.webhook.github.push"
    assert event.payload["target"] == "http://127.0.0.1:9/default"
    assert event.payload["commit"] == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert event.payload["ref"] == "refs/heads/main"


def test_github_form_encoded_payload(client: TestClient, recorder: Recorder) -> None:
    from urllib.parse import urlencode

    raw = urlencode({"payload": json.dumps(fixture("github-push.json"))}).encode()
    signature = "sha256=" + hmac.new(GITHUB.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-9",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert client.post("/webhooks/github", content=raw, headers=headers).status_code == 202
    assert recorder.events[0].payload["ref"] == "refs/heads/main"


# ---- GitLab ---------------------------------------------------------------------------------


def gitlab_post(client: TestClient, body: dict[str, Any], token: str | None = GITLAB, uuid: str | None = None) -> Any:
    headers = {"X-Gitlab-Event": "Pipeline Hook"}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    if uuid:
        headers["X-Gitlab-Event-UUID"] = uuid
    return client.post("/webhooks/gitlab", content=json.dumps(body).encode(), headers=headers)


def test_gitlab_successful_pipeline_maps_variables(client: TestClient, recorder: Recorder) -> None:
    response = gitlab_post(client, fixture("gitlab-pipeline.json"), uuid="g-1")
    assert response.status_code == 202, response.text
    [event] = recorder.events
    assert event.event == "luna.webhook.gitlab.pipeline"
    assert event.resource["prefect.resource.id"] == "luna.service.group/shop"
    p = event.payload
    assert (p["target"], p["commit"], p["ref"], p["environment"]) == (
        "http://127.0.0.1:8787",
        "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "main",
        "staging",
    )


def test_gitlab_token_missing_or_wrong_is_401(client: TestClient, recorder: Recorder) -> None:
    body = fixture("gitlab-pipeline.json")
    assert gitlab_post(client, body, token=None).status_code == 401
    assert gitlab_post(client, body, token="gitlab-token-valuX").status_code == 401
    assert recorder.events == []


def test_gitlab_replay_by_uuid_or_identical_body(client: TestClient, recorder: Recorder) -> None:
    body = fixture("gitlab-pipeline.json")
    assert gitlab_post(client, body, uuid="g-2").status_code == 202
    assert gitlab_post(client, body, uuid="g-2").status_code == 409
    assert gitlab_post(client, body).status_code == 202  # no uuid: keyed by the body
    assert gitlab_post(client, body).status_code == 409
    assert len(recorder.events) == 2


def test_gitlab_failed_pipeline_starts_nothing(client: TestClient, recorder: Recorder) -> None:
    body = fixture("gitlab-pipeline.json")
    body["object_attributes"]["status"] = "failed"
    response = gitlab_post(client, body, uuid="g-3")
    assert response.status_code == 200 and "failed" in response.json()["ignored"] and recorder.events == []


# ---- settings and health ----------------------------------------------------------------------


def test_disabled_source_is_404_naming_the_variable(recorder: Recorder, clean_env: Path) -> None:
    client = make_client(recorder, gitlab_token=None)
    response = gitlab_post(client, fixture("gitlab-pipeline.json"))
    assert response.status_code == 404 and "LUNA_WEBHOOK_GITLAB_TOKEN" in response.json()["error"]
    assert client.get("/healthz").json() == {"ok": True, "sources": ["generic", "github"]}


def test_settings_need_a_secret_and_name_bad_variables(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no secret configured"):
        load_gateway_settings()
    monkeypatch.setenv("LUNA_WEBHOOK_GITHUB_SECRET", "s3cret-value")
    monkeypatch.setenv("LUNA_WEBHOOK_DEFAULT_TARGET", "not a url")
    with pytest.raises(ConfigError, match="LUNA_WEBHOOK_DEFAULT_TARGET") as info:
        load_gateway_settings()
    assert "s3cret-value" not in info.value.one_line()
    monkeypatch.setenv("LUNA_WEBHOOK_DEFAULT_TARGET", "http://127.0.0.1:1")
    settings = load_gateway_settings()
    assert settings.enabled_sources() == ["github"] and "s3cret-value" not in repr(settings)
    assert "LUNA_WEBHOOK_GITHUB_SECRET" in ENV_NAMES


def test_replay_cache_expires_and_is_bounded() -> None:
    cache = ReplayCache(ttl_s=10, max_entries=3)
    assert cache.claim("a", now=0) and not cache.claim("a", now=5)
    assert cache.claim("a", now=11)  # expired
    for key in "bcd":
        cache.claim(key, now=12)
    assert len(cache) == 3 and cache.claim("a", now=12)  # "a" was evicted as the oldest


def test_serve_command_refuses_to_start_without_a_secret_or_a_prefect_server(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli.main import main
    from tests.conftest import free_port

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert main(["webhook", "serve"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "luna: config error: the webhook gateway has no secret configured, so it would accept nothing. "
        "Tip: set at least one of LUNA_WEBHOOK_GENERIC_SECRET, LUNA_WEBHOOK_GITHUB_SECRET, LUNA_WEBHOOK_GITLAB_TOKEN"
    ]
    monkeypatch.setenv("LUNA_WEBHOOK_GITHUB_SECRET", "s3cret-value")
    monkeypatch.setenv("LUNA_PREFECT_PORT", str(free_port()))  # nothing listens there
    assert main(["webhook", "serve"]) == 2
    err = capsys.readouterr().err
    assert "needs a running Prefect server" in err and "s3cret-value" not in err and len(err.splitlines()) == 1
