"""Bad input that k6 or Prefect would only refuse inside a flow is refused by the real `luna`
command before any flow starts: one line on stderr naming the thing and the fix, no
traceback, and not one request reaches the target (an echo server that records every
request). Issue 13, "bad input found only inside the flow"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_catalog
from tests.servers.echo import EchoServer

pytestmark = pytest.mark.e2e
LUNA = str(Path(sys.executable).with_name("luna"))


def luna(*args: str, tmp: Path, env: dict[str, str], api: str | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API", "K6_"))}
    base.update({"LUNA_OUT_DIR": str(tmp / "out"), "LUNA_PREFECT_PORT": "1", **env})
    if api:
        base["PREFECT_API_URL"] = api
    return subprocess.run([LUNA, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=180)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Flow run" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("luna: "), lines
    return lines[0]


def deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


BROKEN_SCRIPT = "export default function( {\n"

CASES = {
    "smoke-0s": ({"SMOKE_DURATION": "0s"}, None, ["SMOKE_DURATION", "at least 1s"]),
    "smoke-500ms": ({"SMOKE_DURATION": "500ms"}, None, ["SMOKE_DURATION", "at least 1s"]),
    "k6-false": ({"K6_BINARY": "/bin/false"}, None, ["/bin/false", "exited 1 with no output", "K6_BINARY"]),
    "broken-script": ({"LUNA_K6_SCRIPT": "{tmp}/broken.js"}, None, ["cannot load the script", "broken.js"]),
    "grafana-js": ({"GRAFANA_URL": "javascript:alert(1)"}, None, ["GRAFANA_URL", "http"]),
    "influx-notaurl": ({"INFLUXDB_URL": "notaurl"}, None, ["INFLUXDB_URL", "notaurl"]),
    "weight-true": ({}, {"weight": True}, ["#/endpoints/0/weight", "e.json"]),
    "deep-body": ({}, {"method": "POST", "body": deep(400)}, ["#/endpoints/0/body", "400 levels", "e.json"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_before_any_load(case: str, tmp_path: Path) -> None:
    env, endpoint, expected = CASES[case]
    (tmp_path / "broken.js").write_text(BROKEN_SCRIPT)
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    with EchoServer() as echo:
        catalog = write_catalog(
            tmp_path / "e.json", [{"name": "Echo", "group": "g", "path": "/echo", **(endpoint or {})}]
        )
        done = luna("smoke", "--target", echo.url, "--config", str(catalog), tmp=tmp_path, env=env)
        line = one_line_error(done)
        assert echo.requests == []  # no load, no probe: refused before k6 started
    for text in expected:
        assert text in line, line


def test_missing_auth_block_is_one_line_before_any_load(prefect_server: str, tmp_path: Path) -> None:
    with EchoServer() as echo:
        catalog = write_catalog(tmp_path / "e.json", [{"name": "Echo", "group": "g", "path": "/echo"}])
        done = luna(
            "smoke", "--target", echo.url, "--config", str(catalog), "--auth-block", "no-such-block",
            tmp=tmp_path, env={}, api=prefect_server,
        )  # fmt: skip
        line = one_line_error(done)
        assert echo.requests == []
    assert "auth block 'no-such-block' not found" in line


@pytest.mark.parametrize("case", ["k6-false", "broken-script", "smoke-500ms"])
def test_test_service_checks_k6_before_discovery(case: str, tmp_path: Path) -> None:
    env, _, expected = CASES[case]
    (tmp_path / "broken.js").write_text(BROKEN_SCRIPT)
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    with EchoServer() as echo:
        done = luna("test-service", echo.url, "--no-lighthouse", "--no-visual-qa", tmp=tmp_path, env=env)
        line = one_line_error(done)
        assert echo.requests == []  # discovery never probed the target
    for text in expected:
        assert text in line, line
