"""Change points over a service's whole comparable history, and the trends a report draws.

A change point is a run from which a metric's level shifted and stayed: found by Apache
Otava's E-divisive means with a Student t-test (`otava.analysis.compute_change_points`,
the "Hunter" algorithm of Fleming et al.), at p < 0.001 and at least 5 % relative change.
One slow run is not a change point; ten slower runs in a row are. Otava (and SciPy) are
imported only when a series is long enough to test.
"""

from __future__ import annotations

from typing import Literal

from luna.verdict import ChangePoint, Trend, TrendPoint
from tasks.evaluation.compare import TOTAL, RunRecord, incomparable

MIN_SERIES = 6  # fewer runs than this: no change point can be told from noise
MAX_PVALUE = 0.001
MIN_MAGNITUDE = 0.05
WINDOW_LEN = 30
TREND_POINTS = 30

MetricName = Literal["p95_ms", "error_rate"]


def _value(record: RunRecord, endpoint: str, metric: MetricName) -> float | None:
    e = record.endpoints.get(endpoint)
    if e is None:
        return None
    return e.p95 if metric == "p95_ms" else e.error_rate


def series_change_points(values: list[float]) -> list[tuple[int, float, float, float]]:
    """(index of the first run after the shift, mean before, mean after, p-value) per change."""
    if len(values) < MIN_SERIES or max(values) == min(values):
        return []
    from otava.analysis import compute_change_points

    found, _ = compute_change_points(
        list(values), window_len=WINDOW_LEN, max_pvalue=MAX_PVALUE, min_magnitude=MIN_MAGNITUDE
    )
    return [(int(cp.index), float(cp.stats.mean_1), float(cp.stats.mean_2), float(cp.stats.pvalue)) for cp in found]


def change_points(
    runs: list[RunRecord],
    endpoints: list[str] | None = None,
    metrics: tuple[MetricName, ...] = ("p95_ms", "error_rate"),
) -> list[ChangePoint]:
    """Change points of each endpoint's metrics over `runs` (any order; judged oldest first)."""
    ordered = sorted(runs, key=lambda r: r.started_at)
    names = endpoints if endpoints is not None else sorted({n for r in ordered for n in r.endpoints})
    found: list[ChangePoint] = []
    for name in names:
        for metric in metrics:
            points = [(r, v) for r in ordered if (v := _value(r, name, metric)) is not None]
            for index, before, after, pvalue in series_change_points([v for _, v in points]):
                run = points[index][0]
                found.append(
                    ChangePoint(
                        endpoint=name,
                        metric=metric,
                        run_id=run.run_id,
                        started_at=run.started_at,
                        before=before,
                        after=after,
                        change_pct=(after / before - 1) if before else None,
                        pvalue=pvalue,
                    )
                )
    return found


def trends(runs: list[RunRecord], found: list[ChangePoint], limit: int = TREND_POINTS) -> list[Trend]:
    """Each endpoint's p95 over the newest `limit` runs (oldest first), with its change points."""
    ordered = sorted(runs, key=lambda r: r.started_at)[-limit:]
    if not ordered:
        return []
    shown = {r.run_id for r in ordered}
    names = [TOTAL] + sorted({n for r in ordered for n in r.endpoints} - {TOTAL})
    return [
        Trend(
            endpoint=name,
            points=[
                TrendPoint(run_id=r.run_id, started_at=r.started_at, value=_value(r, name, "p95_ms")) for r in ordered
            ],
            change_points=[c for c in found if c.endpoint == name and c.metric == "p95_ms" and c.run_id in shown],
        )
        for name in names
        if any(name in r.endpoints for r in ordered)
    ]


def describe(cp: ChangePoint) -> str:
    """One line: 'GetUser p95 +31% (100.2 -> 131.4 ms) from run X'."""
    shown = (lambda v: f"{v:.1f} ms") if cp.metric == "p95_ms" else (lambda v: f"{v * 100:.2f}%")
    pct = f" {cp.change_pct:+.0%}" if cp.change_pct is not None else ""
    label = "p95" if cp.metric == "p95_ms" else "error rate"
    return f"{cp.endpoint} {label}{pct} ({shown(cp.before)} -> {shown(cp.after)}) from run {cp.run_id}"


def mark_change_points(records: list[RunRecord]) -> list[RunRecord]:
    """The records (same order) with each one's `change_points` set: change points are found
    within each group of mutually comparable runs (profile, load shape, endpoints)."""
    groups: list[list[RunRecord]] = []
    for record in records:
        group = next((g for g in groups if not incomparable(g[0], record)), None)
        if group is None:
            groups.append([record])
        else:
            group.append(record)
    starts: dict[str, list[ChangePoint]] = {}
    for group in groups:
        for cp in change_points(group):
            starts.setdefault(cp.run_id, []).append(cp)
    return [r.model_copy(update={"change_points": starts.get(r.run_id, [])}) for r in records]
