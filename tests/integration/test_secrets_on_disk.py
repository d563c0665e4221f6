"""Secrets stay secret in what a k6 run writes: k6-options.json, k6.log, failures.jsonl, summary.json and the reports, in every derived form (base64 of
``user:pass``, URL-encoded, JSON-escaped, a Keycloak token learnt at run time), against a
failing endpoint that echoes every request header back."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import Runner, write_catalog
from tests.servers.echo import EchoServer

pytestmark = pytest.mark.integration

KC_TOKEN = "kc-runtime-canary-token-9f31"
KC_SECRET = "kc-client-canary-secret-77"
USER, PASS = "canary-user", "canary-pass-4e2/+&"


def forms(secret: str) -> set[str]:
    b64 = base64.b64encode(secret.encode()).decode()
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1], b64, b64.rstrip("=")}


def leaks(folder: Path, secrets: set[str]) -> list[tuple[str, str]]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [(path.name, s) for s in secrets if s in text]
    return found


@pytest.mark.parametrize("mode", ["basic", "keycloak"])
def test_no_form_of_a_secret_lands_on_disk(
    mode: str, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EchoServer(token=KC_TOKEN, client_secret=KC_SECRET) as echo:
        if mode == "basic":
            env = {"AUTH_BASIC_USER": USER, "AUTH_BASIC_PASS": PASS}
            secrets = forms(PASS) | forms(f"{USER}:{PASS}")
        else:
            env = {"AUTH_HOST": echo.url, "AUTH_REALM": "r", "AUTH_CLIENT_ID": "luna", "AUTH_CLIENT_SECRET": KC_SECRET}
            secrets = forms(KC_TOKEN) | forms(KC_SECRET)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        catalog = write_catalog(tmp_path / "e.json", [{"name": "Echo", "group": "g", "path": "/echo"}])
        result = load_run(echo.url, catalog, "smoke", smoke_vus=1, smoke_duration="1s")
        sent = {v for _, _, v in echo.credentials()}
    assert result.status == "failed" and result.failure_samples > 0  # the echo answered 500s
    assert any(s in v for s in secrets for v in sent)  # the credential really went out...
    assert leaks(Path(result.run_dir), secrets) == []  # ...and no form of it came back to disk
