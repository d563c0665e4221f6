"""The `load_test` flow under Prefect's test harness: states, results and artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from luna.errors import RunFailed
from luna.keys import artifact_key
from luna.results import RunResult
from tests.conftest import Demo, artifacts, write_catalog

pytestmark = pytest.mark.e2e


def test_flow_passes_and_leaves_results_andartifacts(
    harness: None, demo: Demo, tmp_path: Path, clean_env: Path
) -> None:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    catalog = write_catalog(
        tmp_path / "e.json", [{"name": "Users", "group": "u", "path": "/api/users"}], service="Flow Test"
    )
    params = LoadTestParams(
        profile="smoke", target=demo.url, config=str(catalog), smoke_duration="2s", grafana_url="http://127.0.0.1:3000"
    )
    state = load_test(params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, RunResult) and result.status == "passed"
    assert {"summary", "k6_options", "series", "k6_log"} <= set(result.files) and "k6_report" not in result.files
    assert RunResult.read(Path(result.run_dir)).run_id == result.run_id
    progress = artifacts(artifact_key("luna-progress", "Flow Test", "smoke"))
    assert progress and progress[0].type == "progress" and progress[0].data == 100.0  # type: ignore[attr-defined]
    report = artifacts(artifact_key("luna-report", "Flow Test", "smoke"))
    assert report and "Users" in str(report[0].data) and "PASS" in str(report[0].data)  # type: ignore[attr-defined]
    table = artifacts(artifact_key("luna-endpoints", "Flow Test", "smoke"))
    assert table and table[0].type == "table"  # type: ignore[attr-defined]
    link = artifacts(artifact_key("luna-grafana", "Flow Test", "smoke"))
    assert link  # Prefect stores a link artifact as markdown "[text](url)"
    assert "/d/luna-k6/" in str(link[0].data) and f"var-run_id={result.run_id}" in str(link[0].data)  # type: ignore[attr-defined]
    history = artifacts(artifact_key("luna-history", "Flow Test", "smoke"))
    assert history and result.run_id in str(history[0].data)  # type: ignore[attr-defined]
    run_dir = Path(result.run_dir)
    assert (run_dir / "report.html").stat().st_size > 5000 and (run_dir / "verdict.json").is_file()
    assert "<svg" in (run_dir / "badge.svg").read_text()


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


@pytest.mark.timeout(900)  # nine load_test flow runs on a shared 2-core machine
def test_baseline_comparison_flags_a_real_slowdown(harness: None, demo: Demo, tmp_path: Path, clean_env: Path) -> None:
    from flows.load_test import load_test
    from luna.verdict import Verdict
    from tasks.execution.plan import LoadTestParams

    def run(ms: int, **extra: object) -> RunResult | RunFailed:
        catalog = write_catalog(
            tmp_path / f"e{ms}.json",
            [{"name": "Slow", "group": "g", "path": f"/api/slow?ms={ms}"}],
            service="Baseline Svc",
            slos={"p95_ms": 1000, "error_rate": 0.01, "apdex_score": 0.5},
        )
        params = LoadTestParams(
            profile="smoke", target=demo.url, config=str(catalog), smoke_duration="2s", smoke_vus=6, **extra
        )  # type: ignore[arg-type]
        return load_test(params, return_state=True).result(raise_on_failure=False)  # type: ignore[no-any-return]

    # 20 ms and 100 ms: k6 stays far from saturation and the step far beyond a loaded machine's noise
    first = run(20)
    assert isinstance(first, RunResult)
    assert "nothing to compare" in Verdict.read(Path(first.run_dir)).baseline_note
    early = run(100)  # one run of history is no baseline: the size is shown, the answer is inconclusive
    assert isinstance(early, RunResult)
    early_verdict = Verdict.read(Path(early.run_dir))
    assert early_verdict.comparison is not None and early_verdict.comparison.outcome == "inconclusive"
    assert "4 more comparable runs needed" in early_verdict.baseline_note and not early_verdict.comparison.regressions
    fast = [run(20) for _ in range(4)]  # the window now holds 5 fast runs and the slow one
    assert all(isinstance(r, RunResult) for r in fast)
    second = run(100)
    assert isinstance(second, RunResult)  # a regression alone does not fail the verdict by default
    verdict = Verdict.read(Path(second.run_dir))
    assert verdict.comparison is not None and verdict.comparison.outcome == "regressed", verdict.comparison.reason
    assert "Slow: p95_ms" in verdict.comparison.regressions and len(verdict.comparison.window_run_ids) == 6
    assert verdict.trends and verdict.trends[0].endpoint == "_total" and len(verdict.trends[0].points) == 7
    pinned = run(100, baseline_run_id=first.run_id, fail_on_regression=True)
    assert isinstance(pinned, RunFailed) and pinned.exit_code == 1, pinned
    assert f"regressed against pinned run {first.run_id}" in pinned.verdict.reason
    assert pinned.result.generator is not None and pinned.result.generator.samples > 0


def test_auth_block_credentials_are_used_and_never_shown(
    harness: None, demo: Demo, tmp_path: Path, clean_env: Path
) -> None:
    from blocks.auth import ServiceAuth
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    ServiceAuth(mode="basic", basic_user="demo", basic_pass="demo-pass").save("demo-basic", overwrite=True)
    catalog = write_catalog(
        tmp_path / "e.json",
        [{"name": "Secure", "group": "a", "path": "/api/secure", "checks": {"status": 200}}],
        service="Block Svc",
    )
    params = LoadTestParams(target=demo.url, config=str(catalog), smoke_duration="1s", auth_block="demo-basic")
    result = load_test(params)
    assert isinstance(result, RunResult) and result.endpoints[0].check_pass_rate == 1.0
    for path in Path(result.run_dir).rglob("*"):
        if path.is_file():
            assert "demo-pass" not in path.read_text(errors="replace"), path
    for key in (artifact_key(f"luna-{kind}", "Block Svc", "smoke") for kind in ("report", "endpoints", "history")):
        assert "demo-pass" not in str(artifacts(key)[0].data)  # type: ignore[attr-defined]
    missing = load_test(params.model_copy(update={"auth_block": "nope"}), return_state=True)
    assert missing.is_failed() and "auth block 'nope' not found" in (missing.message or "")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"K6_BINARY": "/bin/false"}, ["k6 at /bin/false", "exited 1 with no output", "K6_BINARY"]),
        ({"LUNA_K6_SCRIPT": "{tmp}/broken.js"}, ["k6 cannot load the script", "broken.js"]),
    ],
)
def test_a_deployment_run_checks_k6_and_its_script_before_any_load(
    harness: None,
    tmp_path: Path,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    says: list[str],
) -> None:
    """The flow as a deployment or the Prefect UI runs it (no CLI, no application layer):
    a broken k6 or script fails the flow in its prepare task, with the reason in the flow's
    state and in the run folder, and not one request reaches the target."""
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams
    from tests.servers.echo import EchoServer

    (tmp_path / "broken.js").write_text("export default function( {\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("{tmp}", str(tmp_path)))
    with EchoServer() as echo:
        catalog = write_catalog(tmp_path / "e.json", [{"name": "Echo", "group": "g", "path": "/echo"}])
        params = LoadTestParams(profile="smoke", target=echo.url, config=str(catalog), smoke_duration="2s")
        state = load_test(params, return_state=True)
        assert echo.requests == []
    assert state.is_failed()
    summary = RunResult.read(next((clean_env / "out" / "runs").iterdir()))
    assert summary.status == "error" and summary.total is None
    for text in says:
        assert text in summary.message and text in str(state.message), (summary.message, state.message)
