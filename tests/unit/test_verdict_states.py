"""Issue 12 items 1, 7 and 9 on hand-built results: failed checks reach the verdict, "not
exercised" is its own state, history keys are exact per service name."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from luna.catalog import Catalog, parse_catalog
from luna.errors import EndpointsFileError
from luna.keys import artifact_key, service_key
from luna.results import CheckTally, EndpointStats, Latency, RunResult, Stats
from tasks.evaluation.history import history_key, history_key_pattern
from tasks.evaluation.slo import evaluate
from tasks.execution.summary import parse_summary

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def catalog(slos: dict[str, Any] | None = None, **overrides: dict[str, Any]) -> Catalog:
    endpoints: list[dict[str, Any]] = [
        {"name": "agents", "group": "g", "path": "/graphql"},
        {"name": "boom", "group": "g", "path": "/graphql"},
    ]
    for ep in endpoints:
        if ep["name"] in overrides:
            ep["slos"] = overrides[ep["name"]]
    return Catalog.model_validate({"service": "Svc", "slos": slos or {"p95_ms": 1000}, "endpoints": endpoints})


def ep_stats(
    name: str, requests: int, passed: int = 0, failed: int = 0, tallies: list[CheckTally] | None = None
) -> EndpointStats:
    checks = passed + failed
    return EndpointStats(
        name=name,
        group="g",
        method="POST",
        path="/graphql",
        requests=requests,
        rps=requests / 10,
        error_rate=0.0 if requests else None,
        latency_ms=Latency(p50=1, p90=2, p95=3, p99=4, max=5) if requests else Latency(),
        apdex_satisfied=requests,
        checks_passed=passed,
        checks_failed=failed,
        check_pass_rate=passed / checks if checks else None,
        check_tallies=tallies or [],
    )


def run(*endpoints: EndpointStats) -> RunResult:
    requests = sum(e.requests for e in endpoints)
    passed = sum(e.checks_passed for e in endpoints)
    failed = sum(e.checks_failed for e in endpoints)
    total = Stats(
        requests=requests,
        rps=requests / 10,
        error_rate=0.0 if requests else None,
        latency_ms=Latency(p50=1, p90=2, p95=3, p99=4, max=5),
        checks_passed=passed,
        checks_failed=failed,
        check_pass_rate=passed / (passed + failed) if passed + failed else None,
        apdex_satisfied=requests,
    )
    return RunResult(
        run_id="r1",
        service="Svc",
        profile="smoke",
        target="http://127.0.0.1:1",
        status="passed",
        started_at=NOW,
        finished_at=NOW,
        duration_s=10,
        run_dir="/tmp/x",
        total=total,
        endpoints=list(endpoints),
    )


GQL_FAILS = [
    CheckTally(name="status is 200", passes=50, fails=0),
    CheckTally(name="no graphql errors", passes=0, fails=50),
]


# ---- item 1: failed checks --------------------------------------------------------------


def test_failed_checks_fail_the_verdict_and_say_which_and_where() -> None:
    result = run(ep_stats("agents", 350, passed=700), ep_stats("boom", 50, passed=50, failed=50, tallies=GQL_FAILS))
    verdict = evaluate(result, catalog())
    assert verdict.status == "fail"
    boom = verdict.endpoints[1]
    assert boom.state == "fail"
    check = next(c for c in boom.checks if c.slo == "check_pass_rate")
    assert check.value == pytest.approx(0.5) and check.target == 1.0 and not check.ok
    assert "boom: checks 50.00% passed (target >= 100.00%)" in verdict.reason
    assert "'no graphql errors' failed 50 of 50" in verdict.reason
    assert "failures.jsonl" in verdict.reason  # the fix names where to look
    assert "status is 200" not in verdict.reason.split("boom:")[1]  # only the failing check is named
    assert verdict.endpoints[0].state == "ok"
    # judged per endpoint: the run's total never overrules an endpoint's own target
    assert all(c.slo != "check_pass_rate" for c in verdict.overall)


def test_check_pass_rate_is_overridable_per_endpoint_and_per_service() -> None:
    result = run(ep_stats("agents", 350, passed=700), ep_stats("boom", 50, passed=50, failed=50, tallies=GQL_FAILS))
    per_endpoint = evaluate(result, catalog({"p95_ms": 1000, "check_pass_rate": 0.9}, boom={"check_pass_rate": 0.5}))
    assert per_endpoint.passed, per_endpoint.reason
    service_wide = evaluate(result, catalog({"p95_ms": 1000, "check_pass_rate": 0.5}))
    assert service_wide.passed, service_wide.reason


def test_no_checks_configured_is_not_a_check_failure() -> None:
    verdict = evaluate(run(ep_stats("agents", 10), ep_stats("boom", 10)), catalog())
    assert verdict.passed
    assert all(c.slo != "check_pass_rate" for e in verdict.endpoints for c in e.checks)


def test_check_pass_rate_typo_gets_the_nearest_name() -> None:
    data = {"service": "S", "slos": {"check_pass_rat": 0.9}, "endpoints": [{"name": "a", "group": "g", "path": "/"}]}
    with pytest.raises(EndpointsFileError) as caught:
        parse_catalog(data, source="e.json")
    assert "did you mean 'check_pass_rate'" in caught.value.one_line()
    data = {
        "service": "S",
        "endpoints": [{"name": "a", "group": "g", "path": "/", "slos": {"check_passrate": 1}}],
    }
    with pytest.raises(EndpointsFileError) as caught:
        parse_catalog(data, source="e.json")
    assert "did you mean 'check_pass_rate'" in caught.value.one_line()
    out_of_range = {
        "service": "S",
        "slos": {"check_pass_rate": 1.5},
        "endpoints": [{"name": "a", "group": "g", "path": "/"}],
    }
    with pytest.raises(EndpointsFileError) as caught:
        parse_catalog(out_of_range, source="e.json")
    assert "/slos/check_pass_rate" in caught.value.one_line()


def test_summary_keeps_each_checks_name_and_counts() -> None:
    data = {
        "metrics": {
            "http_reqs": {"values": {"count": 4, "rate": 1}},
            "http_reqs{name:boom}": {"values": {"count": 4, "rate": 1}},
            "checks{name:boom}": {"values": {"passes": 4, "fails": 4, "rate": 0.5}},
        },
        "root_group": {
            "name": "",
            "checks": [{"name": "boom: status is 200", "passes": 4, "fails": 0}],
            "groups": [
                {
                    "name": "inner",
                    "checks": [{"name": "boom: no graphql errors", "passes": 0, "fails": 4}],
                    "groups": [],
                }
            ],
        },
    }
    cat = Catalog.model_validate({"service": "S", "endpoints": [{"name": "boom", "group": "g", "path": "/graphql"}]})
    _, endpoints, _ = parse_summary(data, cat)
    assert endpoints[0].check_tallies == [
        CheckTally(name="status is 200", passes=4, fails=0),
        CheckTally(name="no graphql errors", passes=0, fails=4),
    ]


# ---- item 7: not exercised ----------------------------------------------------------------


def test_an_endpoint_with_no_requests_is_not_exercised_not_fail() -> None:
    verdict = evaluate(run(ep_stats("agents", 100), ep_stats("boom", 0)), catalog())
    assert verdict.passed
    boom = verdict.endpoints[1]
    assert boom.state == "not_exercised" and boom.requests == 0
    assert verdict.not_exercised == ["boom"]
    assert "not exercised: boom (0 requests)" in verdict.reason
    assert "lengthen the run" in verdict.reason and "weight" in verdict.reason
    assert "every SLO held" in verdict.reason


def test_not_exercised_fails_only_when_asked() -> None:
    verdict = evaluate(run(ep_stats("agents", 100), ep_stats("boom", 0)), catalog(), fail_on_not_exercised=True)
    assert verdict.status == "fail"
    assert "not exercised: boom (0 requests)" in verdict.reason
    assert verdict.endpoints[1].state == "not_exercised"


def test_nothing_measured_is_not_reported_as_no_requests_made() -> None:
    killed = run(ep_stats("agents", 0), ep_stats("boom", 0))
    killed.total = None
    killed.status = "aborted"
    killed.message = "k6 was killed by signal 9"
    killed.iterations = 277
    verdict = evaluate(killed, catalog())
    assert verdict.status == "fail"
    assert "no requests were made" not in verdict.reason
    assert "k6 was killed by signal 9" in verdict.reason and "no end-of-test summary" in verdict.reason


# ---- item 9: history keys -------------------------------------------------------------------

PREFECT_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("a", "b"),
    [("Сервис Оплаты", "決済サービス"), ("My API", "my_api"), ("My API", "my-api"), ("httpbin", "httpbin.org")],
)
def test_different_names_never_share_a_key(a: str, b: str) -> None:
    assert history_key(a, "smoke") != history_key(b, "smoke")
    assert service_key(a) != service_key(b)
    for name in (a, b):
        assert PREFECT_KEY.match(history_key(name, "smoke")), history_key(name, "smoke")
        assert len(history_key(name, "smoke")) <= 100


def test_keys_are_readable_and_stable() -> None:
    key = service_key("My API")
    assert key.startswith("my-api-") and key == service_key("My API")
    assert re.fullmatch(r"my-api-[0-9a-f]{8}", key)
    assert re.fullmatch(r"service-[0-9a-f]{8}", service_key("決済サービス"))
    assert artifact_key("luna-history", "My API", "smoke") == f"luna-history-{key}-smoke"
    long = service_key("x" * 500)
    assert PREFECT_KEY.match(long) and len(long) < 80


def like(pattern: str, text: str) -> bool:
    """SQL LIKE, as Prefect's `like_` artifact filter applies it."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


