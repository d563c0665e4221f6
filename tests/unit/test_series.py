"""The per-period series Luna builds from its own measure (tasks/execution/series.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from luna.masking import Masker
from tasks.execution.measure import Measure
from tasks.execution.output import OutputHandler, OutputState
from tasks.execution.series import Clock, PeriodSeries, series_period_s, write_series
from tasks.reporting.timeseries import run_series
from tests.unit.test_measure import LABELS, catalog, line

pytestmark = pytest.mark.unit


def test_the_period_is_the_planned_length_over_120_within_1_and_10_s() -> None:
    assert series_period_s(15) == 1.0
    assert series_period_s(600) == 5.0
    assert series_period_s(3600) == 10.0
    assert series_period_s(None) == 1.0


def test_k6s_clock_is_luna_s_clock_less_the_least_delayed_progress_line() -> None:
    clock = Clock()
    assert clock.now(now=50.0) is None
    clock.progress(1.0, now=101.3)  # a line read 0.3 s late
    clock.progress(2.0, now=102.0)
    clock.progress(3.0, now=103.4)
    assert clock.now(now=104.5) == pytest.approx(4.5)


def test_each_line_counts_in_its_period_with_exact_percentiles_errors_checks_and_vus() -> None:
    measure = Measure(catalog(), PeriodSeries(2.0))
    assert measure.series is not None
    # period 0 (0-2 s): A 10 calls of 1..10 ms, 2 failed, status check passed on 7; B 10 calls of 50 ms
    first = [(0, float(ms), ms <= 2, 2, 0, False, int(ms > 3)) for ms in range(1, 11)]
    measure.series.vus = 4
    measure.add_line(line(first, LABELS), clock_s=1.2)
    measure.add_line(line([(1, 50.0, False, 2, 0, False, 0)] * 10), clock_s=2.4)  # 2.4 - 0.5 s: period 0
    # period 1 (2-4 s) has no call; period 2 (4-6 s): one failed A call of 300 ms
    measure.series.vus = 2
    measure.add_line(line([(0, 300.0, True, 0, 0, False, 0)]), clock_s=5.1)
    series = measure.series.finish(duration_s=5.5)
    assert series is not None
    assert series.timestamps == [2.0, 4.0, 5.5]
    assert series.rps == [10.0, 0.0, 0.667]  # 20 calls in 2 s; 1 call in the last 1.5 s
    everything = [float(ms) for ms in range(1, 11)] + [50.0] * 10
    assert series.p50_ms[0] == pytest.approx(float(np.percentile(everything, 50)))
    assert series.p95_ms[0] == 50.0
    assert (series.p95_ms[1], series.error_rate[1], series.checks_rate[1]) == (None, None, None)
    assert series.p99_ms[2] == 300.0
    assert series.error_rate == [0.1, None, 1.0]
    assert series.checks_rate[0] == pytest.approx(7 / 10)  # B has no check: A's ten are all
    assert series.checks_rate[2] == 0.0
    assert series.vus == [4, 2, 2]


def test_lines_before_k6s_first_progress_line_count_from_its_first_second() -> None:
    measure = Measure(catalog(), PeriodSeries(1.0))
    assert measure.series is not None
    measure.add_line(line([(1, 5.0, False, 2, 0, False, 0)] * 3, LABELS), clock_s=None)
    measure.add_line(line([(1, 5.0, False, 2, 0, False, 0)] * 2), clock_s=2.1)
    series = measure.series.finish(duration_s=2.0)
    assert series is not None
    assert series.timestamps == [1.0, 2.0]
    assert series.rps == [3.0, 2.0]


def test_the_output_handler_keeps_the_series_on_k6s_clock_and_the_report_reads_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    plan = SimpleNamespace(catalog=catalog())
    state = OutputState(failure_cap=3, series_period_s=1.0)
    handler = OutputHandler(plan, Masker([]), state, io.StringIO(), io.StringIO(), lambda *a: None, lambda *a: None)  # type: ignore[arg-type]
    handler.banner_done = True
    handler.handle("stdout", "running (01.0s), 3/5 VUs, 12 complete and 0 interrupted iterations")
    payload = line([(0, 8.0, False, 2, 0, False, 1)] * 6, LABELS)
    handler.handle("stderr", json.dumps({"level": "info", "msg": f"LUNA_AGG {payload}", "source": "console"}))
    assert state.measure is not None and state.measure.overall.requests == 6
    write_series(state.measure.series, tmp_path, duration_s=1.0)
    series = run_series(tmp_path, {"series": "series.json"})
    assert series is not None
    assert series.rps == [6.0] and series.vus == [3] and series.checks_rate == [1.0]


def test_no_series_file_without_a_measured_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_series(PeriodSeries(1.0), tmp_path, duration_s=3.0)
    write_series(None, tmp_path, duration_s=3.0)
    assert not (tmp_path / "series.json").exists()
    assert run_series(tmp_path, {}) is None


def test_shards_periods_add_up_into_the_merged_runs_series() -> None:
    from tasks.execution.series import merged_series

    shards = []
    for ms, failed in ((10.0, False), (1000.0, True)):  # shard 0 fast and fine, shard 1 slow and failing
        measure = Measure(catalog(), PeriodSeries(1.0, keep_buckets=True))
        assert measure.series is not None
        measure.series.vus = 3
        measure.add_line(line([(0, ms, failed, 2, 0, False, 1)] * 10, LABELS), clock_s=1.0)
        measure.add_line(line([(0, ms, failed, 2, 0, False, 1)] * (5 if failed else 15)), clock_s=2.0)
        measure.series.finish(duration_s=2.0)
        shards.append(measure.series.counts)
    series = merged_series(shards, duration_s=2.0)
    assert series is not None
    assert series.rps == [20.0, 20.0] and series.vus == [6, 6]
    assert series.error_rate == [0.5, 0.25]
    assert series.p50_ms[0] == pytest.approx(10.0, rel=1e-3) and series.p99_ms[0] == pytest.approx(1000.0, rel=1e-3)
    assert series.p50_ms[1] == pytest.approx(10.0, rel=1e-3)  # 15 fast calls of 20
    assert series.p95_ms[1] == pytest.approx(1000.0, rel=1e-3)
    assert merged_series([], 2.0) is None


def test_the_run_log_gets_the_latest_periods_figures_every_10_s_of_k6s_clock() -> None:
    from types import SimpleNamespace

    logged: list[tuple[str, str]] = []
    state = OutputState(failure_cap=3, series_period_s=1.0)
    plan = SimpleNamespace(catalog=catalog())
    handler = OutputHandler(
        plan,  # type: ignore[arg-type]
        Masker([]),
        state,
        io.StringIO(),
        io.StringIO(),
        lambda level, text: logged.append((level, text)),
        lambda *a: None,
    )
    handler.banner_done = True
    now = 1000.0
    for second in range(1, 23):  # 22 s of k6's clock: a progress line and one VU line a second
        state.clock.progress(float(second), now=now + second)
        state.vus_now = 4
        ms = float(11 - (second - 1) % 10 - 1)  # 10, 9, ..., 1 ms: a window's p95 is not its last second's
        calls = [(0, ms, i == 0, 2, 0, False, 1) for i in range(50)]  # 50 calls, 1 failed
        state.measure = state.measure or Measure(catalog(), PeriodSeries(1.0))
        assert state.measure.series is not None
        state.measure.series.vus = 4
        state.measure.add_line(line(calls, LABELS if second == 1 else None), clock_s=float(second))
        handler._live()
    live = [text for level, text in logged if text.startswith("live: ")]
    assert live == [
        "live: at 10 s: 50 req/s, p95 10.0 ms, errors 2.00%, checks 100.00% passed, 4 VUs (the last 10 s)",
        "live: at 20 s: 50 req/s, p95 10.0 ms, errors 2.00%, checks 100.00% passed, 4 VUs (the last 10 s)",
    ]
