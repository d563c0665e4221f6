"""The run's per-period time series (report charts), from Luna's own per-call measure.

k6's web dashboard can give the same series (`k6-report.html`), but its cumulative meter
keeps every duration sample until the end of the run: 1.35x k6's memory after 10 minutes at
200 requests/s (docs/PERFORMANCE.md, issue 15). So Luna builds the series itself from the
VUs' measure lines (tasks/execution/measure.py), as they arrive, and k6's dashboard is only
on when asked for (LUNA_K6_DASHBOARD, LUNA_LIVE_DASHBOARD).

A line holds one VU's calls of about the last second (k6/lib/measure.js flushes once a
second), so it counts for the period that holds its arrival on k6's clock less half a
second. k6's clock is read from its progress lines (`running (12.0s), ...`, one a second):
k6 clock = Luna's monotonic clock - the smallest offset seen. Percentiles are exact over the
period's calls (numpy); only the open period's durations are held, so memory stays flat
whatever the run length; a closed period is a few numbers (a shard also keeps its HDR
buckets, so that the merged run's series adds up exactly: `merged_series`).
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from luna.results import TimeSeries
from tasks.execution.hdr import from_counts, hdr_buckets, percentile_ms

POINTS = 120  # about this many periods per run, as the dashboard's snapshots
PERIOD_S = (1.0, 10.0)  # no shorter than a VU's flush, no longer than k6's dashboard default
LINE_SPAN_S = 1.0  # what one measure line covers (k6/lib/measure.js FLUSH_MS)
SERIES_FILE = "series.json"
LIVE_WINDOW_S = 10.0  # what one `live:` line of the run log covers (tasks/execution/output.py)


def series_period_s(total_s: float | None) -> float:
    """The period for a run that k6 plans to take `total_s` seconds (60 s when unknown)."""
    low, high = PERIOD_S
    return max(low, min(high, round((total_s or 60.0) / POINTS, 1)))


class Clock:
    """k6's test clock on Luna's side: set from k6's progress lines."""

    def __init__(self) -> None:
        self.offset: float | None = None  # monotonic - k6 clock; the smallest seen is the least delayed

    def progress(self, k6_seconds: float, now: float | None = None) -> None:
        offset = (time.monotonic() if now is None else now) - k6_seconds
        self.offset = offset if self.offset is None else min(self.offset, offset)

    def now(self, now: float | None = None) -> float | None:
        """k6's clock now, or None before its first progress line."""
        if self.offset is None:
            return None
        return (time.monotonic() if now is None else now) - self.offset


class PeriodCounts(BaseModel):
    """A run's periods as counts that add up across shards: the durations as HDR buckets
    (the lowest µs of each bucket, 3 significant digits: hdr.py) with their calls."""

    period_s: float
    calls: list[int] = Field(default_factory=list)
    failed: list[int] = Field(default_factory=list)
    passed: list[int] = Field(default_factory=list)  # checks that passed
    checked: list[int] = Field(default_factory=list)  # checks made
    vus: list[float | None] = Field(default_factory=list)
    buckets: list[dict[int, int]] = Field(default_factory=list)