def test_history_filter_takes_the_exact_name_not_a_prefix() -> None:
    pattern = history_key_pattern("httpbin")
    assert like(pattern, history_key("httpbin", "smoke")) and like(pattern, history_key("httpbin", "soak"))
    for other in ("httpbin-zero", "httpbin.org", "HTTPBIN", "httpbin "):
        assert not like(pattern, history_key(other, "smoke")), other


def test_history_rows_carry_the_exact_name() -> None:
    from tasks.evaluation.history import history_rows

    rows = history_rows(run(ep_stats("agents", 1)).model_copy(update={"service": "Сервис Оплаты"}), "pass")
    assert {r["service"] for r in rows} == {"Сервис Оплаты"}
    assert json.loads(json.dumps(rows))[0]["service"] == "Сервис Оплаты"


def test_reports_show_not_exercised_and_the_check_objective() -> None:
    from tasks.reporting.render import endpoint_table, html_report, markdown_report
    from tasks.reporting.view import ReportLinks

    result = run(ep_stats("agents", 50, passed=50, failed=50, tallies=GQL_FAILS), ep_stats("boom", 0))
    verdict = evaluate(result, catalog())
    links = ReportLinks(run_dir="/tmp/x")
    rows = {r["endpoint"]: r["slo"] for r in endpoint_table(result, verdict)}
    assert rows["agents"] == "fail" and rows["boom"] == "not exercised"
    markdown = markdown_report(result, verdict, links)
    assert "⚪ not exercised" in markdown and "no graphql errors" in markdown
    html = html_report(result, verdict, None, links)
    assert '<span class="pill neutral">not exercised</span>' in html
