"""SLO verdicts, Apdex, baseline noise, history rows and run points, on hand-built results."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from luna.catalog import Catalog
from luna.influx import line
from luna.results import EndpointStats, Latency, RunResult, Stats
from tasks.evaluation.history import history_key, history_rows, record_from_rows
from tasks.evaluation.points import run_points
from tasks.evaluation.slo import apdex, evaluate

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

CATALOG = Catalog.model_validate(
    {
        "service": "Svc",
        "slos": {"p95_ms": 100, "error_rate": 0.01, "apdex_score": 0.8, "apdex_t_ms": 50},
        "endpoints": [
            {"name": "A", "group": "g", "path": "/a"},
            {"name": "B", "group": "g", "path": "/b", "slos": {"p95_ms": 300}},
        ],
    }
)


def stats(requests: int, p95: float, failed: int = 0, sat: int | None = None, tol: int = 0, **kw: float) -> dict:
    return {
        "requests": requests,
        "rps": requests / 10,
        "failed_requests": failed,
        "error_rate": failed / requests if requests else None,
        "latency_ms": Latency(p50=p95 / 2, p90=p95 * 0.9, p95=p95, p99=p95 * 1.2, max=p95 * 2),
        "apdex_satisfied": requests - failed if sat is None else sat,
        "apdex_tolerating": tol,
        **kw,
    }


def result(a: dict, b: dict, status: str = "passed", run_id: str = "r1") -> RunResult:
    total = Stats(**{k: v for k, v in stats(a["requests"] + b["requests"], max(a["latency_ms"].p95, 1)).items()})
    total.failed_requests = a["failed_requests"] + b["failed_requests"]
    total.error_rate = total.failed_requests / total.requests if total.requests else None
    return RunResult(
        run_id=run_id,
        service="Svc",
        profile="smoke",
        target="http://127.0.0.1:1",
        status=status,
        started_at=NOW,
        finished_at=NOW,
        duration_s=10,
        run_dir="/tmp/x",
        total=total,
        endpoints=[
            EndpointStats(name="A", group="g", method="GET", path="/a", **a),
            EndpointStats(name="B", group="g", method="GET", path="/b", **b),
        ],
    )


def test_apdex_formula() -> None:
    s = Stats(requests=100, apdex_satisfied=60, apdex_tolerating=30)
    assert apdex(s) == pytest.approx(0.75)
    assert apdex(Stats()) is None


def test_all_slos_hold() -> None:
    verdict = evaluate(result(stats(1000, 80), stats(500, 250)), CATALOG)
    assert verdict.passed and verdict.reason == "every SLO held"
    assert [c.ok for c in verdict.overall] == [True, True, True]
    assert verdict.endpoints[1].checks[0].target == 300  # per-endpoint override
    assert verdict.headline == "p95 80 ms"


def test_endpoint_override_decides() -> None:
    verdict = evaluate(result(stats(1000, 80), stats(500, 350)), CATALOG)
    assert not verdict.passed
    assert "B: p95 350.0 ms (target < 300)" in verdict.reason


def test_apdex_slo_fails_with_value() -> None:
    verdict = evaluate(result(stats(1000, 80, sat=500, tol=200), stats(500, 250)), CATALOG)
    a = verdict.endpoints[0]
    assert a.apdex == pytest.approx(0.6) and not a.ok and "Apdex 0.60 (target >= 0.8)" in a.reason


def test_zero_requests_is_a_clear_fail() -> None:
    verdict = evaluate(result(stats(0, 0), stats(0, 0)), CATALOG)
    assert not verdict.passed and "no requests were made" in verdict.reason
    assert verdict.apdex is None and verdict.headline == "no requests"
    assert all(c.value is None and not c.ok for c in verdict.overall)


def test_every_request_failed_is_a_clear_fail() -> None:
    verdict = evaluate(result(stats(10, 5, failed=10, sat=0), stats(10, 5, failed=10, sat=0)), CATALOG)
    assert not verdict.passed and "every request failed (20 of 20)" in verdict.reason


def test_errored_run_fails_with_its_message() -> None:
    run = result(stats(0, 0), stats(0, 0), status="error")
    run.message = "k6 script error: boom"
    verdict = evaluate(run, CATALOG)
    assert "the run did not complete: k6 script error: boom" in verdict.reason


def test_history_rows_round_trip() -> None:
    run = result(stats(1000, 80), stats(500, 250))
    rows = history_rows(run, "pass")
    assert {r["endpoint"] for r in rows} == {"A", "B", "_total"}
    back = record_from_rows(rows)
    assert back is not None and back.run_id == "r1" and back.endpoints["B"].p95 == 250
    assert re.fullmatch(r"luna-history-my-api-v2-[0-9a-f]{8}-smoke", history_key("My API / v2", "smoke"))


def test_line_protocol_escaping() -> None:
    text = line(
        "luna_run",
        {"service": "My API, v2=x", "endpoint": "a b"},
        {"p95_ms": 1.5, "requests": 3, "note": 'say "hi"'},
        NOW,
    )
    assert text.startswith("luna_run,endpoint=a\\ b,service=My\\ API\\,\\ v2\\=x ")
    assert 'p95_ms=1.5,requests=3i,note="say \\"hi\\""' in text
    assert text.endswith(str(int(NOW.timestamp() * 1e9)))


def test_run_points_one_per_endpoint_and_total() -> None:
    run = result(stats(1000, 80), stats(500, 350))
    verdict = evaluate(run, CATALOG)
    points = run_points(run, verdict)
    assert len(points) == 3
    assert any(",endpoint=B," in p and ",verdict=fail" in p for p in points)
    assert any(",endpoint=_total," in p and "passed=0i" in p for p in points)
