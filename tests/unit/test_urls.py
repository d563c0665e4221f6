"""The one URL validator (luna/urls.py) and where it is used: the webhook gateway's
allow-list, the settings that hold URLs, and the targets of every runner."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from app.gateway.app import create_app
from app.gateway.events import LunaEvent
from luna.errors import ConfigError
from luna.gateway_settings import GatewaySettings
from luna.settings import load_settings
from luna.urls import UrlRejected, is_loopback, same_origin, web_url
from tasks.notify.webhooks import sign

pytestmark = pytest.mark.unit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HOSTILE = [
    "http://127.0.0.2:8852\\@127.0.0.1:8811/",  # Python: host 127.0.0.1; Chromium: 127.0.0.2
    "http://127.0.0.1:8811/\r\nX-Injected: 1",
    "http://127.0.0.1:8811/a\tb",
    "http://user:pass@127.0.0.1:8811/",
    "http://127.0.0.1@evil.example/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http:///nohost",
    "http://127.0.0.1:99999/",
    "http://127.0.0.1\x1b[2J/",
    "http://exa mple.com/",
    "http://127.0.0.1%2f@x/",
    "notaurl",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_rejected(url: str) -> None:
    with pytest.raises(UrlRejected):
        web_url(url)


def test_valid_urls_come_back_re_serialised() -> None:
    assert web_url("HTTP://LocalHost:8787/api?q=1") == "http://localhost:8787/api?q=1"
    assert web_url("https://[::1]:8443/") == "https://[::1]:8443/"
    assert web_url(" http://127.0.0.1:8787 ") == "http://127.0.0.1:8787"


def test_same_origin_compares_scheme_host_and_effective_port() -> None:
    assert same_origin("http://127.0.0.1:80/x", "http://127.0.0.1/")
    assert not same_origin("http://127.0.0.1:8788/x", "http://127.0.0.1:8787")
    assert not same_origin("https://127.0.0.1:8787/", "http://127.0.0.1:8787")
    assert not same_origin("http://127.0.0.2:8852\\@127.0.0.1:8811/", "http://127.0.0.1:8811")
    assert is_loopback("http://localhost:1/") and is_loopback("http://127.9.9.9/")
    assert not is_loopback("http://10.0.0.1/") and not is_loopback("http://[::1]\\@x/")


class Recorder:
    def __init__(self) -> None:
        self.events: list[LunaEvent] = []

    async def __call__(self, event: LunaEvent) -> None:
        self.events.append(event)


def _post(client: TestClient, body: dict[str, object], delivery: str | None = None) -> object:
    raw = json.dumps(body).encode()
    headers = {"X-Luna-Signature": sign(raw, "s3cret-generic", int(time.time()))}
    if delivery:
        headers["X-Luna-Delivery"] = delivery
    return client.post("/webhooks/generic", content=raw, headers=headers)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:8852\\@127.0.0.1:8811/",
        "http://127.0.0.1:8811/\r\nHost: 127.0.0.2",
        "http://u:p@127.0.0.1:8811/",
    ],
)
def test_gateway_allow_list_cannot_be_bypassed(target: str, clean_env: Path) -> None:
    recorder = Recorder()
    client = TestClient(
        create_app(GatewaySettings(generic_secret="s3cret-generic", allowed_hosts="127.0.0.1"), emit=recorder)
    )
    answer = _post(client, {"target": target})
    assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
    assert recorder.events == []
    ok = _post(client, {"target": "HTTP://127.0.0.1:8811/"})
    assert ok.status_code == 202  # type: ignore[attr-defined]
    assert recorder.events[0].payload["target"] == "http://127.0.0.1:8811/"  # the re-serialised string


def test_same_delivery_id_with_another_body_is_409_and_not_lost(clean_env: Path) -> None:
    recorder = Recorder()
    client = TestClient(create_app(GatewaySettings(generic_secret="s3cret-generic"), emit=recorder))
    first = _post(client, {"target": "http://127.0.0.1:8811/a"}, delivery="d-1")
    second = _post(client, {"target": "http://127.0.0.1:8811/b"}, delivery="d-1")
    assert first.status_code == 202  # type: ignore[attr-defined]
    assert second.status_code == 409 and "X-Luna-Delivery" in second.json()["error"]  # type: ignore[attr-defined]
    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BASE_URL", "http://127.0.0.2:8852\\@127.0.0.1:8811/"),
        ("GRAFANA_URL", "javascript:alert(1)"),
        ("INFLUXDB_URL", "notaurl"),
        ("AUTH_HOST", "http://sso\r\n.example.com"),
        ("VISUAL_QA_AI_BASE_URL", "ftp://x"),
    ],
)
def test_url_settings_are_validated_before_anything_starts(
    name: str, value: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(clean_env)
    monkeypatch.setenv(name, value)
    if name == "AUTH_HOST":
        for k, v in {"AUTH_REALM": "r", "AUTH_CLIENT_ID": "c", "AUTH_CLIENT_SECRET": "s"}.items():
            monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in err.value.one_line() and "\n" not in err.value.one_line()
