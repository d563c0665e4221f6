"""The whole pipeline (flow `test-service`) under prefect_test_harness, every stage on:
discovery of the demo API, generated suites run for real, k6, SLOs, InfluxDB (real
influxd), Lighthouse (npm, Chromium), visual QA (probes in Chromium, personas against the
local Anthropic-format server), the combined report, notify; and a dead target, where the
stages that cannot run say why and the rest still report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from luna import LunaClient
from luna.keys import artifact_key
from tasks.pipeline.model import PipelineFailed, PipelineResult
from tests.conftest import Demo, free_port, write_catalog
from tests.fake_anthropic import API_KEY, FakeAnthropic
from tests.fixtures_influx import InfluxServer, shared_influxd  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e
AGENTS = ["accessibility-auditor", "colour-blind-user", "mobile-user"]


@pytest.fixture
def env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("VISUAL_QA_AI_KEY", "VISUAL_QA_AI_BASE_URL", "ANTHROPIC_API_KEY", "SMOKE_DURATION", "SMOKE_VUS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SMOKE_DURATION", "3s")
    monkeypatch.setenv("SMOKE_VUS", "2")
    return clean_env


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts()
    texts = [str(a.data) for a in found if a.key == key]
    assert texts, f"no artifact {key}: {[a.key for a in found]}"
    return texts[0]


def test_every_stage_against_the_demo(
    harness: None,
    demo: Demo,
    env: Path,
    fake_anthropic: FakeAnthropic,
    shared_influxd: InfluxServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VISUAL_QA_AI_KEY", API_KEY)
    monkeypatch.setenv("VISUAL_QA_AI_BASE_URL", fake_anthropic.url)
    monkeypatch.setenv("INFLUXDB_URL", shared_influxd.url)
    shared_influxd.create_database("k6")
    result = LunaClient().test_service(
        demo.url,
        source=f"{demo.url}/openapi.json",
        vqa_agents=AGENTS,
        suites_dir=str(env / "suites"),
        commit="abc123",
    )
    assert isinstance(result, PipelineResult)
    stages = {s.name: s for s in result.stages}
    assert list(stages) == ["discover", "generate", "load", "lighthouse", "visual_qa", "report", "notify"]
    assert stages["discover"].status == "passed" and stages["discover"].details["endpoints"] >= 10

    # the demo has endpoints that always fail: the generated API suite and the SLOs catch them
    generate = stages["generate"]
    assert generate.status == "failed" and "failed" in generate.reason
    assert "test_get_always500" in generate.details["failing_tests"]
    assert (env / "suites" / "luna-demo-api" / "luna-suite.json").is_file()
    load = stages["load"]
    assert load.status == "failed" and load.details["requests"] > 0
    assert {f.endpoint for f in result.slo_failures} >= {"getAlways500"}
    assert result.run_id and (Path(load.links["run_dir"]) / "verdict.json").is_file()

    # the browser stages ran after k6, concurrently, with their own results
    lighthouse = stages["lighthouse"]
    assert lighthouse.status in ("passed", "failed"), lighthouse.reason  # ran; budgets decide
    assert lighthouse.details["pages"] == 2  # the demo's two HTML pages, from the spec
    visual = stages["visual_qa"]
    blocking = visual.details.get("findings_critical", 0) + visual.details.get("findings_high", 0)
    assert visual.status == ("failed" if blocking else "passed"), visual.reason  # LUNA_VQA_FAIL_ON=high
    assert visual.details["personas_answered"] == len(AGENTS)
    assert len(fake_anthropic.requests) == len(AGENTS)
    assert all(r.images for r in fake_anthropic.requests)  # screenshots went as image blocks
    assert stages["report"].status == "passed" and stages["notify"].status == "passed"

    # one combined report: file, pipeline.json and the Prefect artifact, every stage listed
    out = Path(result.out_dir)
    assert PipelineResult.read(out).pipeline_id == result.pipeline_id
    markdown = _artifact(artifact_key("luna-pipeline", result.service, "smoke"))
    for name in ("discover", "generate", "load", "lighthouse", "visual_qa"):
        assert f"| {name} |" in markdown, name
    assert "getAlways500" in markdown and "abc123" in markdown
    html = (out / "report.html").read_text()
    assert "test-service FAIL" in html and "SLOs crossed" in html

    # InfluxDB has the load run's summary point and the Lighthouse scores
    influx = shared_influxd.client("k6")
    rows = influx.query(f"SELECT count(*) FROM luna_run WHERE run_id = '{result.run_id}'")
    assert rows, "no luna_run point"
    assert influx.query("SELECT * FROM luna_lighthouse LIMIT 1")

    with pytest.raises(PipelineFailed) as failed:
        result.assert_success()
    assert "generate failed" in str(failed.value) and "getAlways500" in str(failed.value)


def test_a_dead_target_is_reported_stage_by_stage(harness: None, env: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = LunaClient().test_service(dead, lighthouse=False, suites_dir=str(env / "suites"))
    stages = {s.name: s for s in result.stages}
    assert stages["discover"].status == "error" and "cannot reach" in stages["discover"].reason
    assert stages["generate"].status == "skipped" and stages["load"].status == "skipped"
    assert "discovery did not produce one" in stages["load"].reason
    assert stages["lighthouse"].status == "skipped" and stages["lighthouse"].reason == "switched off"
    assert stages["visual_qa"].status == "error"  # the page does not load; the stage says so
    assert stages["report"].status == "passed"  # the others' results are still reported
    assert not result.passed
    problems = result.problems()
    assert problems[0].startswith("discover error:") and any(p.startswith("visual_qa error:") for p in problems)
    report = (Path(result.out_dir) / "report.md").read_text()
    assert "discovery did not produce one" in report
    assert json.loads((Path(result.out_dir) / "pipeline.json").read_text())["target"] == dead


def test_bad_target_is_one_line(harness: None, env: Path) -> None:
    from luna.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        LunaClient().test_service("not a url")
    assert "is not a usable http(s) URL" in caught.value.one_line()


HOOK = """
from pathlib import Path


