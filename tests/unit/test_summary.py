"""Unit tests for k6 result handling: summary parsing, exit-code outcomes, masking and output routing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from luna.catalog import Catalog, parse_catalog
from luna.masking import Masker
from luna.results import Latency
from tasks.execution.k6 import _outcome, collect_result
from tasks.execution.output import OutputHandler, OutputState
from tasks.execution.plan import RunPlan
from tasks.execution.summary import parse_summary, run_numbers

pytestmark = pytest.mark.unit


def make_catalog() -> Catalog:
    return parse_catalog(
        {
            "service": "Shop",
            "endpoints": [
                {"name": "ListItems", "group": "items", "path": "/items"},
                {"name": "Search", "group": "search", "type": "graphql", "path": "/graphql", "query": "{ s }"},
                {"name": "Idle", "group": "items", "method": "delete", "path": "/items/1"},
            ],
        },
        source="test",
    )


def trend(avg: float, p95: float) -> dict[str, float]:
    return {"avg": avg, "min": 1.0, "med": avg - 1, "p(90)": p95 - 5, "p(95)": p95, "p(99)": p95 + 10, "max": 99.0}


K6_SUMMARY: dict[str, Any] = {
    "state": {"testRunDurationMs": 3012.5},
    "metrics": {
        # k6's own http_reqs sees every redirect hop; Luna's figures come from its per-call metrics.
        "http_reqs": {"type": "counter", "values": {"count": 112, "rate": 37.2}},
        "luna_redirects_0": {"values": {"count": 12, "rate": 4.0}},
        "luna_offsite_1": {"values": {"count": 2, "rate": 0.7}},
        "luna_call_duration": {"values": trend(12.0, 40.0), "thresholds": {"p(95)<500": {"ok": True}}},
        "luna_call_duration{name:ListItems}": {"values": trend(10.0, 30.0), "thresholds": {"p(95)<500": {"ok": True}}},
        "luna_call_duration{name:Search}": {"values": trend(20.0, 600.0), "thresholds": {"p(95)<500": {"ok": False}}},
        "luna_call_duration{name:Idle}": {"values": trend(0.0, 0.0), "thresholds": {"p(95)<500": {"ok": True}}},
        "luna_call_failed": {"values": {"rate": 0.05, "passes": 5, "fails": 95}},
        "luna_call_failed{name:ListItems}": {"values": {"rate": 0.0, "passes": 0, "fails": 70}},
        "luna_call_failed{name:Search}": {
            "values": {"rate": 5 / 30, "passes": 5, "fails": 25},
            "thresholds": {"rate<=0.01": {"ok": False}},
        },
        "luna_call_failed{name:Idle}": {"values": {"rate": 0, "passes": 0, "fails": 0}},
        "checks": {"values": {"rate": 0.9, "passes": 180, "fails": 20}},
        "checks{name:ListItems}": {
            "values": {"rate": 1.0, "passes": 140, "fails": 0},
            "thresholds": {"rate>=0": {"ok": True}},
        },
        "checks{name:Search}": {
            "values": {"rate": 2 / 3, "passes": 40, "fails": 20},
            "thresholds": {"rate>=0": {"ok": True}},
        },
        "vus_max": {"values": {"value": 4, "min": 4, "max": 4}},
        "iterations": {"values": {"count": 100, "rate": 33.2}},
    },
}


# ---- parse_summary -----------------------------------------------------------------


def test_totals() -> None:
    total, _, _ = parse_summary(K6_SUMMARY, make_catalog())
    assert total.requests == 100  # calls, not the 112 requests k6 sent with the redirect hops
    assert total.rps == pytest.approx(100 / 3.0125)
    assert (total.redirects, total.offsite_redirects) == (12, 2)
    assert total.error_rate == 0.05
    assert total.failed_requests == 5
    assert (total.check_pass_rate, total.checks_passed, total.checks_failed) == (0.9, 180, 20)
    assert total.latency_ms == Latency(avg=12.0, min=1.0, p50=11.0, p90=35.0, p95=40.0, p99=50.0, max=99.0)


def test_endpoints_in_catalog_order() -> None:
    _, endpoints, _ = parse_summary(K6_SUMMARY, make_catalog())
    assert [(e.name, e.group, e.method, e.path) for e in endpoints] == [
        ("ListItems", "items", "GET", "/items"),
        ("Search", "search", "POST", "/graphql"),
        ("Idle", "items", "DELETE", "/items/1"),
    ]
    items, search, _ = endpoints
    assert (items.requests, items.rps, items.error_rate, items.failed_requests) == (
        70,
        pytest.approx(70 / 3.0125),
        0.0,
        0,
    )
    assert (items.redirects, items.offsite_redirects, search.redirects, search.offsite_redirects) == (12, 0, 0, 2)
    assert (items.latency_ms.p95, items.latency_ms.p50, items.check_pass_rate) == (30.0, 9.0, 1.0)
    assert (search.requests, search.failed_requests, search.error_rate) == (30, 5, pytest.approx(5 / 30))
    assert (search.latency_ms.p95, search.latency_ms.p99) == (600.0, 610.0)
    assert (search.checks_passed, search.checks_failed, search.check_pass_rate) == (40, 20, pytest.approx(2 / 3))


def test_endpoint_with_zero_requests() -> None:
    _, endpoints, _ = parse_summary(K6_SUMMARY, make_catalog())
    idle = endpoints[2]
    assert idle.requests == 0
    assert idle.error_rate is None
    assert idle.latency_ms == Latency()
    assert idle.check_pass_rate is None
    assert (idle.checks_passed, idle.checks_failed) == (0, 0)


def test_endpoint_missing_from_summary() -> None:
    data = {"metrics": {"luna_call_failed": {"values": {"rate": 0.0, "passes": 0, "fails": 1}}}}
    _, endpoints, thresholds = parse_summary(data, make_catalog())
    assert [e.requests for e in endpoints] == [0, 0, 0]
    assert all(e.error_rate is None and e.rps == 0.0 for e in endpoints)
    assert thresholds == []


def test_empty_summary() -> None:
    total, endpoints, thresholds = parse_summary({}, make_catalog())
    assert total.requests == 0
    assert total.error_rate is None
    assert len(endpoints) == 3
    assert thresholds == []


def test_thresholds_skip_registrations() -> None:
    _, _, thresholds = parse_summary(K6_SUMMARY, make_catalog())
    listed = [(t.metric, t.expression, t.ok) for t in thresholds]
    assert listed == [
        ("luna_call_duration", "p(95)<500", True),
        ("luna_call_duration{name:Idle}", "p(95)<500", True),
        ("luna_call_duration{name:ListItems}", "p(95)<500", True),
        ("luna_call_duration{name:Search}", "p(95)<500", False),
        ("luna_call_failed{name:Search}", "rate<=0.01", False),
    ]
    assert all(t.expression not in ("count>=0", "rate>=0") for t in thresholds)


def test_run_numbers() -> None:
    assert run_numbers(K6_SUMMARY) == (3.0125, 4, 100)


def test_run_numbers_absent() -> None:
    assert run_numbers({}) == (None, None, None)
    assert run_numbers({"metrics": {"vus_max": {"values": {"value": 3}}}}) == (None, 3, None)


# ---- _outcome ----------------------------------------------------------------------


def state(last_error: str | None = None, abort_reason: str | None = None) -> OutputState:
    return OutputState(failure_cap=10, last_error=last_error, abort_reason=abort_reason)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, ("passed", "k6 finished and every threshold held")),
        (99, ("failed", "thresholds crossed")),
        (105, ("aborted", "run stopped before the end")),
        (104, ("error", "k6 rejected the test options")),
        (110, ("failed", "the script marked the test as failed")),
        (42, ("error", "k6 exited with code 42")),
        (-9, ("aborted", "k6 was killed by signal 9")),
    ],
)
def test_outcome(code: int | None, expected: tuple[str, str]) -> None:
    assert _outcome(code, state(), None) == expected


@pytest.mark.parametrize(
    ("code", "prefix"),
    [(107, "k6 script error"), (108, "test aborted by the script"), (104, "k6 rejected the test options")],
)
def test_outcome_appends_last_error(code: int, prefix: str) -> None:
    assert _outcome(code, state(last_error="ReferenceError: x is not defined"), None) == (
        "error",
        f"{prefix}: ReferenceError: x is not defined",
    )


def test_outcome_prefers_abort_reason() -> None:
    status, text = _outcome(108, state(last_error="later noise", abort_reason="auth: token request failed"), None)
    assert (status, text) == ("error", "test aborted by the script: auth: token request failed")


def test_outcome_does_not_append_error_to_verdicts() -> None:
    assert _outcome(99, state(last_error="some request failed"), None) == ("failed", "thresholds crossed")
    assert _outcome(42, state(last_error="x"), None) == ("error", "k6 exited with code 42")


def test_outcome_without_exit_code_is_aborted() -> None:
    assert _outcome(None, state(), None)[0] == "aborted"


def test_outcome_interrupted_wins() -> None:
    status, text = _outcome(0, state(), KeyboardInterrupt())
    assert status == "aborted"
    assert text == "run interrupted (KeyboardInterrupt); k6 was stopped and partial results kept"


# ---- Masker ------------------------------------------------------------------------


def test_masker_replaces_every_secret() -> None:
    mask = Masker(["s3cret-token", "p@ss", ""])
    assert mask("Authorization: Bearer s3cret-token user=a pass=p@ss again s3cret-token") == (
        "Authorization: Bearer *** user=a pass=*** again ***"
    )
    assert mask("nothing to hide") == "nothing to hide"


def test_masker_without_secrets() -> None:
    assert Masker([])("a plain abc line") == "a plain abc line"
    assert Masker([])("Authorization: Bearer abc") == "Authorization: Bearer ***"  # a token by its shape


def test_masker_overlapping_secrets() -> None:
    assert "def" not in Masker(["abc", "abcdef"])("token=abcdef")


# ---- OutputHandler -----------------------------------------------------------------


def make_plan(tmp_path: Path) -> RunPlan:
    return RunPlan(
        run_id="r1",
        run_dir=tmp_path,
        profile="smoke",
        load_model="closed",
        target="http://127.0.0.1:1",
        catalog=make_catalog(),
        endpoints_file=tmp_path / "endpoints.json",
        k6_binary="k6",
        script=tmp_path / "main.js",
        k6_env={},
        started_at=datetime.now(UTC),
    )


class Sinks:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.progress: list[tuple[float, str]] = []
        self.log = io.StringIO()
        self.failures = io.StringIO()

    def handler(self, plan: RunPlan, cap: int = 50, secrets: list[str] | None = None) -> OutputHandler:
        return OutputHandler(
            plan,
            Masker(secrets or []),
            OutputState(failure_cap=cap),
            self.log,
            self.failures,
            lambda level, text: self.lines.append((level, text)),
            lambda fraction, text: self.progress.append((fraction, text)),
        )


def stderr_line(msg: str, level: str = "info", **extra: Any) -> str:
    return json.dumps({"level": level, "msg": msg, "source": "console", "time": "2026-11-24T06:00:00Z", **extra})


def failure_line(endpoint: str, n: int) -> str:
    sample = {
        "endpoint": endpoint,
        "method": "GET",
        "url": f"http://x/{endpoint}/{n}",
        "status": 500,
        "error": None,
        "failed_checks": ["status is 200"],
        "body_excerpt": "boom",
    }
    return stderr_line("LUNA_FAILURE " + json.dumps(sample), level="warning")


def kept(sinks: Sinks) -> list[tuple[str, str]]:
    return [(s["endpoint"], s["url"]) for s in map(json.loads, sinks.failures.getvalue().splitlines())]


def test_failure_sample_goes_to_failures_file(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    handler.handle("stderr", failure_line("ListItems", 1))
    assert kept(sinks) == [("ListItems", "http://x/ListItems/1")]
    assert handler.state.failures_kept == 1
    assert sinks.lines == [
        (
            "warning",
            "failed request 1/50: GET http://x/ListItems/1 -> 500; checks failed: status is 200; body: 'boom'",
        )
    ]
    assert "LUNA_FAILURE" in sinks.log.getvalue()  # the raw line is still logged


def test_failure_caps_per_endpoint_and_total(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path), cap=7)  # 3 endpoints: max(3, 7 // 3) = 3 per endpoint
    for n in range(5):
        handler.handle("stderr", failure_line("ListItems", n))
    for n in range(5):
        handler.handle("stderr", failure_line("Search", n))
    for n in range(5):
        handler.handle("stderr", failure_line("Idle", n))
    assert kept(sinks) == [
        ("ListItems", "http://x/ListItems/0"),
        ("ListItems", "http://x/ListItems/1"),
        ("ListItems", "http://x/ListItems/2"),
        ("Search", "http://x/Search/0"),
        ("Search", "http://x/Search/1"),
        ("Search", "http://x/Search/2"),
        ("Idle", "http://x/Idle/0"),
    ]
    assert handler.state.failures_kept == 7
    assert handler.state.kept_by_endpoint == {"ListItems": 3, "Search": 3, "Idle": 1}
    assert len([line for line in sinks.lines if line[0] == "warning"]) == 7


def test_failure_cap_zero_keeps_nothing(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path), cap=0)
    handler.handle("stderr", failure_line("ListItems", 1))
    assert sinks.failures.getvalue() == ""
    assert handler.state.failures_kept == 0


def test_malformed_failure_payload_is_dropped(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    handler.handle("stderr", stderr_line("LUNA_FAILURE {not json", level="warning"))
    assert sinks.failures.getvalue() == ""
    assert sinks.lines == []


def test_error_line_sets_last_error(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    handler.handle("stderr", stderr_line("GoError: cannot open file", level="error", error="no such file"))
    assert handler.state.last_error == "GoError: cannot open file: no such file"
    assert handler.state.abort_reason is None
    assert sinks.lines == [("error", "k6 error: GoError: cannot open file: no such file")]


def test_abort_and_auth_errors_set_abort_reason(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    handler.handle("stderr", stderr_line("auth: keycloak returned 401", level="error"))
    assert handler.state.abort_reason == "auth: keycloak returned 401"
    handler.handle("stderr", stderr_line("Test aborted: setup failed", level="fatal"))
    assert handler.state.abort_reason == "Test aborted: setup failed"
    assert handler.state.last_error == "Test aborted: setup failed"


def test_info_and_plain_stderr_lines(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    handler.handle("stderr", stderr_line("hello", level="info"))
    handler.handle("stderr", "not json at all")
    assert handler.state.last_error is None
    assert sinks.lines == [("info", "k6 info: hello"), ("info", "not json at all")]


def test_progress_after_banner(tmp_path: Path) -> None:
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path))
    for line in [
        "          /\\      Grafana   /‾‾/  ",
        "   [  99% ] logo noise",
        "",
        "     execution: local",
        "        script: main.js",
        "smoke   [  33% ] 2 VUs  1.0s/3s",
        "smoke   [ 100% ] 2 VUs  3s",
    ]:
        handler.handle("stdout", line)
    assert sinks.progress == [(0.33, "smoke   [  33% ] 2 VUs  1.0s/3s"), (1.0, "smoke   [ 100% ] 2 VUs  3s")]
    assert handler.state.fraction == 1.0
    assert [text for _, text in sinks.lines] == [
        "     execution: local",
        "        script: main.js",
        "smoke   [  33% ] 2 VUs  1.0s/3s",
        "smoke   [ 100% ] 2 VUs  3s",
    ]
    assert "logo noise" in sinks.log.getvalue()  # the log file keeps everything


def test_output_is_masked_everywhere(tmp_path: Path) -> None:
    secret = "tok-Zq8xW2"
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path), secrets=[secret])
    handler.handle("stdout", "execution: local")
    handler.handle("stdout", f"smoke [ 10% ] Bearer {secret}")
    handler.handle("stderr", stderr_line(f"token {secret} rejected", level="error"))
    handler.handle("stderr", failure_line("ListItems", 1).replace("boom", secret))
    everything = sinks.log.getvalue() + sinks.failures.getvalue() + repr(sinks.lines) + repr(sinks.progress)
    assert secret not in everything
    assert handler.state.last_error == "token *** rejected"


def test_secret_with_json_escaped_characters_is_masked(tmp_path: Path) -> None:
    secret = 'pa"ss&word'
    sinks = Sinks()
    handler = sinks.handler(make_plan(tmp_path), secrets=[secret])
    # k6 (Go's encoding/json) writes `"` as \" and `&` as \u0026.
    handler.handle("stderr", '{"level":"error","msg":"login with pa\\"ss\\u0026word failed"}')
    assert secret not in repr(sinks.lines)
    assert secret not in (handler.state.last_error or "")


# ---- collect_result ----------------------------------------------------------------


def test_collect_result_names_crossed_thresholds(tmp_path: Path) -> None:
    (tmp_path / "k6-summary.json").write_text(json.dumps(K6_SUMMARY), encoding="utf-8")
    (tmp_path / "k6.log").write_text("", encoding="utf-8")
    result = collect_result(make_plan(tmp_path), 99, OutputState(failure_cap=5, failures_kept=2), None)
    assert result.status == "failed"
    assert result.message == (
        "thresholds crossed: luna_call_duration{name:Search} p(95)<500; luna_call_failed{name:Search} rate<=0.01"
    )
    assert (result.service, result.k6_exit_code, result.failure_samples) == ("Shop", 99, 2)
    assert (result.duration_s, result.vus_max, result.iterations) == (3.0125, 4, 100)
    assert [e.name for e in result.endpoints] == ["ListItems", "Search", "Idle"]
    assert result.files == {"summary": "summary.json", "k6_summary": "k6-summary.json", "k6_log": "k6.log"}


def test_collect_result_without_summary(tmp_path: Path) -> None:
    result = collect_result(make_plan(tmp_path), 107, OutputState(failure_cap=5, last_error="SyntaxError"), None)
    assert (result.status, result.message) == ("error", "k6 script error: SyntaxError")
    assert result.total is None
    assert result.endpoints == []
    assert result.files == {"summary": "summary.json"}


@pytest.mark.parametrize(
    ("planned_s", "period_ms", "snapshots"), [(60, 500, 120), (600, 5000, 120), (3600, 10_000, 360)]
)
def test_the_dashboard_keeps_the_same_snapshot_count_for_1_and_10_minutes(
    planned_s: float, period_ms: int, snapshots: int
) -> None:
    from tasks.execution.k6 import dashboard_period_ms

    assert dashboard_period_ms(planned_s) == period_ms
    assert planned_s * 1000 // dashboard_period_ms(planned_s) == snapshots
