"""The `load_test` flow under Prefect's test harness: states, results and artifacts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from luna.errors import RunFailed
from luna.results import RunResult
from tests.conftest import Demo, write_catalog

pytestmark = pytest.mark.e2e


def _artifacts(key: str) -> list[object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> list[object]:
        async with get_client() as client:
            return list(await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))

    return asyncio.run(read())


def test_flow_passes_and_leaves_results_and_artifacts(
    harness: None, demo: Demo, tmp_path: Path, clean_env: Path
) -> None:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    catalog = write_catalog(
        tmp_path / "e.json", [{"name": "Users", "group": "u", "path": "/api/users"}], service="Flow Test"
    )
    params = LoadTestParams(profile="smoke", target=demo.url, config=str(catalog), smoke_duration="2s")
    state = load_test(params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, RunResult) and result.status == "passed"
    assert {"summary", "k6_summary", "k6_report", "k6_log"} <= set(result.files)
    assert RunResult.read(Path(result.run_dir)).run_id == result.run_id
    progress = _artifacts("progress-flow-test-smoke")
    assert progress and progress[0].type == "progress" and progress[0].data == 100.0  # type: ignore[attr-defined]
    report = _artifacts("load-test-flow-test-smoke")
    assert report and "Users" in str(report[0].data)  # type: ignore[attr-defined]


def test_flow_fails_on_crossed_threshold_and_keeps_the_result(
    harness: None, demo: Demo, tmp_path: Path, clean_env: Path
) -> None:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    catalog = write_catalog(tmp_path / "e.json", [{"name": "Boom", "group": "g", "path": "/api/always500"}])
    params = LoadTestParams(profile="smoke", target=demo.url, config=str(catalog), smoke_duration="1s")
    state = load_test(params, return_state=True)
    assert state.is_failed()
    assert "every request failed" in (state.message or "")
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RunFailed) and error.exit_code == 1
    assert error.result.total.error_rate == 1.0
    with pytest.raises(RunFailed):
        load_test(params)


def test_flow_parameters_build_a_usable_ui_form() -> None:
    from flows.load_test import load_test

    schema = load_test.parameters.model_dump()
    params = schema["definitions"]["LoadTestParams"]["properties"]
    assert params["profile"]["enum"] == ["smoke", "ramp", "soak", "stress", "spike"]
    assert params["vus"]["anyOf"][0]["minimum"] == 1
    assert all(p.get("description") for p in params.values())
