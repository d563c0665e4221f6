"""The `luna` command as a user runs it, against a real Prefect server and the demo API."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from luna.results import RunResult
from tests.conftest import ROOT, Demo, write_catalog

pytestmark = pytest.mark.e2e
LUNA = str(Path(sys.executable).with_name("luna"))


def luna(
    *args: str, api: str | None, out: Path, extra_env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API"))}
    env.update({"LUNA_OUT_DIR": str(out), "LUNA_PREFECT_PORT": "1"}, **(extra_env or {}))
    if api:
        env["PREFECT_API_URL"] = api
    return subprocess.run([LUNA, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_smoke_passes_through_a_running_prefect_server(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path / "e.json", [{"name": "Users", "group": "u", "path": "/api/users", "checks": {"status": 200}}]
    )
    done = luna(
        "smoke",
        "--target",
        demo.url,
        "--config",
        str(catalog),
        "--smoke-duration",
        "2s",
        api=prefect_server,
        out=tmp_path / "out",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PASS" in done.stdout and "Users" in done.stdout
    run_dir = Path(done.stdout.split("results: ")[1].split()[0])
    result = RunResult.read(run_dir)
    assert result.status == "passed" and result.endpoints[0].requests > 0
    runs = httpx.post(f"{prefect_server}/flow_runs/filter", json={"limit": 50}).json()
    assert any(
        r["parameters"].get("params", {}).get("run_id") == result.run_id and r["state_type"] == "COMPLETED"
        for r in runs
    )


def test_crossed_threshold_exits_1(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Boom", "group": "g", "path": "/api/always500"}])
    done = luna(
        "run",
        "--profile",
        "smoke",
        "--target",
        demo.url,
        "--config",
        str(catalog),
        "--smoke-duration",
        "1s",
        api=prefect_server,
        out=tmp_path / "out",
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "FAIL" in done.stdout and "every request failed" in done.stdout


@pytest.mark.parametrize(
    "setup,expected",
    [
        ("bad-json", "endpoints file error: not valid JSON"),
        ("typo", "did you mean 'checks'?"),
        ("unreachable", "target unreachable: cannot connect to 127.0.0.1:9"),
        ("bad-vus", "config error: VUS"),
        ("bad-flag", "--vus"),
    ],
)
def test_bad_input_is_one_line_exit_2_without_prefect(tmp_path: Path, demo: Demo, setup: str, expected: str) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "A", "group": "g", "path": "/api/users"}])
    args = ["smoke", "--target", demo.url, "--config", str(catalog)]
    env: dict[str, str] = {}
    if setup == "bad-json":
        catalog.write_text('{"service": "x",\n "endpoints": [}')
    elif setup == "typo":
        catalog.write_text(
            json.dumps({"service": "x", "endpoints": [{"name": "A", "group": "g", "path": "/", "chekcs": {}}]})
        )
    elif setup == "unreachable":
        args[2] = "http://127.0.0.1:9"
    elif setup == "bad-vus":
        env["VUS"] = "lots"
    elif setup == "bad-flag":
        args += ["--vus", "0"]
    started = time.monotonic()
    done = luna(*args, api=None, out=tmp_path / "out", extra_env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("luna: ") and expected in lines[0], lines
    assert "Traceback" not in done.stderr + done.stdout
    assert time.monotonic() - started < 15  # failed before any Prefect server start


def test_env_masks_secrets_and_doctor_reports(tmp_path: Path) -> None:
    done = luna("env", api=None, out=tmp_path, extra_env={"AUTH_TOKEN": "s3cr3t-value", "VUS": "7"})
    assert done.returncode == 0
    assert "s3cr3t-value" not in done.stdout and "AUTH_TOKEN=********" in done.stdout and "VUS=7" in done.stdout
    doctor = luna("doctor", api=None, out=tmp_path)
    assert doctor.returncode == 0, doctor.stdout
    assert "ok k6: k6 v1" in doctor.stdout and "prefect api" in doctor.stdout


def test_cancelling_a_served_flow_run_leaves_no_k6(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    """A deployment served with `serve`, a real run, then a cancel from the API."""
    catalog = write_catalog(tmp_path / "e.json", [{"name": "H", "group": "g", "path": "/api/health"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_"))}
    env.update({"PREFECT_API_URL": prefect_server, "LUNA_OUT_DIR": str(tmp_path / "out")})
    server = subprocess.Popen(
        [sys.executable, "-c", "from flows.load_test import load_test; load_test.serve(name='cancel-test')"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deployment = _wait_for(lambda: _deployment(prefect_server, "load_test/cancel-test"), 60)
        params = {"params": {"profile": "smoke", "target": demo.url, "config": str(catalog), "smoke_duration": "60s"}}
        run = httpx.post(
            f"{prefect_server}/deployments/{deployment}/create_flow_run", json={"parameters": params}
        ).json()
        k6 = _wait_for(lambda: [p for p in psutil.Process(server.pid).children(recursive=True) if p.name() == "k6"], 90)
        httpx.post(
            f"{prefect_server}/flow_runs/{run['id']}/set_state", json={"state": {"type": "CANCELLING"}, "force": True}
        ).raise_for_status()
        _wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in k6), 60)
        state = _wait_for(
            lambda: _state(prefect_server, run["id"]) in ("CANCELLED", "FAILED", "CRASHED")
            and _state(prefect_server, run["id"]),
            60,
        )
        assert state == "CANCELLED"
    finally:
        server.terminate()  # serve() may not finish its graceful stop on one signal
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
    assert not [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "k6" and str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]


def _deployment(api: str, name: str) -> str | None:
    response = httpx.get(f"{api}/deployments/name/{name}")
    return str(response.json()["id"]) if response.status_code == 200 else None


def _state(api: str, run_id: str) -> str:
    return str(httpx.get(f"{api}/flow_runs/{run_id}").json()["state_type"])


def _wait_for(probe, seconds: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {seconds} s")


@pytest.mark.timeout(1200)  # ten CLI runs and four CLI reads on a shared 2-core machine
def test_history_and_diff(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    """Five fast runs then three slow ones of the same endpoint name: the slow run regresses
    against the window, `luna history` marks the change point, `luna diff` uses the same
    model, and a run of another load shape is refused as not comparable."""
    run_ids: list[str] = []
    outputs: list[str] = []

    def smoke_run(ms: int, vus: str = "6") -> str:
        catalog = write_catalog(
            tmp_path / f"e{ms}.json",
            [{"name": "Slow", "group": "g", "path": f"/api/slow?ms={ms}"}],
            service="History Svc",
            slos={"p95_ms": 1000, "error_rate": 0.01, "apdex_score": 0.1},
        )
        done = luna(
            "smoke", "--target", demo.url, "--config", str(catalog), "--smoke-duration", "3s", "--smoke-vus", vus,
            api=prefect_server, out=tmp_path / "out",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        run_ids.append(Path(done.stdout.split("results: ")[1].split()[0]).name)
        outputs.append(done.stdout)
        return run_ids[-1]

    # 20 ms, not less: a few hundred requests a second keep k6 far from saturating a loaded
    # CI machine (a saturated generator makes the comparison `inconclusive`, rightly)
    other = smoke_run(20, vus="1")  # another load shape: never in the window, refused by diff
    for _ in range(5):
        smoke_run(20)
    assert "too little history (1 comparable runs, 5 needed)" in outputs[2]
    slow = smoke_run(150)  # far beyond the noise of a loaded machine; 6 VUs x 3 s still give >= 50 requests
    assert "regressed against the median of 5 comparable runs" in outputs[-1], outputs[-1]
    slow_runs = {slow, smoke_run(150), smoke_run(150)}  # a few slow runs in a row: a change point, noise allowing
    listed = luna("history", "History Svc", api=prefect_server, out=tmp_path / "out")
    assert listed.returncode == 0, listed.stderr
    assert all(run_id in listed.stdout for run_id in run_ids)
    assert "change point(s) (Apache Otava, p < 0.001" in listed.stdout, listed.stdout
    # Whether Otava finds the shift at p < 0.001 depends on the fast runs' noise here (a warm-up
    # outlier can hide it; tests/unit/test_regression.py checks a known step); a slowdown it
    # does report starts at a slow run, never inside the fast ones. (A slow first run, the demo
    # warming up, is a real improvement at the second: seen in a full run, "p95 -46%".)
    assert set(re.findall(r"p95 \+\S+ \([^)]*\) from run (\S+)", listed.stdout)) <= slow_runs, listed.stdout
    compared = luna("diff", run_ids[1], slow, api=prefect_server, out=tmp_path / "out")
    assert compared.returncode == 1 and "regressed" in compared.stdout and "p95_ms" in compared.stdout
    same = luna("diff", run_ids[3], run_ids[4], api=prefect_server, out=tmp_path / "out")
    assert same.returncode == 0 and "REGRESSED" not in same.stdout
    refused = luna("diff", other, run_ids[1], api=prefect_server, out=tmp_path / "out")
    assert refused.returncode == 2 and "are not comparable: load" in refused.stderr
    assert (
        "smoke_vus=1 vs" in refused.stderr
        and "smoke_vus=6" in refused.stderr
        and len(refused.stderr.strip().splitlines()) == 1
    )
    missing = luna("diff", "nope-1", run_ids[0], api=prefect_server, out=tmp_path / "out")
    assert missing.returncode == 2 and "run nope-1 not found" in missing.stderr
