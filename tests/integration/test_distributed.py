"""Sharded runs with the real k6 on a real local Dask cluster (worker processes) against
the demo API on loopback: one process and 3 shards give the planned request count, the
merged percentiles equal the union of the shards' raw samples within the histogram's
precision, and a shard killed mid-run fails the run in one line and leaves no k6."""

from __future__ import annotations

import csv
import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from luna.catalog import load_catalog
from luna.results import RunResult
from luna.settings import LunaSettings, load_settings
from tasks.distributed.coordinate import barrier_spec, collect, local_cluster_kwargs, shard_jobs
from tasks.distributed.merge import merge_outcomes
from tasks.distributed.model import ShardOutcome
from tasks.distributed.shard import run_shard
from tasks.evaluation.slo import evaluate
from tasks.execution import hdr
from tasks.execution.k6 import run_k6
from tasks.execution.plan import LoadTestParams, RunPlan, prepare_run
from tasks.execution.series import merged_series
from tests.conftest import Demo, start_demo, write_catalog
from tests.integration.test_verdict_real import httpbin, served

pytestmark = pytest.mark.integration
__all__ = ["httpbin"]  # the module-scoped fixture, shared with test_verdict_real

# Iterations/s of the open-model smoke profile (the RATE setting / 10). At 125/s k6 starts
# one every 8 ms exactly: 500 planned in 4 s (t = 0 .. 3992 ms). The one due at exactly
# t = 4000 ms is a race with the end of the executor that k6 sometimes wins (seen: 500 and
# 501 on the same settings); it belongs to one segment only, so a sharded run can also
# have at most that one extra.
RATE = 125
SECONDS = 4


def quiet(level: str, text: str) -> None:
    """Line sink for shards on Dask workers (module level, so it pickles by reference)."""


@pytest.fixture(scope="module")
def server() -> Iterator[Demo]:
    demo = start_demo()
    yield demo
    demo.proc.terminate()
    demo.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(**{**local_cluster_kwargs(3, workers=2), "silence_logs": 40}) as cluster,
        Client(cluster) as client,
    ):
        yield client


def settings_for(demo: Demo, seconds: int = SECONDS) -> LunaSettings:
    return load_settings(
        base_url=demo.url,
        load_model="open",
        rate=RATE * 10,
        smoke_duration=f"{seconds}s",
        vus=30,
        smoke_vus=30,
        max_vus=90,
        shard_raw_samples=True,  # the figures are checked against k6's raw samples (samples.csv)
    )


def make_plan(tmp_path: Path, settings: LunaSettings) -> RunPlan:
    tmp_path.mkdir(parents=True, exist_ok=True)
    catalog = write_catalog(
        tmp_path / "endpoints.json",
        [
            {"name": "Health", "group": "g", "path": "/api/health", "weight": 3, "checks": {"status": 200}},
            {"name": "Users", "group": "g", "path": "/api/users", "weight": 1, "checks": {"status": 200}},
        ],
    )
    return prepare_run(LoadTestParams(profile="smoke", config=str(catalog)), settings)


def run_sharded(client: Any, plan: RunPlan, settings: LunaSettings, shards: int) -> list[ShardOutcome]:
    """What the distributed_load flow does, without Prefect: one Dask task per shard, the
    barrier on the scheduler, outcomes taken as they finish."""
    from distributed import as_completed

    spec = barrier_spec(plan, shards, "dask", client.scheduler.address)
    jobs = shard_jobs(plan, shards, spec, ready_timeout_s=60)
    futures = {client.submit(run_shard, job, settings, quiet, pure=False): job for job in jobs}
    barrier = spec.open()
    try:
        return collect(((futures[f], f.result) for f in as_completed(list(futures))), barrier.abort)
    finally:
        barrier.clear()


def raw_durations(shard_dirs: list[Path]) -> dict[str, list[int]]:
    """Every http_req_duration sample of every shard, in µs, per endpoint (read with csv,
    independently of tasks/distributed/samples.py)."""
    out: dict[str, list[int]] = {}
    for folder in shard_dirs:
        with (folder / "samples.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["metric_name"] == "http_req_duration":
                    out.setdefault(row["name"], []).append(hdr.to_us(float(row["metric_value"])))
    return out


def nearest_rank(values: list[int], percentile: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, int(percentile * len(ordered) / 100 + 0.5)) - 1]


