"""The canary test (issue 13 item 7): each auth mode set to a canary value, then every way a
user runs Luna (`smoke`, `test-service`, `gen-tests`, `run-tests` of every suite kind)
through the real `luna` command against a loopback server that echoes every request header
back in failing (HTTP 500) answers, with samples streamed to a real influxd and every flow on
a real Prefect server. Then no form of any secret (as it is, URL-encoded, JSON-escaped,
base64 padded or not, Basic's ``user:pass``, the token a Keycloak exchange returned) may be
found in: the commands' output, the run and suite folders, the generated suites, Prefect's
logs and artifacts (read through its API) and InfluxDB (SHOW SERIES, every stored value).

One mode per test; the UI and Lighthouse kinds carry no credentials and run once (bearer).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from tests.conftest import write_catalog
from tests.e2e.conftest import prefect_server  # noqa: F401 (the fixture: a real `prefect server start`)
from tests.fixtures_influx import InfluxServer
from tests.servers.echo import EchoServer

pytestmark = pytest.mark.integration
LUNA = str(Path(sys.executable).with_name("luna"))

KC_TOKEN = "canary-kc-token-5d1e"  # what the echo's token endpoint answers: Luna never sees it in its settings
USER = "canary-user"
MODES: dict[str, dict[str, str]] = {
    "bearer": {"AUTH_TOKEN": "canary-bearer-7c2a"},
    "basic": {"AUTH_BASIC_USER": USER, "AUTH_BASIC_PASS": "canary-pass-4e2/+&"},
    "api_key": {"AUTH_API_KEY": "canary-apikey-91b0", "AUTH_API_KEY_HEADER": "X-Canary-Key"},
    "keycloak": {"AUTH_REALM": "canary", "AUTH_CLIENT_ID": "luna", "AUTH_CLIENT_SECRET": "canary-kc-secret-3f8"},
}
SECRET_VARS = ("AUTH_TOKEN", "AUTH_BASIC_PASS", "AUTH_API_KEY", "AUTH_CLIENT_SECRET")


def forms(secret: str) -> set[str]:
    out = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for b64 in (base64.b64encode(secret.encode()), base64.urlsafe_b64encode(secret.encode())):
        out |= {b64.decode(), b64.decode().rstrip("=")}
    return out


def canaries(mode: str) -> set[str]:
    env = MODES[mode]
    found = set().union(*(forms(env[k]) for k in SECRET_VARS if k in env))
    if mode == "basic":
        found |= forms(f"{USER}:{env['AUTH_BASIC_PASS']}")
    if mode == "keycloak":
        found |= forms(KC_TOKEN)
    return found


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influx"))
    server.start()
    server.create_database("k6")
    yield server
    server.stop()


class Session:
    """Runs `luna` with one auth mode's canaries, recording everything it printed."""

    def __init__(self, tmp: Path, env: dict[str, str], api: str) -> None:
        self.tmp, self.printed, self.seconds = tmp, [], []
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API", "K6_"))}
        self.env = {**base, **env, "PREFECT_API_URL": api, "LUNA_PREFECT_PORT": "1"}
        self.env |= {"LUNA_OUT_DIR": str(tmp / "out"), "LUNA_SUITES_DIR": str(tmp / "suites")}
        self.env |= {"SMOKE_DURATION": "1s", "SMOKE_VUS": "1"}

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run([LUNA, *args], cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=300)
        self.printed.append(f"$ luna {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        self.seconds.append(round(time.monotonic() - started, 1))
        return done


def prefect_text(api: str) -> str:
    """Every log row and artifact on the (test's own) Prefect server, as text."""
    parts = []
    with httpx.Client(base_url=api, timeout=60) as client:
        for kind in ("logs", "artifacts"):
            offset = 0
            while offset < 200_000:  # bounded paging
                page = client.post(f"/{kind}/filter", json={"limit": 200, "offset": offset}).raise_for_status().json()
                parts.append(json.dumps(page))
                offset += 200
                if len(page) < 200:
                    break
    return "\n".join(parts)


def influx_text(influx: InfluxServer) -> str:
    """InfluxDB's series keys (every tag) and every stored value of every measurement."""
    with httpx.Client(base_url=influx.url, timeout=60) as client:

        def query(q: str) -> str:
            return client.get("/query", params={"db": "k6", "q": q}).raise_for_status().text

        names = re.findall(r'\["([^"]+)"\]', query("SHOW MEASUREMENTS"))
        return "\n".join([query("SHOW SERIES")] + [query(f'SELECT * FROM "{name}"') for name in names])


def files_text(folder: Path) -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8", errors="replace")) for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("mode", list(MODES))
def test_no_form_of_any_canary_is_found_anywhere(
    mode: str,
    tmp_path: Path,
    prefect_server: str,  # noqa: F811
    influx: InfluxServer,
) -> None:
    with EchoServer(
        api_key_header="X-Canary-Key", token=KC_TOKEN, client_secret=MODES["keycloak"]["AUTH_CLIENT_SECRET"]
    ) as echo:
        env = dict(MODES[mode]) | ({"AUTH_HOST": echo.url} if mode == "keycloak" else {})
        luna = Session(tmp_path, env | {"INFLUXDB_URL": influx.url, "INFLUXDB_BUCKET": "k6"}, prefect_server)
        catalog = write_catalog(tmp_path / "e.json", [{"name": "Echo", "group": "g", "path": "/echo"}])

        smoke = luna("smoke", "--target", echo.url, "--config", str(catalog))
        assert smoke.returncode == 1, luna.printed[-1]  # the echo answers 500: a failed run, not an error
        pipeline = luna("test-service", echo.url, "--no-lighthouse", "--no-visual-qa", "--no-notify")
        assert pipeline.returncode in (1, 2), luna.printed[-1]
        made = luna("gen-tests", "--url", echo.url, "--service", f"canary-{mode}")
        assert made.returncode == 0, luna.printed[-1]
        suite = made.stdout.split(": ", 1)[1].split(" (", 1)[0]
        kinds = ["api", "k6"] + (["ui", "lighthouse"] if mode == "bearer" else [])
        ran = luna("run-tests", suite, *[f"--kind={k}" for k in kinds], "--k6-duration", "1s", "--preset", "desktop")
        assert ran.returncode == 1, luna.printed[-1]  # the echo's 500s fail the tests
        sent = [value for _, _, value in echo.credentials()]

    secrets = canaries(mode)
    # The credentials really went out, to the one origin there is, in each runner...
    assert any(s in value for s in secrets for value in sent), sent[:5]
    assert {r["headers"].get("user-agent", "")[:2] for r in echo.requests} >= {"Gr", "py"}  # k6 and httpx both sent
    # ...and no form of them came back anywhere Luna writes.
    places = [(Path("output"), text) for text in luna.printed]
    places += files_text(tmp_path / "out") + files_text(tmp_path / "suites")
    places += [(Path("prefect"), prefect_text(prefect_server)), (Path("influxdb"), influx_text(influx))]
    print("canary: seconds per command", luna.seconds)
    found = sorted({(str(where), s) for where, text in places for s in secrets if s in text})
    assert found == []
    # Each place was really searched: the echo's answers and the runs are in them.
    assert (tmp_path / "out" / "runs").is_dir() and any((tmp_path / "suites").iterdir())
    assert "Echo" in influx_text(influx) and "Echo" in prefect_text(prefect_server)
