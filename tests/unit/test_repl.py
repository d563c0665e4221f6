"""The REPL core fed lines programmatically, against the demo API in-process (ASGI), and
`luna health` against the demo API over TCP."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from app.cli.main import main
from app.demo import create_app
from app.repl import ReplSession
from luna.settings import load_settings
from tests.conftest import Demo, free_port

pytestmark = pytest.mark.unit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class Shell:
    """A ReplSession on a fresh demo app, its printed output in `.text`."""

    def __init__(self, client: httpx.Client | None = None, target: str = "http://testserver", **settings: Any) -> None:
        self.out = io.StringIO()
        self.client = client or TestClient(create_app())
        self.session = ReplSession(
            target,
            settings=load_settings(**settings),
            console=Console(file=self.out, width=160, color_system=None),
            client=self.client,
        )

    def run(self, *lines: str) -> str:
        start = self.out.tell()
        for line in lines:
            assert self.session.execute(line) is True
        return self.out.getvalue()[start:]


def test_get_shows_status_timing_headers_and_body(clean_env: Path) -> None:
    shell = Shell()
    text = shell.run("GET /api/users")
    first = text.splitlines()[0]
    assert first.startswith("200 OK") and " ms " in first and "GET http://testserver/api/users" in first
    assert "content-type" in text and "application/json" in text
    assert '"name"' in text  # the pretty-printed JSON body
    [exchange] = shell.session.history
    assert (exchange.method, exchange.status) == ("GET", 200) and exchange.ms > 0


def test_post_json_body_then_repeat_and_history(clean_env: Path) -> None:
    shell = Shell()
    text = shell.run('POST /api/users {"name": "Ada Lovelace", "email": "ada@example.com"}')
    assert text.startswith("201 Created") and "Ada Lovelace" in text
    shell.run("GET /api/health", "!!")
    assert [e.status for e in shell.session.history] == [201, 200, 200]
    listing = shell.run("history")
    assert "POST http://testserver/api/users" in listing and listing.count("/api/health") == 2


def test_long_bodies_are_previewed(clean_env: Path) -> None:
    text = Shell().run("GET /openapi.json")
    assert "preview cut" in text and len(text.splitlines()) < 120


@pytest.mark.parametrize(
    ("settings", "mode", "secret"),
    [
        ({"auth_token": "demo-token"}, "bearer", "demo-token"),
        ({"auth_basic_user": "demo", "auth_basic_pass": "demo-pass"}, "basic", "demo-pass"),
        ({"auth_api_key": "demo-key"}, "api_key", "demo-key"),
    ],
)
def test_auth_from_settings_is_sent_and_never_shown(
    clean_env: Path, settings: dict[str, str], mode: str, secret: str
) -> None:
    shell = Shell(**dict[str, Any](settings))
    text = shell.run("GET /api/secure", "auth", "headers")
    assert text.startswith("200 OK") and f'"auth": "{mode}"' in text
    assert f"auth: {mode}" in text and secret not in text
    assert shell.run("auth off", "GET /api/secure").splitlines()[-1] != ""
    assert shell.session.history[-1].status == 401


def test_keycloak_token_is_fetched_once_and_reused(clean_env: Path) -> None:
    shell = Shell(
        auth_host="http://testserver", auth_realm="luna", auth_client_id="luna", auth_client_secret="luna-secret"
    )
    text = shell.run("GET /api/secure", "GET /api/secure")
    assert text.count('"auth": "oauth"') == 2 and "luna-secret" not in text
    assert shell.client.get("/__luna/stats").json()["tokens_issued"] == 1


def test_credentials_stay_on_the_target_origin(clean_env: Path) -> None:
    shell = Shell(auth_token="demo-token")
    text = shell.run("GET http://elsewhere.test/api/secure")  # the in-process app answers any host
    assert text.startswith("401") and "credentials not sent" in text


def test_secrets_in_responses_and_typed_lines_are_masked(clean_env: Path) -> None:
    shell = Shell(auth_token="demo-token")
    text = shell.run("GET /api/search?q=demo-token")  # echoes the query in the URL line
    assert "demo-token" not in text and "q=***" in text  # the one masker (luna/masking.py)
    assert shell.session.sensitive("GET /api/search?q=demo-token")
    assert shell.session.sensitive("header Authorization: Bearer x") and not shell.session.sensitive("GET /api/users")


def test_health_and_session_headers_and_target(clean_env: Path) -> None:
    shell = Shell()
    assert "healthy: http://testserver/api/health 200" in shell.run("health")
    shell.run("header X-Trace: 42")
    assert "X-Trace: 42" in shell.run("headers")
    assert "removed X-Trace" in shell.run("header -X-Trace")
    assert "target: http://testserver/v2" in shell.run("target http://testserver/v2/")
    assert shell.session.url_for("/api/users") == "http://testserver/v2/api/users"  # joined like BASE_URL


def test_mistakes_are_one_line_and_the_session_goes_on(clean_env: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with httpx.Client() as client:
        shell = Shell(client=client, target=closed)
        text = shell.run("GET /api/users", "FROB /x", "GET", "header nonsense", "target ftp://x")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 5 and "Traceback" not in text
    assert "ConnectError" in lines[0] and "unknown command 'FROB'" in lines[1]
    assert "needs a path" in lines[2] and "header Name: value" in lines[3] and "not an http(s) URL" in lines[4]
    assert shell.session.history[0].status is None
    assert shell.session.execute("exit") is False


def test_luna_health_command(demo: Demo, clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", demo.url]) == 0
    assert f"target   {demo.url}/api/health  200" in capsys.readouterr().out
    assert main(["health", f"http://127.0.0.1:{free_port()}", "--timeout", "2"]) == 1
    assert "cannot connect" in capsys.readouterr().out