def on_run_start(context):
    Path(context.run_dir, "hook-start").write_text(context.run_id)


def on_run_finish(context):
    Path(context.run_dir, "hook-finish").write_text(context.run_id)
"""


def test_the_load_stage_is_the_load_test_flow_with_its_hooks(
    harness: None, demo: Demo, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load stage runs the `load_test` flow as a subflow, so the plugin hooks run too."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    hooks = env / "hooks"
    hooks.mkdir()
    (hooks / "markers.py").write_text(HOOK, encoding="utf-8")
    monkeypatch.setenv("LUNA_HOOKS_DIR", str(hooks))
    config = write_catalog(
        env / "endpoints.json", [{"name": "Users", "group": "u", "path": "/api/users", "checks": {"status": 200}}]
    )
    only_load_test = FlowFilter(name=FlowFilterName(any_=["load_test"]))
    with get_client(sync_client=True) as client:  # the harness is shared: earlier tests ran load_test too
        before = {r.id for r in client.read_flow_runs(flow_filter=only_load_test)}
    result = LunaClient().test_service(
        demo.url, config=str(config), discover=False, generate=False, lighthouse=False, visual_qa=False, notify=False
    )
    load = next(s for s in result.stages if s.name == "load")
    assert load.status == "passed", load.reason
    run_dir = Path(load.links["run_dir"])
    assert (run_dir / "hook-start").read_text() == result.run_id
    assert (run_dir / "hook-finish").read_text() == result.run_id
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs(flow_filter=only_load_test) if r.id not in before]
        parent = client.read_flow_run(runs[0].id) if runs else None
    assert len(runs) == 1 and parent is not None and parent.parent_task_run_id is not None  # a subflow


def test_a_deployment_run_checks_k6_before_discovery_probes_the_target(
    harness: None, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow as a deployment or the Prefect UI runs it (no application layer): a broken k6
    fails it first thing, naming K6_BINARY; discovery never sent the target a request."""
    from flows.test_service import test_service
    from tests.servers.echo import EchoServer

    monkeypatch.setenv("K6_BINARY", "/bin/false")
    with EchoServer() as echo:
        state = test_service(echo.url, lighthouse=False, visual_qa=False, notify=False, return_state=True)
        assert echo.requests == []
    assert state.is_failed()
    assert "k6 at /bin/false" in str(state.message) and "K6_BINARY" in str(state.message), state.message
