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
whatever the run length; a closed period is seven numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from luna.results import TimeSeries

POINTS = 120  # about this many periods per run, as the dashboard's snapshots
PERIOD_S = (1.0, 10.0)  # no shorter than a VU's flush, no longer than k6's dashboard default
LINE_SPAN_S = 1.0  # what one measure line covers (k6/lib/measure.js FLUSH_MS)
SERIES_FILE = "series.json"


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


class PeriodSeries:
    """Adds each measure line to its period; `finish` gives the TimeSeries."""

    def __init__(self, period_s: float, checks_per_endpoint: list[int] | None = None) -> None:
        self.period_s = period_s
        self.checks = np.asarray(checks_per_endpoint or [], dtype=np.int64)
        self.vus: float | None = None  # k6's active VUs, from its last progress line
        self.open = -1  # the index of the open period (-1: none yet)
        self._reset()
        self.rows: list[tuple[float, float | None, float | None, float | None, float | None, float | None]] = []
        self.calls: list[int] = []
        self.early: list[tuple[np.ndarray, np.ndarray]] = []  # lines before k6's clock was known

    def _reset(self) -> None:
        self.durations: list[np.ndarray] = []
        self.failed = 0
        self.passed = 0
        self.checked = 0
        self.period_vus: float | None = None

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
        if index < self.open:
            index = self.open  # a line late by more than a period still counts, in the open one
        while self.open < index:
            self._close()
        if self.vus is not None:
            self.period_vus = self.vus if self.period_vus is None else max(self.period_vus, self.vus)
        if len(durations) == 0:
            return
        self.durations.append(durations)
        w = words.astype(np.int64)
        self.failed += int(((w >> 16) & 1).sum())
        passed = (w >> 24) & 0x7F
        self.passed += int(sum(int(((passed >> j) & 1).sum()) for j in range(7)))
        if len(self.checks):
            self.checked += int(self.checks[w & 0xFFFF].sum())

    def _close(self) -> None:
        if self.open >= 0:
            self._row()
        self.open += 1
        self._reset()
        self.period_vus = self.vus  # a period without a line still had k6's last VUs

    def _row(self) -> None:
        d = np.concatenate(self.durations) if self.durations else np.empty(0)
        n = len(d)
        p50, p95, p99 = (float(v) for v in np.percentile(d, [50, 95, 99])) if n else (None, None, None)
        error = self.failed / n if n else None
        checks = self.passed / self.checked if self.checked else None
        self.calls.append(n)
        self.rows.append((p50, p95, p99, error, self.period_vus, checks))  # type: ignore[arg-type]

    def finish(self, duration_s: float | None) -> TimeSeries | None:
        """The series up to the run's end (k6's duration; the last period may be shorter)."""
        if self.early:  # k6's clock never came: the lines end the run
            self.add(max(duration_s or 0.0, LINE_SPAN_S), np.empty(0), np.empty(0, dtype=np.uint32))
        if self.open < 0:
            return None
        self._row()
        self.open += 1
        self._reset()
        ends = [(i + 1) * self.period_s for i in range(len(self.rows))]
        if duration_s is not None and duration_s > (len(ends) - 1) * self.period_s:
            ends[-1] = min(ends[-1], duration_s)
        starts = [0.0, *ends[:-1]]
        return TimeSeries(
            period_s=self.period_s,
            timestamps=[round(e, 3) for e in ends],
            rps=[round(n / max(e - s, LINE_SPAN_S / 2), 3) for n, s, e in zip(self.calls, starts, ends, strict=True)],
            p50_ms=[r[0] for r in self.rows],
            p95_ms=[r[1] for r in self.rows],
            p99_ms=[r[2] for r in self.rows],
            error_rate=[r[3] for r in self.rows],
            vus=[r[4] for r in self.rows],
            checks_rate=[r[5] for r in self.rows],
        )


def write_series(series: PeriodSeries | None, run_dir: Path, duration_s: float | None) -> None:
    """series.json in the run folder, when the run measured any period."""
    points = series.finish(duration_s) if series is not None else None
    if points is not None and len(points):
        (run_dir / SERIES_FILE).write_text(points.model_dump_json(), encoding="utf-8")
