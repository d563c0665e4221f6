"""Small per-endpoint trend charts for the report: p95 over the comparable history with the
change points (tasks/evaluation/changes.py) marked. Plain geometry; the SVG is in
templates/_trend.html. Owned with the regression model, apart from the rest of reporting."""

from __future__ import annotations

from dataclasses import dataclass, field

from luna.verdict import Trend, Verdict
from tasks.evaluation.changes import describe

W, H = 300, 84
PAD_L, PAD_R, PAD_T, PAD_B = 36, 8, 10, 16
MAX_CHARTS = 12


@dataclass(frozen=True)
class Mark:
    x: float
    label: str


@dataclass
class TrendChart:
    id: str
    endpoint: str
    path: str
    dots: list[tuple[float, float]]
    current: tuple[float, float] | None
    marks: list[Mark] = field(default_factory=list)
    low: str = ""
    high: str = ""
    runs: int = 0
    notes: list[str] = field(default_factory=list)
    width: int = W
    height: int = H


def _ms(v: float) -> str:
    return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def trend_chart(index: int, trend: Trend) -> TrendChart | None:
    """One chart; None when fewer than two runs measured the endpoint."""
    points = [(i, p.value) for i, p in enumerate(trend.points) if p.value is not None]
    if len(points) < 2:
        return None
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or max(high * 0.1, 1.0)
    last = len(trend.points) - 1 or 1

    def x(i: int) -> float:
        return round(PAD_L + (W - PAD_L - PAD_R) * i / last, 1)

    def y(v: float) -> float:
        return round(H - PAD_B - (H - PAD_T - PAD_B) * (v - low) / span, 1)

    dots = [(x(i), y(v)) for i, v in points]
    path = "M" + " L".join(f"{a},{b}" for a, b in dots)
    index_of = {p.run_id: i for i, p in enumerate(trend.points)}
    marks = [Mark(x(index_of[c.run_id]), describe(c)) for c in trend.change_points if c.run_id in index_of]
    current = dots[-1] if points[-1][0] == len(trend.points) - 1 else None
    return TrendChart(
        id=f"trend-{index}",
        endpoint="All endpoints" if trend.endpoint == "_total" else trend.endpoint,
        path=path,
        dots=dots,
        current=current,
        marks=marks,
        low=_ms(low),
        high=_ms(high),
        runs=len(trend.points),
        notes=[m.label for m in marks],
    )


def trend_charts(verdict: Verdict) -> list[TrendChart]:
    """The run's trend charts, all endpoints first, at most MAX_CHARTS."""
    charts = [trend_chart(i, t) for i, t in enumerate(verdict.trends[:MAX_CHARTS])]
    return [c for c in charts if c is not None]


def change_point_lines(verdict: Verdict) -> list[str]:
    """One line per change point, for the markdown report."""
    return [describe(c) for c in verdict.change_points]
