"""Unit tests of the test-service pipeline's pure parts: the result model, the verdict's
crossed SLOs, the combined report (escaping included), and the stage helpers."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from luna.errors import ConfigError
from luna.settings import load_settings
from luna.verdict import Verdict
from tasks.discovery.model import DiscoveredEndpoint, Discovery
from tasks.pipeline.model import PipelineFailed, PipelineResult, StageOutcome, check_target, slo_failures
from tasks.pipeline.report import html_report, markdown_report
from tasks.pipeline.stages import pages_of

pytestmark = pytest.mark.unit

ENDPOINT = {"group": "api", "state": "ok", "ok": True, "requests": 10, "apdex": 1.0, "apdex_t_ms": 500}
IDLE = {"slo": "p95_ms", "value": None, "target": 500, "op": "<=", "ok": False}  # not judged: no requests
VERDICT = Verdict.model_validate(
    {
        "run_id": "r1",
        "service": "Shop",
        "profile": "smoke",
        "status": "fail",
        "reason": "2 SLO checks crossed",
        "headline": "p95 120 ms",
        "apdex": 0.9,
        "overall": [
            {"slo": "p95_ms", "value": 120.0, "target": 500, "op": "<=", "ok": True},
            {"slo": "error_rate", "value": 0.25, "target": 0.01, "op": "<=", "ok": False},
        ],
        "endpoints": [
            {
                **ENDPOINT,
                "name": "getSlow",
                "state": "fail",
                "ok": False,
                "checks": [{"slo": "p95_ms", "value": 812.4, "target": 500, "op": "<=", "ok": False}],
            },
            {
                **ENDPOINT,
                "name": "getOk",
                "checks": [{"slo": "apdex_score", "value": 0.99, "target": 0.85, "op": ">=", "ok": True}],
            },
            {**ENDPOINT, "name": "getIdle", "state": "not_exercised", "ok": False, "requests": 0, "checks": [IDLE]},
        ],
    }
)


def _result(tmp_path: Path, *stages: StageOutcome, verdict: Verdict | None = None) -> PipelineResult:
    return PipelineResult(
        pipeline_id="p1",
        target="http://127.0.0.1:8787",
        profile="smoke",
        service="Shop <script>alert(1)</script> | x",
        commit="`rm -rf /`",
        started_at=datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        stages=list(stages),
        verdict=verdict,
        slo_failures=slo_failures(verdict),
        out_dir=str(tmp_path),
    )


def test_crossed_slos_are_listed_overall_first_and_formatted() -> None:
    failures = slo_failures(VERDICT)
    assert [(f.endpoint, f.slo) for f in failures] == [("overall", "error_rate"), ("getSlow", "p95_ms")]
    assert failures[0].line() == "SLO error_rate on overall: 25.00% (target <= 1.00%)"
    assert failures[1].line() == "SLO p95_ms on getSlow: 812 ms (target <= 500 ms)"
    assert slo_failures(None) == []


def test_pass_fail_and_assert_success(tmp_path: Path) -> None:
    ok = _result(tmp_path, StageOutcome(name="load", status="passed"), StageOutcome(name="generate", status="skipped"))
    assert ok.passed and ok.status == "pass" and ok.assert_success() is ok
    bad = _result(
        tmp_path,
        StageOutcome(name="load", status="failed", reason="2 SLO checks crossed"),
        StageOutcome(name="lighthouse", status="error", reason="Chromium did not start"),
        verdict=VERDICT,
    )
    assert not bad.passed
    # a failed load stage is told by its SLOs, not twice
    assert bad.problems() == [
        "lighthouse error: Chromium did not start",
        "SLO error_rate on overall: 25.00% (target <= 1.00%)",
        "SLO p95_ms on getSlow: 812 ms (target <= 500 ms)",
    ]
    with pytest.raises(PipelineFailed) as caught:
        bad.assert_success()
    assert "lighthouse error" in str(caught.value) and "getSlow" in str(caught.value)
    assert caught.value.exit_code == 1
    again = pickle.loads(pickle.dumps(caught.value))  # Prefect keeps it in the Failed state
    assert again.result.pipeline_id == "p1"


def test_result_round_trips_through_its_folder(tmp_path: Path) -> None:
    result = _result(
        tmp_path, StageOutcome(name="discover", status="passed", details={"endpoints": 3}), verdict=VERDICT
    )
    result.write()
    again = PipelineResult.read(tmp_path)
    assert again == result and isinstance(again.verdict, Verdict) and again.slo_failures == result.slo_failures


def test_a_pipeline_json_of_before_typed_figures_still_reads(tmp_path: Path) -> None:
    """Figures are values or lists of names; an older file's per-kind test counts (an object)
    read as the one-line figure the generate stage writes now."""
    result = _result(tmp_path, StageOutcome(name="generate", status="passed", details={"suite": "demo"}))
    result.write()
    data = json.loads((tmp_path / "pipeline.json").read_text(encoding="utf-8"))
    data["stages"][0]["details"]["tests"] = {"api": 12, "k6": 1}
    (tmp_path / "pipeline.json").write_text(json.dumps(data), encoding="utf-8")
    assert PipelineResult.read(tmp_path).stages[0].details == {"suite": "demo", "tests": "api 12, k6 1"}
    with pytest.raises(ValidationError):
        StageOutcome(name="generate", status="passed", details={"nested": [{"not": "a name"}]})


def test_reports_escape_what_came_from_the_service(tmp_path: Path) -> None:
    result = _result(
        tmp_path,
        StageOutcome(name="discover", status="passed", reason="3 endpoints | [x](javascript:alert(1))"),
        StageOutcome(name="generate", status="skipped", reason="switched off"),
        StageOutcome(name="load", status="failed", reason="crossed", links={"run_dir": "/tmp/a`b"}),
        verdict=VERDICT,
    )
    md = markdown_report(result, load_settings())
    assert "| discover | ✅ passed |" in md and "| generate | ⏭️ skipped |" in md
    assert "<script>" not in md and "](javascript" not in md
    assert "\\| x" in md  # the service name cannot break the table
    assert "`/tmp/a'b`" in md  # a backtick cannot close the code span
    html = html_report(result, load_settings())
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "25.00%" in html and "812 ms" in html


def test_pages_for_the_browser_stages() -> None:
    found = Discovery(
        source="s",
        kind="openapi",
        endpoints=[
            DiscoveredEndpoint(name="home", path="/", response_type="text/html"),
            DiscoveredEndpoint(name="api", path="/api/users", response_type="application/json"),
            DiscoveredEndpoint(name="user", path="/u/{id}", response_type="text/html"),
            DiscoveredEndpoint(name="form", method="POST", path="/form", response_type="text/html"),
            DiscoveredEndpoint(name="home2", path="/", response_type="text/html; charset=utf-8"),
        ],
    )
    assert pages_of([found], "http://h") == ["http://h/"]
    assert pages_of([], "http://h") == ["http://h/"]


@pytest.mark.parametrize("bad", ["", "127.0.0.1:8787", "ftp://h/x", "http://"])
def test_target_must_be_an_http_url(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_target(bad)
    assert check_target("http://127.0.0.1:8787/") == "http://127.0.0.1:8787"
