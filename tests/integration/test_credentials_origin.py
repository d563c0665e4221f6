"""Credentials attach only to the origin the user named, in every runner: k6's generic
runner, the generated k6 script, the generated httpx API suite, the Playwright UI suite and
Lighthouse. The target (server A) redirects to, and its page loads from, a second loopback
server B (another port = another origin) that must receive zero credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from luna.settings import load_settings
from tasks.generation.runner import run_suite_dir
from tasks.generation.suites import GenerateParams, generate_suite
from tests.conftest import Runner, write_catalog
from tests.servers.echo import EchoServer

pytestmark = pytest.mark.integration

MODES = {
    "bearer": {"AUTH_TOKEN": "origin-canary-token"},
    "basic": {"AUTH_BASIC_USER": "origin-user", "AUTH_BASIC_PASS": "origin-canary-pass"},
    "api_key": {"AUTH_API_KEY": "origin-canary-key"},
}


@pytest.fixture
def servers() -> Iterator[tuple[EchoServer, EchoServer]]:
    with EchoServer() as other, EchoServer() as target:
        target.elsewhere = f"{other.url}/landing"
        yield target, other


@pytest.mark.parametrize("mode", list(MODES))
def test_k6_runner_keeps_credentials_on_the_named_origin(
    mode: str, servers: tuple[EchoServer, EchoServer], tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, other = servers
    for key, value in MODES[mode].items():
        monkeypatch.setenv(key, value)
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Hop", "group": "g", "path": "/redirect"}])
    load_run(target.url, catalog, "smoke", smoke_vus=1, smoke_duration="1s")
    assert target.credentials(), "the named origin got the credentials"
    assert other.credentials() == []


def test_generated_suites_keep_credentials_on_the_named_origin(
    servers: tuple[EchoServer, EchoServer], tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, other = servers
    monkeypatch.setenv("AUTH_API_KEY", "origin-canary-key")
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Hop", "group": "g", "path": "/redirect"}])
    params = GenerateParams(
        config=str(catalog), base_url=target.url, pages=["/"], kinds=["api", "k6", "ui"], out_dir=str(tmp_path / "s")
    )
    made = generate_suite(params, load_settings())
    # A test of the user's own that talks to another origin, directly and through a redirect.
    (made.suite_dir / "api" / "test_elsewhere.py").write_text(
        "def test_elsewhere(client):\n"
        f"    client.get('{other.url}/direct')\n"
        f"    client.get('{target.url}/redirect', follow_redirects=True)\n",
        encoding="utf-8",
    )
    run_suite_dir(
        made.suite_dir,
        ["api", "k6", "ui"],
        settings=load_settings(),
        out_dir=tmp_path / "run",
        base_url=target.url,
        k6_duration="1s",
        lighthouse_presets=("desktop",),
    )

    def agents(server: EchoServer, with_key: bool) -> set[str]:
        return {
            r["headers"].get("user-agent", "").split("/")[0]
            for r in server.requests
            if ("x-api-key" in r["headers"]) == with_key
        }

    assert {"Grafana k6", "python-httpx"} <= agents(target, with_key=True)  # the named origin got them
    assert {"python-httpx"} <= agents(other, with_key=False)  # B was reached (a user's own test)...
    assert any("HeadlessChrome" in r["headers"].get("user-agent", "") for r in other.requests)  # ...and by the page
    assert other.credentials() == []  # ...never with a credential
