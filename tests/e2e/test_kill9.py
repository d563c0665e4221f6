"""`kill -9` of the luna process (issue 13): nothing in the process survives it, so Luna marks
what it can before and after (app/unfinished.py). A real SIGKILL, a real Prefect server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from app.runs import list_local_runs
from tests.conftest import ROOT, Demo, write_catalog

pytestmark = pytest.mark.e2e
LUNA = str(Path(sys.executable).with_name("luna"))


def start(*args: str, api: str, out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API"))}
    env.update({"LUNA_OUT_DIR": str(out), "LUNA_PREFECT_PORT": "1", "PREFECT_API_URL": api})
    return subprocess.Popen(
        [LUNA, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for(what: str, check: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def flow_runs(api: str, name: str) -> list[dict[str, object]]:
    body = {"flows": {"name": {"any_": [name]}}, "limit": 50, "sort": "EXPECTED_START_TIME_DESC"}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).raise_for_status().json()


def k6_running(pid: int) -> bool:
    """`k6 run` is a child (not the pre-checks' `k6 version` or `k6 inspect`)."""
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name() == "k6" and "run" in child.cmdline()[1:2]:
                return True
    return False


def kill9(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    children = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return children


def test_a_killed_load_run_is_marked_in_its_folder_and_in_prefect(
    prefect_server: str, demo: Demo, tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Users", "group": "u", "path": "/api/users"}])
    out = tmp_path / "out"
    args = ("smoke", "--target", demo.url, "--config", str(catalog), "--smoke-vus", "1")
    proc = start(*args, "--smoke-duration", "60s", "--run-id", "killed-run", api=prefect_server, out=out)
    run_dir = out / "runs" / "killed-run"
    try:
        wait_for("k6 to start", lambda: k6_running(proc.pid))
        time.sleep(2)  # k6 is sending load
    finally:
        children = kill9(proc)
    # Before: the placeholder summary, written before the flow started, says what happened.
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "aborted" and "unfinished" in summary["message"] and "kill -9" in summary["message"]
    assert f"pid {proc.pid}" in summary["message"]
    killed = next(
        r for r in flow_runs(prefect_server, "load_test") if r["parameters"]["params"]["run_id"] == "killed-run"
    )
    assert killed["state_type"] == "RUNNING"  # SIGKILL left it so
    wait_for("k6 to follow its parent", lambda: not any(c.is_running() for c in children), timeout=60)

    # After: the next load run of any luna on this host marks the orphan Crashed.
    done = subprocess.run(
        [LUNA, "smoke", "--target", demo.url, "--config", str(catalog), "--smoke-duration", "1s"],
        cwd=ROOT,
        env={**os.environ, "LUNA_OUT_DIR": str(out), "LUNA_PREFECT_PORT": "1", "PREFECT_API_URL": prefect_server},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = next(r for r in flow_runs(prefect_server, "load_test") if r["id"] == killed["id"])
    assert after["state_type"] == "CRASHED"
    assert f"pid {proc.pid}" in after["state"]["message"] and "kill -9" in after["state"]["message"]


def test_a_killed_pipeline_leaves_its_record(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start("test-service", demo.url, "--no-lighthouse", "--no-visual-qa", api=prefect_server, out=out)
    try:
        wait_for("the pipeline to start", lambda: any((out / "pipelines").glob("*/pipeline.json")))
    finally:
        kill9(proc)
    record = json.loads(next((out / "pipelines").glob("*/pipeline.json")).read_text())
    assert record["finished_at"] is None
    (listed,) = [r for r in list_local_runs(None, None, 20, out) if r.kind == "pipeline"]
    assert listed.status == "unfinished"