class PeriodSeries:
    """Adds each measure line to its period; `finish` gives the TimeSeries. With
    `keep_buckets` (a shard) it also keeps each period's HDR buckets, for the merged run."""

    def __init__(self, period_s: float, keep_buckets: bool = False) -> None:
        self.period_s = period_s
        self.keep_buckets = keep_buckets
        self.checks: np.ndarray = np.zeros(0, dtype=np.int64)  # checks per call, by endpoint index
        self.vus: float | None = None  # k6's active VUs, from its last progress line
        self.open = -1  # the index of the open period (-1: none yet)
        self.counts = PeriodCounts(period_s=period_s)
        self.percentiles: list[tuple[float | None, float | None, float | None]] = []
        self.early: list[tuple[np.ndarray, np.ndarray]] = []  # lines before k6's clock was known
        self.done: TimeSeries | None = None
        self.recent: deque[dict[int, int]] = deque(maxlen=max(1, math.ceil(LIVE_WINDOW_S / period_s)))
        self._reset()

    def _reset(self) -> None:
        self.durations: list[np.ndarray] = []
        self.failed = self.passed = self.checked = 0
        self.period_vus: float | None = self.vus  # a period without a line still had k6's last VUs

    def set_checks(self, checks_per_endpoint: list[int]) -> None:
        self.checks = np.asarray(checks_per_endpoint, dtype=np.int64)

    def add(self, clock_s: float | None, durations: np.ndarray, words: np.ndarray) -> None:
        """One VU line's calls, arrived at `clock_s` on k6's clock (None: not known yet)."""
        if clock_s is None:
            self.early.append((durations, words))
            return
        if self.early:
            early, self.early = self.early, []
            for d, w in early:
                self._add(max(0.0, clock_s - LINE_SPAN_S), d, w)
        self._add(clock_s, durations, words)

    def _add(self, clock_s: float, durations: np.ndarray, words: np.ndarray) -> None:
        index = max(0, int((clock_s - LINE_SPAN_S / 2) // self.period_s))
        while self.open < index:  # a line late by more than a period counts in the open one
            self._close()
        if self.vus is not None:
            self.period_vus = self.vus if self.period_vus is None else max(self.period_vus, self.vus)
        if len(durations) == 0:
            return
        self.durations.append(durations)
        w = words.astype(np.int64)
        self.failed += int(((w >> 16) & 1).sum())
        passed = (w >> 24) & 0x7F
        self.passed += sum(int(((passed >> j) & 1).sum()) for j in range(7))
        if len(self.checks):
            self.checked += int(self.checks[w & 0xFFFF].sum())

    def _close(self) -> None:
        if self.open >= 0:
            self._row()
        self.open += 1
        self._reset()

    def _row(self) -> None:
        d = np.concatenate(self.durations) if self.durations else np.empty(0)
        c = self.counts
        c.calls.append(len(d))
        c.failed.append(self.failed)
        c.passed.append(self.passed)
        c.checked.append(self.checked)
        c.vus.append(self.period_vus)
        if len(d):
            p50, p95, p99 = (float(v) for v in np.percentile(d, [50, 95, 99]))
            self.percentiles.append((p50, p95, p99))
        else:
            self.percentiles.append((None, None, None))
        values, counts = np.unique(hdr_buckets(d), return_counts=True)
        buckets = dict(zip(values.tolist(), counts.tolist(), strict=True))
        self.recent.append(buckets)  # the live line's window
        if self.keep_buckets:
            c.buckets.append(buckets)

    def closed(self) -> int:
        """How many periods are closed (their figures final)."""
        return len(self.counts.calls)

    def summary(self, start: int) -> str:
        """The closed periods from `start` on (at most LIVE_WINDOW_S of them) in one line, for
        the run log (k6's dashboard is off by default); p95 from their HDR buckets."""
        c, end = self.counts, self.closed()
        start = max(start, end - len(self.recent))
        n, failed = sum(c.calls[start:end]), sum(c.failed[start:end])
        passed, checked = sum(c.passed[start:end]), sum(c.checked[start:end])
        vus = [v for v in c.vus[start:end] if v is not None]
        buckets: Counter[int] = Counter()
        for one in list(self.recent)[len(self.recent) - (end - start) :]:
            buckets.update(one)
        p95 = percentile_ms(from_counts(buckets), 95)
        window = (end - start) * self.period_s
        parts = [
            f"{n / window:,.0f} req/s",
            "p95 -" if p95 is None else f"p95 {p95:.1f} ms",
            f"errors {failed / n:.2%}" if n else "errors -",
        ]
        if checked:
            parts.append(f"checks {passed / checked:.2%} passed")
        if vus:
            parts.append(f"{max(vus):g} VUs")
        return f"at {end * self.period_s:g} s: {', '.join(parts)} (the last {window:g} s)"

    def finish(self, duration_s: float | None) -> TimeSeries | None:
        """The series up to the run's end (k6's duration; the last period may be shorter).
        Once: the open period is closed, and a second call gives the same series."""
        if self.done is not None or self.open < 0 and not self.early:
            return self.done
        if self.early:  # k6's clock never came: the lines end the run
            self.add(max(duration_s or 0.0, LINE_SPAN_S), np.empty(0), np.empty(0, dtype=np.uint32))
        self._row()
        self.open += 1
        self.done = _series(self.counts, self.percentiles, duration_s)
        return self.done


def merged_series(shards: list[PeriodCounts], duration_s: float | None) -> TimeSeries | None:
    """Several shards' periods added up, period by period (their clocks start together, at
    the barrier); percentiles from the summed HDR buckets (within 0.1 %)."""
    shards = [s for s in shards if s.calls]
    if not shards:
        return None
    total = PeriodCounts(period_s=shards[0].period_s)
    percentiles: list[tuple[float | None, float | None, float | None]] = []
    for i in range(max(len(s.calls) for s in shards)):
        present = [s for s in shards if i < len(s.calls)]
        total.calls.append(sum(s.calls[i] for s in present))
        total.failed.append(sum(s.failed[i] for s in present))
        total.passed.append(sum(s.passed[i] for s in present))
        total.checked.append(sum(s.checked[i] for s in present))
        vus = [s.vus[i] for s in present if s.vus[i] is not None]
        total.vus.append(sum(v for v in vus if v is not None) if vus else None)
        buckets: Counter[int] = Counter()
        for s in present:
            buckets.update(s.buckets[i] if i < len(s.buckets) else {})
        hist = from_counts(buckets)
        percentiles.append(tuple(percentile_ms(hist, p) for p in (50, 95, 99)))  # type: ignore[arg-type]
    return _series(total, percentiles, duration_s)


def _series(
    c: PeriodCounts, percentiles: list[tuple[float | None, float | None, float | None]], duration_s: float | None
) -> TimeSeries | None:
    if not c.calls:
        return None
    period = c.period_s
    ends = [(i + 1) * period for i in range(len(c.calls))]
    if duration_s is not None and duration_s > (len(ends) - 1) * period:
        ends[-1] = min(ends[-1], duration_s)
    starts = [0.0, *ends[:-1]]
    return TimeSeries(
        period_s=period,
        timestamps=[round(e, 3) for e in ends],
        rps=[round(n / max(e - s, LINE_SPAN_S / 2), 3) for n, s, e in zip(c.calls, starts, ends, strict=True)],
        p50_ms=[p[0] for p in percentiles],
        p95_ms=[p[1] for p in percentiles],
        p99_ms=[p[2] for p in percentiles],
        error_rate=[f / n if n else None for f, n in zip(c.failed, c.calls, strict=True)],
        vus=c.vus,
        checks_rate=[p / k if k else None for p, k in zip(c.passed, c.checked, strict=True)],
    )


def write_series(series: PeriodSeries | TimeSeries | None, run_dir: Path, duration_s: float | None) -> None:
    """series.json in the run folder, when the run measured any period."""
    points = series.finish(duration_s) if isinstance(series, PeriodSeries) else series
    if points is not None and len(points):
        (run_dir / SERIES_FILE).write_text(points.model_dump_json(), encoding="utf-8")
