"""Real k6 against the real demo API: profiles, checks, data files, numbers that agree."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tasks.execution import hdr
from tasks.reporting.timeseries import run_series
from tests.conftest import Demo, Runner, write_catalog

pytestmark = pytest.mark.integration

SHORT = {
    "ramp_duration": "1s",
    "duration": "1s",
    "soak_duration": "2s",
    "smoke_duration": "2s",
    "vus": 2,
    "stress_vus": 4,
    "spike_vus": 4,
}


def raw_calls(path: Path, apdex_t_ms: float = 500.0) -> dict[str, dict[str, Any]]:
    """Per endpoint, from k6's CSV: each call's duration (its http_req_duration; no redirect
    hops here), failed / ok counts (http_req_failed, written right after the duration of the
    same request), check rows, and successful calls within T."""
    out: dict[str, dict[str, Any]] = {}
    last: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            metric, name, value = row["metric_name"], row["name"], float(row["metric_value"])
            one = out.setdefault(
                name, {"durations": [], "failed": 0, "ok": 0, "checks_passed": 0, "checks_failed": 0, "satisfied": 0}
            )
            if metric == "http_req_duration":
                one["durations"].append(value)
                last[name] = value
            elif metric == "http_req_failed":
                one["failed" if value else "ok"] += 1
                one["satisfied"] += int(not value and last[name] <= apdex_t_ms)
            elif metric == "checks":
                one["checks_passed" if value else "checks_failed"] += 1
    return out


@pytest.fixture
def basic_catalog(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "endpoints.json",
        [
            {
                "name": "Health",
                "group": "ops",
                "type": "rest",
                "method": "GET",
                "path": "/api/health",
                "checks": {"status": 200},
            },
            {
                "name": "Users",
                "group": "users",
                "type": "rest",
                "method": "GET",
                "path": "/api/users",
                "weight": 2,
                "checks": {"status": 200, "body_path": "data"},
            },
        ],
    )


@pytest.mark.parametrize(
    "profile,model,stages",
    [
        ("smoke", "closed", 0),
        ("ramp", "closed", 3),
        ("soak", "closed", 3),
        ("stress", "closed", 9),
        ("spike", "closed", 6),
        ("ramp", "open", 3),
        ("spike", "open", 6),
    ],
)
def test_profile_shapes_run(
    demo: Demo, basic_catalog: Path, load_run: Runner, profile: str, model: str, stages: int
) -> None:
    result = load_run(demo.url, basic_catalog, profile, load_model=model, rate=20, **SHORT)
    assert result.status == "passed", result.message
    assert result.total is not None and result.total.requests > 0
    raw = json.loads((Path(result.run_dir) / "k6-options.json").read_text())  # what `k6 inspect` said
    scenario = raw["scenarios"][profile] if "scenarios" in raw else None
    executor_stages = (scenario or {}).get("stages") or []
    if scenario is not None:
        assert len(executor_stages) == stages
    assert {e.name for e in result.endpoints} == {"Health", "Users"}
    series = run_series(Path(result.run_dir), result.files)  # the report's charts, from Luna's measure
    assert series is not None and None not in series.vus  # k6's progress line, every period
    if model == "closed":  # the open model's VUs are busy only during an iteration: ~0 at 20 it/s
        assert max(v or 0 for v in series.vus) > 0
    periods = zip([0.0, *series.timestamps[:-1]], series.timestamps, series.rps, strict=True)
    assert sum(rps * (end - start) for start, end, rps in periods) == pytest.approx(result.total.requests, abs=1)


def test_open_model_runs_the_planned_iterations(demo: Demo, basic_catalog: Path, load_run: Runner) -> None:
    # smoke in the open model starts RATE/10 iterations per second: 10/s for 3 s = 30.
    result = load_run(demo.url, basic_catalog, "smoke", load_model="open", rate=100, smoke_duration="3s")
    assert result.status == "passed", result.message
    assert result.iterations in (30, 31)
    assert result.total is not None and result.total.requests == result.iterations


def test_summary_agrees_with_k6_and_with_the_server(
    demo: Demo, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-endpoint figures are exact: counts against the server's own count, and counts,
    failures, checks, Apdex and HDR percentiles against k6's raw samples of the same run."""
    raw_csv = tmp_path / "raw.csv"
    monkeypatch.setenv("K6_OUT", f"csv={raw_csv}")
    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "Users", "group": "users", "path": "/api/users", "weight": 3, "checks": {"status": 200}},
            {"name": "Search", "group": "users", "path": "/api/search?q=a", "weight": 1},
            {
                "name": "Agents",
                "group": "agents",
                "type": "graphql",
                "path": "/graphql",
                "query": "{ agents { id } }",
                "checks": {"no_graphql_errors": True},
            },
        ],
    )
    demo.reset()
    result = load_run(demo.url, catalog, "smoke", smoke_vus=3, smoke_duration="3s")
    served = demo.stats()["requests"]
    by_name = {e.name: e for e in result.endpoints}
    assert by_name["Users"].requests == served["GET /api/users"]
    assert by_name["Search"].requests == served["GET /api/search"]
    assert by_name["Agents"].requests == served["POST /graphql"]
    assert result.total is not None
    assert result.total.requests == sum(served.values())
    raw = raw_calls(raw_csv)  # k6's own raw samples of the same run (K6_OUT=csv)
    for name, stats in by_name.items():
        durations = raw[name]["durations"]
        assert stats.requests == len(durations) == raw[name]["failed"] + raw[name]["ok"]
        assert stats.failed_requests == raw[name]["failed"]
        assert (stats.checks_passed, stats.checks_failed) == (raw[name]["checks_passed"], raw[name]["checks_failed"])
        exact = hdr.from_counts(Counter(hdr.to_us(ms) for ms in durations))
        assert stats.latency_ms.p50 == hdr.percentile_ms(exact, 50)
        assert stats.latency_ms.p95 == hdr.percentile_ms(exact, 95)
        assert stats.latency_ms.p99 == hdr.percentile_ms(exact, 99)
        assert stats.latency_ms.max == pytest.approx(max(durations), abs=1e-6)  # CSV prints 6 decimals
        assert stats.apdex_satisfied == raw[name]["satisfied"]
    weights_ratio = by_name["Users"].requests / by_name["Search"].requests
    assert 2.0 < weights_ratio < 4.5