def k6_of_run(run_id: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if f"run_id={run_id}" in cmdline:
            found.append(proc)
    return found


def test_one_process_and_three_shards_make_the_planned_requests_with_exact_percentiles(
    clean_env: Path, server: Demo, dask_client: Any
) -> None:
    planned = RATE * SECONDS
    allowed = (planned, planned + 1)  # + the boundary iteration, see RATE

    settings = settings_for(server)
    server.reset()
    single = run_k6(make_plan(clean_env / "one", settings), settings, quiet, lambda f, t: None)
    assert single.status == "passed", single.message
    assert single.total is not None and single.total.requests in allowed
    assert server.stats()["total"] == single.total.requests

    server.reset()
    plan = make_plan(clean_env / "three", settings)
    outcomes = run_sharded(dask_client, plan, settings, 3)
    merged: RunResult = merge_outcomes(plan, outcomes)
    assert merged.status == "passed", merged.message
    assert [o.status for o in outcomes] == ["passed"] * 3
    assert sum(o.samples.dropped_iterations for o in outcomes if o.samples) == 0
    assert merged.total is not None and merged.total.requests in allowed
    assert server.stats()["total"] == merged.total.requests  # the server counted exactly as many
    assert sum(e.requests for e in merged.endpoints) == merged.total.requests
    assert merged.iterations == merged.total.requests
    assert sorted(o.count for o in outcomes) == [3, 3, 3]

    # The shards started together: every one was unpaused within a second of the first.
    resumed = [o.resumed_at for o in outcomes if o.resumed_at is not None]
    assert len(resumed) == 3 and (max(resumed) - min(resumed)).total_seconds() < 1.0
    # RPS over the common window is the single process's rate, give or take the start skew.
    assert merged.total.rps == pytest.approx(single.total.rps, rel=0.25)
    # The report's charts: each shard's periods count its calls, and their sum the run's.
    for o in outcomes:
        assert o.series is not None and o.samples is not None
        assert sum(o.series.calls) == o.samples.overall.requests and len(o.series.buckets) == len(o.series.calls)
    series = merged_series([o.series for o in outcomes if o.series is not None], merged.duration_s)
    # VUs on every period (the open model's are busy only during an iteration: often 0 here)
    assert series is not None and None not in series.vus
    periods = zip([0.0, *series.timestamps[:-1]], series.timestamps, series.rps, strict=True)
    assert sum(rps * (end - start) for start, end, rps in periods) == pytest.approx(merged.total.requests, abs=1)

    union = raw_durations([Path(o.run_dir) for o in outcomes])
    assert sum(len(v) for v in union.values()) == merged.total.requests
    for endpoint in merged.endpoints:
        values = union[endpoint.name]
        assert endpoint.requests == len(values)
        for key, p in (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0)):
            exact_ms = nearest_rank(values, p) / 1000
            got = getattr(endpoint.latency_ms, key)
            assert exact_ms <= got <= exact_ms * (1 + hdr.RELATIVE_PRECISION) + 0.001, (endpoint.name, key)
        assert endpoint.latency_ms.max == pytest.approx(max(values) / 1000, abs=0.001)
    everything = [v for values in union.values() for v in values]
    exact_p95 = nearest_rank(everything, 95.0) / 1000
    assert exact_p95 <= merged.total.latency_ms.p95 <= exact_p95 * (1 + hdr.RELATIVE_PRECISION) + 0.001  # type: ignore[operator]


def test_a_killed_shard_fails_the_run_in_one_line_and_leaves_no_k6(
    clean_env: Path, server: Demo, dask_client: Any
) -> None:
    settings = settings_for(server, seconds=30)
    plan = make_plan(clean_env, settings)
    shards_dir = plan.run_dir / "shards"
    from distributed import as_completed

    spec = barrier_spec(plan, 3, "dask", dask_client.scheduler.address)
    jobs = shard_jobs(plan, 3, spec, ready_timeout_s=60)
    futures = {dask_client.submit(run_shard, job, settings, quiet, pure=False): job for job in jobs}
    began = time.monotonic()
    # Wait for load on every shard (samples flowing), then SIGKILL shard 2's k6.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = [shards_dir / str(i) / "samples.csv" for i in range(3)]
        if all(f.is_file() and f.stat().st_size > 20_000 for f in files):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the shards never started sending requests")
    pid = int((shards_dir / "1" / "k6.pid").read_text())
    assert psutil.Process(pid).name() == "k6"
    os.kill(pid, signal.SIGKILL)

    barrier = spec.open()
    outcomes = collect(((futures[f], f.result) for f in as_completed(list(futures))), barrier.abort)
    barrier.clear()
    elapsed = time.monotonic() - began
    merged = merge_outcomes(plan, outcomes)

    assert merged.status == "aborted"
    assert merged.message.startswith("shard 2/3 on ")
    assert "killed by signal 9" in merged.message and "other shards were stopped" in merged.message
    assert "\n" not in merged.message
    by_index = {o.index: o for o in outcomes}
    assert by_index[1].stopped_by_peer is False and by_index[1].k6_exit_code == -9
    assert by_index[0].stopped_by_peer and by_index[2].stopped_by_peer
    assert elapsed < 25, "the other shards ran on instead of stopping"
    assert merged.total is not None and merged.total.requests > 0  # what ran is kept
    time.sleep(0.5)
    assert k6_of_run(plan.run_id) == [], "a k6 process of the run is still alive"
    assert math.isfinite(merged.total.rps)


