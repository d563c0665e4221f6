"""The regression model (tasks/evaluation/baseline.py): windows of comparable runs, robust
spread, the three outcomes with reasons, overlapping and incomparable runs, generator
saturation, open-model rates and change points, on hand-built records with known
distributions and known shifts (seeded, so every run of the test draws the same numbers)."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from luna.catalog import Catalog
from luna.results import EndpointStats, GeneratorLoad, Latency, RunResult, Stats
from tasks.evaluation.baseline import (
    MIN_HISTORY,
    MIN_SAMPLES,
    Window,
    _median_mad,
    compare,
    not_comparable,
    select_window,
)
from tasks.evaluation.changes import change_points, mark_change_points, series_change_points, trends
from tasks.evaluation.compare import EndpointRecord, RunRecord, incomparable, overlaps, p95_standard_error
from tasks.evaluation.history import history_rows, record_from_rows
from tasks.evaluation.slo import evaluate, generator_lines
from tasks.evaluation.tasks import judge_history
from tasks.execution.generator import GeneratorWatch, judge, load_shape, open_model_rate

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
SHAPE = {"model": "closed", "smoke_vus": "2", "smoke_duration": "8s"}


def ep(name: str, p95: float, requests: int = 5000, err: float = 0.0, rps: float = 500.0) -> EndpointRecord:
    return EndpointRecord(name=name, requests=requests, rps=rps, p90=p95 * 0.95, p95=p95, p99=p95 * 1.1, error_rate=err)


def rec(
    run_id: str,
    minute: float,
    p95: dict[str, float] | float,
    *,
    requests: int = 5000,
    err: float = 0.0,
    rps: float = 500.0,
    shape: dict[str, str] | None = None,
    saturated: bool = False,
    seconds: float = 8.0,
) -> RunRecord:
    values = p95 if isinstance(p95, dict) else {"A": p95}
    start = T0 + timedelta(minutes=minute)
    return RunRecord(
        run_id=run_id,
        service="Svc",
        profile="smoke",
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
        verdict="pass",
        duration_s=seconds,
        endpoints={n: ep(n, v, requests, err, rps) for n, v in values.items()},
        load_model="closed",
        load_shape=dict(SHAPE if shape is None else shape),
        saturated=saturated,
        saturation="k6 kept 1.9 of 2 CPU cores busy on its own" if saturated else "",
    )


def history(values: list[float], **kw: float) -> list[RunRecord]:
    return [rec(f"h{i}", i, v, **kw) for i, v in enumerate(values)]  # type: ignore[arg-type]


def p95_delta(comparison, name: str = "A"):  # type: ignore[no-untyped-def]
    endpoint = next(e for e in comparison.endpoints if e.name == name)
    return next(d for d in endpoint.deltas if d.metric == "p95_ms")


def judge_now(past: list[RunRecord], current: RunRecord):  # type: ignore[no-untyped-def]
    return compare(current, select_window(past, current))


# ---- statistics on known distributions -----------------------------------------------------


def test_median_and_mad_recover_a_normal_distribution_and_ignore_an_outlier() -> None:
    rng = random.Random(7)
    values = [rng.gauss(100, 4) for _ in range(4000)]
    center, spread = _median_mad(values)
    assert abs(center - 100) < 0.5 and abs(spread - 4) < 0.3
    clean = [rng.gauss(100, 4) for _ in range(10)]
    c1, s1 = _median_mad(clean)
    c2, s2 = _median_mad([*clean[:-1], 1000.0])  # one run ten times slower
    assert abs(c2 - c1) < 4 and s2 < 2 * s1 + 1  # the standard deviation would be ~280
    assert statistics.stdev([*clean[:-1], 1000.0]) > 100


def test_within_run_error_grows_when_few_samples() -> None:
    wide = p95_standard_error(EndpointRecord(name="A", requests=50, rps=5, p90=90, p95=100, p99=200, error_rate=0))
    narrow = p95_standard_error(
        EndpointRecord(name="A", requests=50_000, rps=5, p90=90, p95=100, p99=200, error_rate=0)
    )
    assert wide is not None and narrow is not None and wide > 10 * narrow


def test_known_shifts_against_a_window_of_ten() -> None:
    rng = random.Random(11)
    past = history([rng.gauss(100, 1) for _ in range(10)])  # a quiet machine: 1 % run-to-run
    big = p95_delta(judge_now(past, rec("cur", 30, 130)))
    assert big.outcome == "regressed" and big.regression and big.window == 10
    assert "+30" in big.reason and "noise ±" in big.reason
    same = p95_delta(judge_now(past, rec("cur", 30, 101)))
    assert same.outcome == "ok" and not same.regression
    ten = p95_delta(judge_now(past, rec("cur", 30, 110)))
    assert ten.outcome in ("regressed", "inconclusive") and ten.change_pct is not None and ten.change_pct > 0.08
    faster = p95_delta(judge_now(past, rec("cur", 30, 70)))
    assert faster.outcome == "ok" and faster.improvement


def test_a_a_runs_are_never_flagged_and_a_25_percent_slowdown_always_is() -> None:
    """200 simulated A/A runs and 200 with a 25 % slower p95, each against its own window of 10
    runs drawn from the same distribution (2 % run-to-run spread, like a quiet machine)."""
    rng = random.Random(2026)
    flagged = slow_flagged = slow_ok = 0
    for _ in range(200):
        past = history([rng.gauss(100, 2) for _ in range(10)])
        same = p95_delta(judge_now(past, rec("cur", 30, rng.gauss(100, 2))))
        slow = p95_delta(judge_now(past, rec("cur", 30, rng.gauss(125, 2))))
        flagged += same.outcome == "regressed"
        slow_flagged += slow.outcome == "regressed"
        slow_ok += slow.outcome == "ok"
    assert flagged == 0
    assert slow_flagged >= 190 and slow_ok == 0


def test_error_rate_and_rps_regressions() -> None:
    past = history([100.0] * 8, err=0.001)
    worse = judge_now(past, rec("cur", 30, 100, err=0.03))
    assert worse.regressions == ["A: error_rate"] and worse.outcome == "regressed"
    assert not judge_now(past, rec("cur", 30, 100, err=0.0015)).regressions
    slower = judge_now(history([100.0] * 8), rec("cur", 30, 100, rps=300))
    assert slower.regressions == ["A: rps"]


# ---- the three outcomes, with reasons and what to do ---------------------------------------


def test_too_little_history_says_how_many_more_runs() -> None:
    comparison = judge_now(history([100, 101, 99]), rec("cur", 30, 150))
    d = p95_delta(comparison)
    assert d.outcome == "inconclusive" and not d.regression
    assert "too little history (3 comparable runs, 5 needed)" in d.reason
    assert d.todo == f"{MIN_HISTORY - 3} more comparable runs needed"
    assert comparison.outcome == "inconclusive" and "2 more comparable runs needed" in comparison.todo
    assert d.change == pytest.approx(50)  # the size is still reported


def test_too_few_samples_never_counts() -> None:
    past = history([100.0] * 10)
    d = p95_delta(judge_now(past, rec("cur", 30, 300, requests=MIN_SAMPLES - 1)))
    assert d.outcome == "inconclusive" and "too few samples (49 < 50 requests)" in d.reason
    assert "lengthen the run" in d.todo
    one = p95_delta(judge_now(history([100.0] * 10, requests=1), rec("cur", 30, 300, requests=1)))
    assert one.outcome == "inconclusive"


def test_too_noisy_history_is_inconclusive_not_ok() -> None:
    rng = random.Random(5)
    past = history([rng.gauss(100, 15) for _ in range(10)])
    d = p95_delta(judge_now(past, rec("cur", 30, 104)))
    assert d.outcome == "inconclusive" and d.reason.startswith("too noisy")
    assert "quieter machine" in d.todo


def test_fail_on_regression_fails_only_on_regressed() -> None:
    catalog = Catalog.model_validate(
        {"service": "Svc", "slos": {"p95_ms": 1000}, "endpoints": [{"name": "A", "group": "g", "path": "/a"}]}
    )
    run = RunResult(
        run_id="cur",
        service="Svc",
        profile="smoke",
        target="http://127.0.0.1:1",
        status="passed",
        started_at=T0 + timedelta(minutes=30),
        finished_at=T0 + timedelta(minutes=30, seconds=8),
        duration_s=8,
        run_dir="/tmp/x",
        total=Stats(requests=5000, rps=500, latency_ms=Latency(p90=190, p95=200, p99=220)),
        endpoints=[
            EndpointStats(
                name="A", group="g", method="GET", path="/a", requests=5000, rps=500, error_rate=0.0,
                latency_ms=Latency(p90=190, p95=200, p99=220), apdex_satisfied=5000,
            )
        ],
        load_shape=SHAPE,
    )  # fmt: skip
    current = RunRecord.from_result(run, "?")
    regressed, _ = judge_history(history([100.0] * 10), current, None)
    assert regressed is not None and regressed.outcome == "regressed"
    assert evaluate(run, catalog, regressed).passed
    failed = evaluate(run, catalog, regressed, fail_on_regression=True)
    assert not failed.passed and "regressed against the median of 10 comparable runs" in failed.reason
    unsure, _ = judge_history(history([100.0] * 3), current, None)
    assert unsure is not None and unsure.outcome == "inconclusive"
    assert evaluate(run, catalog, unsure, fail_on_regression=True).passed
    nothing, note = judge_history([], current, None)
    assert nothing is None and note.startswith("no earlier comparable run of this service")


# ---- which runs make the window ------------------------------------------------------------


def test_overlapping_runs_are_not_each_others_baseline() -> None:
    past = history([100.0] * 10)
    twin = rec("twin", 30, 300)  # started with the current run, finished before it was judged
    current = rec("cur", 30.02, 100)
    assert overlaps(twin, current)
    window = select_window([*past, twin], current)
    assert "twin" not in [r.run_id for r in window.runs] and window.skipped == {"overlapped this run": 1}
    # and from the twin's side, the current run is no baseline either
    assert "cur" not in [r.run_id for r in select_window([*past, current], twin).runs]


def test_window_keeps_the_newest_comparable_runs_only() -> None:
    past = history([100.0] * 15)
    other = [
        rec("x1", 20, 100, shape={**SHAPE, "smoke_vus": "20"}),
        rec("x2", 21, {"A": 100, "B": 50}),
        rec("sat", 22, 100, saturated=True),
        rec("cut", 23, 100).model_copy(update={"stopped_early": True}),
    ]
    window = select_window([*past, *other], rec("cur", 30, 100))
    assert [r.run_id for r in window.runs] == [f"h{i}" for i in range(14, 4, -1)]
    assert window.skipped == {"not comparable": 2, "load generator saturated": 1, "stopped early (abort_on_breach)": 1}


def test_pinned_run_is_the_center_and_the_window_gives_the_spread() -> None:
    past = history([100.0, 101, 99, 100, 102, 98, 100])
    pin = rec("pin", 10, 80)
    current = rec("cur", 30, 100)
    window = select_window([*past, pin], current, pinned="pin")
    assert window.pinned is not None and window.pinned.run_id == "pin"
    comparison = compare(current, window, pinned=True)
    d = p95_delta(comparison)
    assert d.baseline == 80 and d.outcome == "regressed" and comparison.pinned
    assert "pinned run pin" in comparison.reason
    four = select_window([*history([100.0, 101, 99, 100]), pin], current, pinned="pin")
    assert p95_delta(compare(current, four, pinned=True)).window == 5  # the pinned run counts: 4 + 1


def test_incomparable_runs_say_why() -> None:
    a = rec("a", 0, {"A": 100, "B": 100})
    b = rec("b", 10, {"A": 100, "C": 100}, shape={**SHAPE, "smoke_vus": "10"})
    reasons = incomparable(a, b)
    assert any("smoke_vus=2" in r and "smoke_vus=10" in r for r in reasons)
    assert any("only in a: B" in r and "only in b: C" in r for r in reasons)
    refused = not_comparable(b, a)
    assert refused is not None and not refused.comparable and refused.endpoints == []
    assert refused.reason.startswith("runs a and b are not comparable")
    assert not_comparable(rec("c", 20, 100), rec("d", 30, 100)) is None
    old = rec("old", 0, 100).model_copy(update={"load_shape": None})
    assert any("not recorded" in r for r in incomparable(old, a))


# ---- the load generator --------------------------------------------------------------------


def test_saturated_generator_makes_every_comparison_inconclusive() -> None:
    past = history([100.0] * 10)
    comparison = judge_now(past, rec("cur", 30, 200, saturated=True))
    assert comparison.outcome == "inconclusive" and comparison.generator_saturated
    assert not comparison.regressions
    assert all(d.reason.startswith("load generator saturated") for e in comparison.endpoints for d in e.deltas)
    assert "--shards" in comparison.todo


def test_saturation_rules() -> None:
    busy = judge([0.3, 1.8, 1.9, 1.7, 1.8], [1.0] * 5, cpus=2)
    assert busy.saturated and "k6 kept 1.80 of 2 CPU cores busy" in busy.reason and busy.samples == 4
    starved = judge([0.7] * 6, [0.98] * 6, cpus=2)
    assert starved.saturated and "waited for CPU" in starved.reason
    queued = judge([0.3] * 6, [0.9] * 6, cpus=2, wait=[1.2] * 6)  # starved by neighbours: k6 waited for CPU
    assert queued.saturated and "waited for a CPU 1.20 cores' worth" in queued.reason
    assert queued.k6_wait_cores_mean == pytest.approx(1.2)
    assert not judge([0.2] * 6, [0.9] * 6, cpus=2, wait=[0.6] * 6).saturated  # some queueing on a busy box
    neighbours = judge([0.05] * 6, [1.0] * 6, cpus=2, wait=[0.1] * 6)  # busy machine, idle k6: latencies count
    assert not neighbours.saturated and neighbours.reason == ""
    assert not judge([], [], cpus=2).saturated


def test_generator_watch_samples_a_real_process() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend=time.time()+3\nwhile time.time()<end: pass"])
    try:
        watch = GeneratorWatch(busy.pid, interval_s=0.2)
        busy.wait(timeout=30)
        watch.stop()
    finally:
        busy.kill()
    assert watch.k6 and max(watch.k6) > 0 and all(0 <= m <= 1 for m in watch.machine)
    assert watch.wait and all(w >= 0 for w in watch.wait)  # Linux schedstat is read


def test_open_model_rate_and_a_run_that_missed_it_fails() -> None:
    summary = {
        "state": {"testRunDurationMs": 10_000},
        "metrics": {"iterations": {"values": {"count": 800}}, "dropped_iterations": {"values": {"count": 200}}},
    }
    assert open_model_rate(summary) == (100.0, 80.0, 200)
    run = RunResult(
        run_id="o", profile="smoke", load_model="open", target="http://127.0.0.1:1", status="passed",
        started_at=T0, duration_s=10, run_dir="/tmp/x",
        generator=GeneratorLoad(cpu_count=2, target_rate=100.0, achieved_rate=80.0, dropped_iterations=200),
    )  # fmt: skip
    fails, _ = generator_lines(run)
    assert fails and "80.0 of the target 100.0 iterations/s (200 dropped_iterations, 20.0%)" in fails[0]
    run.generator = GeneratorLoad(cpu_count=2, target_rate=100.0, achieved_rate=99.95, dropped_iterations=1)
    fails, notes = generator_lines(run)
    assert not fails and "1 dropped_iterations" in notes[0]


def test_load_shape_is_the_profiles_own_settings() -> None:
    env = {"LOAD_MODEL": "closed", "SMOKE_VUS": "2", "SMOKE_DURATION": "8s", "VUS": "10", "RATE": "50"}
    assert load_shape("smoke", env) == SHAPE
    assert load_shape("smoke", {**env, "LOAD_MODEL": "open"})["rate"] == "50"
    assert "vus" in load_shape("ramp", {**env, "DURATION": "1m", "RAMP_DURATION": "10s"})


# ---- change points and history -------------------------------------------------------------


def test_change_point_on_a_known_step_and_none_on_noise() -> None:
    rng = random.Random(3)
    step = [rng.gauss(100, 3) for _ in range(15)] + [rng.gauss(130, 3) for _ in range(10)]
    found = series_change_points(step)
    assert [i for i, *_ in found] == [15]
    assert series_change_points([rng.gauss(100, 3) for _ in range(25)]) == []
    assert series_change_points([100.0] * 3) == []
    runs = history(step)
    cps = change_points(runs, ["A"], ("p95_ms",))
    assert len(cps) == 1 and cps[0].run_id == "h15" and cps[0].change_pct is not None and cps[0].change_pct > 0.2
    drawn = trends(runs, cps)
    assert drawn[0].endpoint == "A" and len(drawn[0].points) == 25 and drawn[0].change_points == cps
    marked = mark_change_points(runs)
    assert [r.run_id for r in marked if r.change_points] == ["h15"]


def test_history_rows_keep_shape_end_and_generator() -> None:
    run = RunResult(
        run_id="r", service="Svc", profile="smoke", target="http://127.0.0.1:1", status="passed",
        started_at=T0, finished_at=T0 + timedelta(seconds=9), duration_s=8, run_dir="/tmp/x",
        total=Stats(requests=10, rps=1), load_shape=SHAPE,
        generator=GeneratorLoad(cpu_count=2, saturated=True, reason="k6 kept 1.90 of 2 CPU cores busy on its own"),
    )  # fmt: skip
    back = record_from_rows(history_rows(run, "pass"))
    assert back is not None and back.load_shape == SHAPE and back.finished_at == T0 + timedelta(seconds=9)
    assert back.saturated and back.saturation.startswith("k6 kept 1.90")
    assert not incomparable(back, RunRecord.from_result(run, "pass"))


def test_empty_window_compares_to_nothing() -> None:
    comparison = compare(rec("cur", 0, 100), Window(runs=[]))
    assert comparison.outcome == "inconclusive" and "too little history (0 comparable runs" in comparison.reason


def test_report_draws_a_trend_per_endpoint_with_its_change_point(tmp_path: Path) -> None:
    from tasks.reporting.render import html_report, markdown_report
    from tasks.reporting.view import ReportLinks

    rng = random.Random(9)
    runs = [rec(f"h{i}", i, {"A": rng.gauss(100, 2), "B <x>": 20.0 + i % 2}) for i in range(12)]
    runs += [rec(f"s{i}", 20 + i, {"A": rng.gauss(140, 2), "B <x>": 20.0 + i % 2}) for i in range(6)]
    found = change_points(runs)
    run = RunResult(
        run_id="s5", service="Svc", profile="smoke", target="http://127.0.0.1:1", status="passed",
        started_at=T0, duration_s=8, run_dir=str(tmp_path), total=Stats(requests=10, rps=1),
    )  # fmt: skip
    verdict = evaluate(
        run, Catalog.model_validate({"service": "Svc", "endpoints": [{"name": "A", "group": "g", "path": "/a"}]})
    )
    verdict.change_points, verdict.trends = found, trends(runs, found)
    links = ReportLinks(run_dir=str(tmp_path), report_html="r.html", badge_svg="b.svg", grafana=None)
    html = html_report(run, verdict, None, links)
    assert "Trend and change points" in html and html.count('<figure class="trend">') == 2
    assert "A p95 +39% (100.5 ms -&gt; 139.5 ms) from run s0" in html and "stroke-dasharray" in html
    assert "B <x>" not in html and "B &lt;x&gt;" in html  # names are escaped
    assert "A p95 +39% (100.5 ms -> 139.5 ms) from run s0" in markdown_report(run, verdict, links).replace("\\", "")


def test_change_points_become_influx_points_for_annotations() -> None:
    from tasks.evaluation.points import run_points

    rng = random.Random(4)
    runs = history([rng.gauss(100, 2) for _ in range(10)] + [rng.gauss(150, 2) for _ in range(5)])
    run = RunResult(
        run_id="h14", service="Svc", profile="smoke", target="http://127.0.0.1:1", status="passed",
        started_at=T0, duration_s=8, run_dir="/tmp/x", total=Stats(requests=10, rps=1),
    )  # fmt: skip
    verdict = evaluate(
        run, Catalog.model_validate({"service": "Svc", "endpoints": [{"name": "A", "group": "g", "path": "/a"}]})
    )
    verdict.change_points = change_points(runs)
    marks = [p for p in run_points(run, verdict) if p.startswith("luna_change_point,")]
    assert len(marks) == 1 and "metric=p95_ms" in marks[0] and "run_id=h10" in marks[0]
    assert marks[0].endswith(str(int((T0 + timedelta(minutes=10)).timestamp() * 1e9)))


def test_older_verdicts_read_back_with_an_outcome() -> None:
    from luna.verdict import Comparison

    old = {
        "baseline_run_id": "b",
        "endpoints": [{"name": "A", "deltas": [
            {"metric": "p95_ms", "baseline": 10, "current": 20, "change": 10, "change_pct": 1, "noise": 1, "regression": True},
            {"metric": "rps", "baseline": 10, "current": 10, "change": 0, "change_pct": 0, "noise": 1},
        ]}],
        "regressions": ["A: p95_ms"],
    }  # fmt: skip
    back = Comparison.model_validate(old)
    assert back.outcome == "regressed" and [d.outcome for d in back.endpoints[0].deltas] == [
        "regressed",
        "inconclusive",
    ]