def test_fixed_delay_reads_true(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    """A 50 ms server delay reads as 50 ms: never less, and above the same endpoint with no
    delay (measured in the same run, so a loaded machine's overhead cancels) by the delay."""
    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "Slow", "group": "g", "path": "/api/slow?ms=50"},
            {"name": "Zero", "group": "g", "path": "/api/slow?ms=0"},
        ],
    )
    result = load_run(demo.url, catalog, "smoke", smoke_vus=4, smoke_duration="3s")
    by = {e.name: e.latency_ms.p50 for e in result.endpoints}
    slow, zero = by["Slow"], by["Zero"]
    assert slow is not None and zero is not None and slow >= 50.0, by
    assert 45.0 <= slow - zero <= 60.0, by  # the delay, not the runner's overhead (e.g. Nagle's +40 ms)


def test_every_check_type_passes_and_fails(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    gql = {"type": "graphql", "path": "/graphql", "method": "POST"}
    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "pass-status", "group": "p", "path": "/api/users", "checks": {"status": 200}},
            {"name": "fail-status", "group": "f", "path": "/api/users", "checks": {"status": 201}},
            {"name": "pass-body-path", "group": "p", "path": "/api/users/1", "checks": {"body_path": "data.email"}},
            {"name": "fail-body-path", "group": "f", "path": "/api/users/1", "checks": {"body_path": "data.nope"}},
            {
                "name": "pass-header",
                "group": "p",
                "path": "/api/search?q=a",
                "checks": {"header_present": "x-result-count"},
            },
            {"name": "fail-header", "group": "f", "path": "/api/search?q=a", "checks": {"header_present": "X-Nope"}},
            {"name": "pass-duration", "group": "p", "path": "/api/health", "checks": {"max_duration_ms": 1000}},
            {"name": "fail-duration", "group": "f", "path": "/api/slow?ms=30", "checks": {"max_duration_ms": 5}},
            {"name": "pass-contains", "group": "p", "path": "/api/health", "checks": {"body_contains": "ok"}},
            {"name": "fail-contains", "group": "f", "path": "/api/health", "checks": {"body_contains": "nope"}},
            {
                "name": "pass-no-gql-errors",
                "group": "p",
                **gql,
                "query": "{ agents { id } }",
                "checks": {"no_graphql_errors": True},
            },
            {
                "name": "fail-no-gql-errors",
                "group": "f",
                **gql,
                "query": "{ boom }",
                "checks": {"no_graphql_errors": True},
            },
            {"name": "pass-has-data", "group": "p", **gql, "query": "{ agents { id } }", "checks": {"has_data": True}},
            {"name": "fail-has-data", "group": "f", **gql, "query": "{ nope }", "checks": {"has_data": True}},
        ],
    )
    result = load_run(demo.url, catalog, "smoke", smoke_duration="3s", luna_failure_samples=1000)
    for ep in result.endpoints:
        assert ep.requests > 0, ep.name
        expected = 1.0 if ep.name.startswith("pass-") else 0.0
        assert ep.check_pass_rate == expected, (ep.name, ep.check_pass_rate)
    samples = [json.loads(line) for line in (Path(result.run_dir) / "failures.jsonl").read_text().splitlines()]
    failed_names = {s["endpoint"] for s in samples}
    assert failed_names == {ep.name for ep in result.endpoints if ep.name.startswith("fail-")}
    assert all(s["failed_checks"] and s["failed_checks"][0].startswith(s["endpoint"]) for s in samples)
    status_sample = next(s for s in samples if s["endpoint"] == "fail-status")
    assert status_sample["status"] == 200 and status_sample["method"] == "GET"
    assert status_sample["url"].endswith("/api/users") and '"data"' in status_sample["body_excerpt"]