def test_stopping_a_run_from_outside_stops_every_shard_on_a_long_lived_cluster(
    clean_env: Path, server: Demo, dask_client: Any
) -> None:
    """What the distributed_load flow's cancel/crash hook does for DASK_ADDRESS clusters,
    whose shards outlive the flow's process."""
    from distributed import as_completed

    from tasks.distributed.coordinate import stop_run_shards

    settings = settings_for(server, seconds=30)
    plan = make_plan(clean_env, settings)
    spec = barrier_spec(plan, 3, "dask", dask_client.scheduler.address)
    jobs = shard_jobs(plan, 3, spec, ready_timeout_s=60)
    futures = {dask_client.submit(run_shard, job, settings, quiet, pure=False): job for job in jobs}
    began = time.monotonic()
    deadline = time.monotonic() + 60
    while not all((plan.run_dir / "shards" / str(i) / "k6.pid").is_file() for i in range(3)):
        assert time.monotonic() < deadline, "the shards never started"
        time.sleep(0.1)
    time.sleep(1.0)
    stop_run_shards(plan.run_id, 3, dask_client.scheduler.address, "the flow run ended Cancelled: by the user")
    barrier = spec.open()
    outcomes = collect(((futures[f], f.result) for f in as_completed(list(futures))), barrier.abort)
    barrier.clear()
    merged = merge_outcomes(plan, outcomes)
    assert time.monotonic() - began < 25
    assert all(o.stopped_by_peer for o in outcomes)
    assert merged.status == "aborted"
    assert merged.message == "all 3 shards were stopped: the flow run ended Cancelled: by the user"
    assert k6_of_run(plan.run_id) == []


def test_a_breach_in_a_shard_stops_every_shard_and_fails_the_run_against_httpbin(
    clean_env: Path, httpbin: tuple[str, Path], dask_client: Any
) -> None:
    """`slos.abort_on_breach` in a sharded run: each shard watches its own slice of the calls
    (the same watch as a single run); the first to cross the error-rate SLO stops itself and,
    through the barrier, the others. httpbin (gunicorn, a real third-party service) counts
    what it was sent."""
    url, log = httpbin
    before = len(log.read_text().splitlines())
    planned_s = 60
    settings = load_settings(base_url=url, smoke_duration=f"{planned_s}s", smoke_vus=4)
    config = write_catalog(
        clean_env / "endpoints.json",
        [
            {"name": "ok", "group": "h", "path": "/get", "checks": {"status": 200}},
            {"name": "down", "group": "h", "path": "/status/503", "checks": {"status": 200}},
        ],
        service="httpbin",
        slos={"p95_ms": 1000, "error_rate": 0.01, "abort_on_breach": True, "abort_after_s": 2},
    )
    plan = prepare_run(LoadTestParams(profile="smoke", config=str(config)), settings)
    began = time.monotonic()
    outcomes = run_sharded(dask_client, plan, settings, 2)
    merged = merge_outcomes(plan, outcomes)
    time.sleep(1)  # gunicorn's workers flush their access log lines
    counts = served(log, before)
    assert time.monotonic() - began < planned_s / 2
    breached = sorted((o for o in outcomes if o.stopped_early), key=lambda o: o.index)
    assert breached, [o.message for o in outcomes]
    assert all(o.stopped_early or o.stopped_by_peer for o in outcomes), [o.message for o in outcomes]
    assert merged.status == "failed", merged.message
    assert merged.message.startswith(f"{breached[0].label} on ")
    assert "by slos.abort_on_breach: luna_call_failed rate<=0.01" in merged.message
    assert merged.stopped_early == merged.message
    by_name = {e.name: e for e in merged.endpoints}
    # what the merge judged is what httpbin answered; calls cut off by the stop are not counted
    assert 0 < by_name["ok"].requests <= counts["/get"]
    assert 0 < by_name["down"].requests == by_name["down"].failed_requests <= counts["/status/503"]
    verdict = evaluate(merged, load_catalog(config))
    assert verdict.status == "fail" and verdict.reason.startswith(merged.message)
    assert k6_of_run(plan.run_id) == []
