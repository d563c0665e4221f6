"""`luna up` / `luna down` as a user runs them: the UI calls the API on LUNA_PREFECT_PORT,
the results folder is served over HTTP, a failure says why, and `luna down` stops only the
server `luna up` started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@dataclass
class Up:
    env: dict[str, str]
    home: Path
    out: Path
    prefect_port: int
    reports_port: int
    pid: int

    def luna(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "luna"), *args], cwd=ROOT, env={**self.env, **extra}, capture_output=True, text=True, timeout=180
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    home, out = tmp_path_factory.mktemp("up-home"), tmp_path_factory.mktemp("up-out")
    prefect_port, reports_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_"))}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "LUNA_PREFECT_PORT": str(prefect_port),
            "LUNA_REPORTS_PORT": str(reports_port),
            "LUNA_OUT_DIR": str(out),
        }
    )
    started = subprocess.run([str(BIN / "luna"), "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = json.loads((home / "luna-up.json").read_text())["pid"]
    try:
        yield Up(env, home, out, prefect_port, reports_port, pid)
    finally:
        subprocess.run([str(BIN / "luna"), "down"], cwd=ROOT, env=env, capture_output=True, timeout=60)
        _kill_group(pid)


def test_the_ui_calls_the_api_on_luna_prefect_port(up: Up) -> None:
    settings = httpx.get(f"http://127.0.0.1:{up.prefect_port}/ui-settings", timeout=10).json()
    assert settings["api_url"] == f"http://127.0.0.1:{up.prefect_port}/api"
    assert httpx.get(f"{settings['api_url']}/health", timeout=10).status_code == 200


def test_the_results_folder_is_served_read_only_on_loopback(up: Up) -> None:
    run = up.out / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>FAIL</h1>", encoding="utf-8")
    (up.out / ".secret").write_text("x", encoding="utf-8")
    base = f"http://127.0.0.1:{up.reports_port}"
    got = httpx.get(f"{base}/runs/r1/report.html", timeout=10)
    assert got.status_code == 200 and got.text == "<h1>FAIL</h1>"
    assert got.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{base}/runs/", timeout=10).status_code == 404  # no listings
    assert httpx.get(f"{base}/.secret", timeout=10).status_code == 404
    assert httpx.put(f"{base}/runs/r1/report.html", content=b"x", timeout=10).status_code == 501
    assert (run / "report.html").read_text(encoding="utf-8") == "<h1>FAIL</h1>"


def test_up_again_reports_the_running_server_or_says_why_not(up: Up) -> None:
    again = up.luna("up")
    assert again.returncode == 0 and f"pid {up.pid}" in again.stdout
    other = up.luna("up", LUNA_PREFECT_PORT=str(free_port()))
    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and f"already runs a server on port {up.prefect_port}" in lines[0]
    assert "Traceback" not in other.stderr


def test_down_stops_only_the_server_luna_up_started(up: Up) -> None:
    """A Prefect server that something else started under the same Prefect home keeps
    running through `luna down`; `luna up` on its port says the port is taken, and by whom."""
    foreign_port = free_port()
    log = (up.home / "foreign.log").open("w")
    foreign = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(foreign_port)],
        env=up.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = f"http://127.0.0.1:{foreign_port}/api/health"
        for _ in range(240):  # bounded: up to about 120 s on a loaded machine
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            time.sleep(0.5)
        taken = up.luna("down")  # first make room: one `luna up` per Prefect home
        assert taken.returncode == 0 and f"stopped Luna's server (pid {up.pid}" in taken.stdout
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{up.prefect_port}/api/health", timeout=2)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{up.reports_port}/", timeout=2)
        assert foreign.poll() is None and httpx.get(health, timeout=10).status_code == 200
        assert not (up.home / "luna-up.json").exists()

        busy = up.luna("up", LUNA_PREFECT_PORT=str(foreign_port))
        assert busy.returncode == 2
        assert f"port {foreign_port} for the Prefect server is in use by a Prefect server" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
        again = up.luna("down")
        assert again.returncode == 0 and "no server started by `luna up`" in again.stdout
        assert foreign.poll() is None
    finally:
        _kill_group(foreign.pid)
        foreign.wait(timeout=30)