def test_csv_data_file_feeds_each_row(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    (tmp_path / "users.csv").write_text("id,label\n1,one\n2,two\n3,three\n", encoding="utf-8")
    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {
                "name": "ByRow",
                "group": "g",
                "path": "/api/users/{{data.id}}",
                "data_file": "users.csv",
                "checks": {"status": 200, "body_path": "data.id"},
            },
        ],
    )
    demo.reset()
    result = load_run(demo.url, catalog, "smoke", smoke_duration="2s")
    served = demo.stats()["requests"]
    counts = [served.get(f"GET /api/users/{i}", 0) for i in (1, 2, 3)]
    assert all(c > 0 for c in counts) and max(counts) - min(counts) <= 2, counts
    assert result.endpoints[0].check_pass_rate == 1.0


def test_faker_placeholders_fill_each_iteration(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {
                "name": "Create",
                "group": "g",
                "method": "POST",
                "path": "/api/users",
                "body": {"name": "{{faker.name}}", "email": "{{faker.email}}"},
                "checks": {"status": 201, "body_contains": "@example.com", "body_path": "data.id"},
            },
        ],
    )
    result = load_run(demo.url, catalog, "smoke", smoke_duration="2s")
    assert result.endpoints[0].check_pass_rate == 1.0
    assert result.endpoints[0].requests > 10


def test_target_returning_500s_is_a_failed_verdict_with_samples(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Boom", "group": "g", "path": "/api/always500"}])
    lines: list[str] = []
    result = load_run(demo.url, catalog, "smoke", smoke_duration="2s", lines=lines)
    assert result.status == "failed" and result.exit_code == 1
    assert "luna_call_failed" in result.message
    assert result.total is not None and result.total.error_rate == 1.0
    assert result.failure_samples > 0
    assert any("failed request" in line and "-> 500" in line for line in lines)


def test_flaky_endpoint_error_rate_is_exact(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Flaky", "group": "g", "path": "/api/flaky?rate=0.25"}])
    demo.reset()
    result = load_run(demo.url, catalog, "smoke", smoke_vus=1, smoke_duration="2s")
    ep = result.endpoints[0]
    assert ep.failed_requests == ep.requests // 4


def test_apdex_counts_are_exact(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    from luna.catalog import load_catalog
    from tasks.evaluation.slo import evaluate

    catalog = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "Fast", "group": "g", "path": "/api/health"},  # all satisfied (T = 500 ms)
            # all tolerating: 25 ms is above T = 20 ms and far below 4 T = 80 ms, even on a loaded machine
            {"name": "Slow", "group": "g", "path": "/api/slow?ms=25", "slos": {"apdex_t_ms": 20}},
            {"name": "Broken", "group": "g", "path": "/api/always500"},  # all frustrated
            {"name": "Flaky", "group": "g", "path": "/api/flaky?rate=0.5"},  # half frustrated
        ],
        slos={"p95_ms": 1000, "error_rate": 1, "apdex_score": 0, "apdex_t_ms": 500},
    )
    result = load_run(demo.url, catalog, "smoke", smoke_duration="2s", smoke_vus=2)
    by = {e.name: e for e in result.endpoints}
    assert by["Fast"].apdex_satisfied == by["Fast"].requests and by["Fast"].apdex_tolerating == 0
    assert by["Slow"].apdex_satisfied == 0 and by["Slow"].apdex_tolerating == by["Slow"].requests
    assert by["Broken"].apdex_satisfied + by["Broken"].apdex_tolerating == 0
    assert by["Flaky"].apdex_satisfied == by["Flaky"].requests - by["Flaky"].failed_requests
    verdict = evaluate(result, load_catalog(catalog))
    scores = {e.name: e.apdex for e in verdict.endpoints}
    assert scores["Fast"] == 1.0 and scores["Slow"] == 0.5 and scores["Broken"] == 0.0
    assert result.total is not None
    assert result.total.apdex_satisfied == sum(e.apdex_satisfied for e in result.endpoints)
