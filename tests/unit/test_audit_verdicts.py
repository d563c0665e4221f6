"""Audit verdicts that mean what they say: visual-QA findings at LUNA_VQA_FAIL_ON severity
or worse fail the run (default high); an unmeasured Lighthouse budget is not a pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.audit.model import BudgetCheck
from tasks.pipeline.stages import visual_qa_outcome
from tasks.visual_qa.model import Finding, PageProbe, VisualQAResult
from tasks.visual_qa.report import markdown_report

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def vqa(*severities: str, fail_on: str = "high", load_error: str = "") -> VisualQAResult:
    findings = [Finding(source="probes", severity=s, category="layout", description=f"{s} thing") for s in severities]  # type: ignore[arg-type]
    return VisualQAResult(
        run_id="v1",
        run_dir="/tmp/v1",
        url="http://127.0.0.1:8787/",
        model="m",
        started_at=NOW,
        finished_at=NOW,
        probe=PageProbe(findings=findings, load_error=load_error),
        fail_on=fail_on,  # type: ignore[arg-type]
    )


def test_high_severity_findings_fail_the_run_by_default() -> None:
    result = vqa("high", "high", "high", "low")
    assert not result.passed and result.verdict == "fail" and len(result.blocking) == 3
    assert result.verdict_line().startswith("FAIL: 3 findings at high severity or worse; 4 findings")
    stage = visual_qa_outcome(result)
    assert stage.status == "failed" and stage.reason.startswith("FAIL: 3 findings")
    assert markdown_report(result).replace("\\", "").startswith("# Visual QA of http://127.0.0.1:8787/: FAIL")


@pytest.mark.parametrize(
    "severities,fail_on,passed",
    [
        (("medium", "low", "info"), "high", True),
        (("critical",), "high", False),
        (("high",), "critical", True),
        (("critical", "high"), "never", True),
        (("low",), "low", False),
    ],
)
def test_the_threshold_is_a_severity_or_never(severities: tuple[str, ...], fail_on: str, passed: bool) -> None:
    result = vqa(*severities, fail_on=fail_on)
    assert result.passed is passed and visual_qa_outcome(result).status == ("passed" if passed else "failed")


def test_a_page_that_did_not_load_is_an_error_not_a_pass() -> None:
    result = vqa(load_error="HTTP 404")
    assert not result.passed and result.verdict == "error" and visual_qa_outcome(result).status == "error"


def test_older_vqa_json_reads_with_the_default_threshold() -> None:
    data = vqa("high").model_dump(mode="json")
    data.pop("fail_on")
    assert VisualQAResult.model_validate(data).fail_on == "high"


def test_older_lighthouse_checks_read_not_measured_as_not_measured() -> None:
    old = BudgetCheck.model_validate(
        {"name": "inp_ms", "op": "<=", "limit": 200, "passed": True, "note": "not measured"}
    )
    assert old.state == "not_measured" and not old.passed
    held = BudgetCheck.model_validate({"name": "cls", "op": "<=", "limit": 0.1, "value": 0.01, "passed": True})
    assert held.state == "pass" and held.passed
