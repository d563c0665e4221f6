"""The work-pool engine end to end: `execute_sharded` with SHARD_ENGINE=work-pool against a
real `prefect server start`, with prefect.yaml deployed and a real process worker on the
`luna-process` pool. Two shards run as two flow runs of `load-shard/default`, meet at a
barrier of Prefect Variables, persist their outcomes, and the coordinator merges them into
one RunResult with the planned request count and per-endpoint stats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import Demo
from tests.e2e.test_deploy import BIN, Deployed, deployed  # noqa: F401 - `deployed` is a fixture
from tests.integration.test_distributed import RATE, SECONDS, k6_of_run, make_plan, settings_for

pytestmark = pytest.mark.e2e


def run_pool(deployed: Deployed, storage: Path, plan: Any, shards: int) -> Any:  # noqa: F811
    """execute_sharded in this process (the coordinator) against the real server."""
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from flows.distributed import execute_sharded

    with temporary_settings({PREFECT_API_URL: deployed.api, PREFECT_LOCAL_STORAGE_PATH: storage}):
        try:
            return execute_sharded(plan, shards)
        finally:
            APILogHandler().flush()  # send the flow's logs now, not at exit when the server is gone


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """Result storage the worker's shard runs write and the coordinator reads (one machine)."""
    folder = tmp_path / "results"
    folder.mkdir()
    return folder


@pytest.fixture
def worker(deployed: Deployed, storage: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:  # noqa: F811
    """A process worker polling the `luna-process` pool every second, stopped afterwards."""
    log = (tmp_path / "worker.log").open("wb")
    env = {
        **deployed.env,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "PREFECT_LOCAL_STORAGE_PATH": str(storage),
        "LUNA_OUT_DIR": str(tmp_path / "worker-out"),
        "SHARD_RAW_SAMPLES": "true",  # the shards' samples.csv growing shows the load flowing (crash test)
    }
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "luna-process", "--limit", "4"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield proc
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    log.close()


def test_two_shards_as_flow_runs_on_a_process_work_pool(
    deployed: Deployed,  # noqa: F811 - the imported fixture
    worker: subprocess.Popen[bytes],
    storage: Path,
    clean_env: Path,
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHARD_ENGINE", "work-pool")
    monkeypatch.setenv("SHARD_READY_TIMEOUT_S", "60")
    settings = settings_for(demo)
    plan = make_plan(clean_env / "pool", settings)
    demo.reset()
    began, started = time.monotonic(), datetime.now(UTC)
    result = run_pool(deployed, storage, plan, 2)
    finished = datetime.now(UTC)
    elapsed = time.monotonic() - began
    print(f"2 work-pool shards: {elapsed:.1f} s from execute_sharded to the merged result")

    assert result.status == "passed", result.message
    planned = RATE * SECONDS
    # k6's arrival-rate scheduler may start one more iteration per shard at the very end on a
    # loaded machine (seen: 502 of 500 in CI); what must be exact is that every request the
    # server saw is counted once, below.
    assert result.total is not None and planned <= result.total.requests <= planned + 2
    assert demo.stats()["total"] == result.total.requests  # the server counted exactly as many
    assert {e.name for e in result.endpoints} == {"Health", "Users"}
    assert sum(e.requests for e in result.endpoints) == result.total.requests
    assert all(e.latency_ms.p95 is not None for e in result.endpoints)
    shards = json.loads((plan.run_dir / "shards.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in shards] == ["passed", "passed"]
    # The Prefect-Variable barrier started them together: unpaused within a second of each other.
    resumed = [datetime.fromisoformat(s["resumed_at"]) for s in shards]
    assert (max(resumed) - min(resumed)).total_seconds() < 1.0
    last_start = (max(resumed) - started).total_seconds()
    tail = (finished - max(datetime.fromisoformat(s["finished_at"]) for s in shards)).total_seconds()
    print(f"last shard under load {last_start:.1f} s after execute_sharded; merged {tail:.1f} s after the last shard")

    # Two flow runs of the load-shard deployment, both Completed; the barrier's Variables are gone.
    deployment = deployed.deployment("load-shard", "default")
    runs = [r for r in deployed.flow_runs(deployment["id"]) if r["name"].startswith(plan.run_id)]
    assert sorted(r["state"]["type"] for r in runs) == ["COMPLETED", "COMPLETED"]
    variables = httpx.post(f"{deployed.api}/variables/filter", json={}, timeout=10).json()
    assert not [v["name"] for v in variables if v["name"].startswith("luna-shard-")]
    assert worker.poll() is None  # the worker is still serving: the shards ran as its subprocesses
    assert not k6_of_run(plan.run_id)  # psutil: no k6 of this run is left


def test_a_crashed_shard_run_fails_the_run_in_one_line_and_stops_the_other(
    deployed: Deployed,  # noqa: F811 - the imported fixture
    worker: subprocess.Popen[bytes],
    storage: Path,
    clean_env: Path,
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL the flow-run process of shard 2 (its k6 dies with it): the worker reports the
    run Crashed, the coordinator turns that into the run's one-line failure and aborts
    shard 1 through the Prefect-Variable barrier long before its 30 s are up."""
    monkeypatch.setenv("SHARD_ENGINE", "work-pool")
    monkeypatch.setenv("SHARD_READY_TIMEOUT_S", "60")
    plan = make_plan(clean_env / "crash", settings_for(demo, seconds=30))
    shards_dir = plan.run_dir / "shards"
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_pool, deployed, storage, plan, 2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            files = [shards_dir / str(i) / "samples.csv" for i in range(2)]
            if all(f.is_file() and f.stat().st_size > 20_000 for f in files):
                break
            assert not running.done(), running.result()
            time.sleep(0.1)
        else:
            pytest.fail("the shards never started sending requests")
        k6 = psutil.Process(int((shards_dir / "1" / "k6.pid").read_text()))
        flow_run_process = k6.parent()
        assert flow_run_process is not None and "python" in flow_run_process.name()
        killed_at = time.monotonic()
        flow_run_process.kill()
        result = running.result(timeout=60)
    stopped_after = time.monotonic() - killed_at
    print(f"crashed shard: run ended {stopped_after:.1f} s after the kill: {result.message}")

    assert result.status in ("error", "aborted"), result.message
    assert result.message.startswith("shard 2/2"), result.message
    assert "Crashed" in result.message and "\n" not in result.message
    assert stopped_after < 25, "the other shard ran on instead of stopping"
    outcomes = (plan.run_dir / "shards.json").read_text(encoding="utf-8")
    assert '"stopped_by_peer": true' in outcomes  # shard 1 was stopped through the barrier
    time.sleep(0.5)
    assert not k6_of_run(plan.run_id)  # psutil: no k6 of this run is left


def test_a_missing_deployment_fails_in_one_line_before_any_shard_starts(
    deployed: Deployed,  # noqa: F811 - the imported fixture
    storage: Path,
    clean_env: Path,
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.distributed.model import ShardError

    monkeypatch.setenv("SHARD_ENGINE", "work-pool")
    monkeypatch.setenv("SHARD_DEPLOYMENT", "load-shard/nowhere")
    plan = make_plan(clean_env / "missing", settings_for(demo))
    with pytest.raises(ShardError) as raised:
        run_pool(deployed, storage, plan, 2)
    line = raised.value.one_line()
    assert "load-shard/nowhere" in line and "SHARD_DEPLOYMENT" in line and "\n" not in line
    variables = httpx.post(f"{deployed.api}/variables/filter", json={}, timeout=10).json()
    assert not [v["name"] for v in variables if v["name"].startswith("luna-shard-")]
