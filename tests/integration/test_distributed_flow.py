"""`load_test` with `shards=3` under Prefect's test harness: the shards run as tasks on a
local Dask cluster (DaskTaskRunner) and the merged RunResult goes through the same
verdict, history and reports as a single k6 process's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from luna.results import RunResult
from tests.conftest import Demo, write_catalog

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_sharded_load_test_flow_gives_one_run_with_one_verdict_and_report(
    harness: None, demo: Demo, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    # The local cluster's worker processes inherit the environment: one worker, 3 threads.
    for key, value in {"DASK_WORKERS": "1", "SMOKE_VUS": "30", "VUS": "30", "MAX_VUS": "90"}.items():
        monkeypatch.setenv(key, value)
    catalog = write_catalog(
        clean_env / "e.json",
        [{"name": "Health", "group": "g", "path": "/api/health", "checks": {"status": 200}}],
        service="Sharded",
    )
    params = LoadTestParams(
        profile="smoke",
        target=demo.url,
        config=str(catalog),
        load_model="open",
        rate=1250,  # smoke runs RATE / 10 = 125 iterations/s: one every 8 ms exactly
        smoke_duration="3s",
        shards=3,
    )
    state = load_test(params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, RunResult) and result.status == "passed", result
    # 375 planned, plus the one due at exactly t = 3 s when k6 starts it (a race with the end)
    assert result.total is not None and result.total.requests in (125 * 3, 125 * 3 + 1)
    run_dir = Path(result.run_dir)
    shards = json.loads((run_dir / "shards.json").read_text())
    assert [s["index"] for s in shards] == [0, 1, 2] and all(s["status"] == "passed" for s in shards)
    assert sum(s["samples"]["overall"]["requests"] for s in shards) == result.total.requests
    assert RunResult.read(run_dir).total == result.total
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["status"] == "pass" and verdict["run_id"] == result.run_id
    assert (run_dir / "report.html").stat().st_size > 5000
