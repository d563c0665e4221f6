"""Chart geometry for the HTML report: plain data (coordinates, path strings, tick labels)
that the Jinja templates turn into inline SVG. No drawing library, no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 34
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    path: str
    width: float = 2.0
    dash: str = ""
    area: str = ""


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line, e.g. the SLO target."""

    label: str
    color: str
    y: float


@dataclass
class LineChart:
    id: str
    title: str
    desc: str
    unit: str
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    rules: list[Rule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: Sequence[float | None]
    width: float = 2.0
    area: bool = False
    dash: str = ""


def nice_step(span: float, target_ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `target_ticks` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def number(value: float, step: float = 1.0) -> str:
    """A tick label with just the decimals the step needs."""
    decimals = next((d for d in range(5) if abs(round(step, d) - step) < 1e-9), 4)
    if decimals == 0 and abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k" if value % 1000 == 0 else f"{value / 1000:,.1f}k"
    return f"{value:,.{decimals}f}"


def amount(value: float) -> str:
    """A measured value: two decimals below 1, one below 100, none above."""
    if abs(value) < 1:
        return f"{value:.2f}"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def seconds(value: float) -> str:
    value = round(value)
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m" + (f"{value % 60:02d}s" if value % 60 else "")
    return f"{value // 3600}h" + (f"{value % 3600 // 60:02d}m" if value % 3600 else "")


def _time_ticks(end: float, to_x: Callable[[float], float]) -> list[Tick]:
    step = next((s for s in TIME_STEPS if end / s <= 6), TIME_STEPS[-1])
    count = int(end // step)
    return [Tick(to_x(i * step), seconds(i * step)) for i in range(count + 1)]


def _path(points: list[tuple[float, float] | None]) -> str:
    """SVG path data; a None breaks the line, a lone point becomes a dot."""
    parts: list[str] = []
    run: list[tuple[float, float]] = []

    def flush() -> None:
        if len(run) == 1:
            x, y = run[0]
            parts.append(f"M{x:.1f},{y:.1f}h0.01")
        elif run:
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in run))
        run.clear()

    for point in points:
        if point is None:
            flush()
        else:
            run.append(point)
    flush()
    return " ".join(parts)


def line_chart(
    chart_id: str,
    title: str,
    unit: str,
    timestamps: Sequence[float],
    series: Sequence[Series],
    *,
    scale: float = 1.0,
    rules: Sequence[tuple[str, str, float]] = (),
    min_top: float = 1.0,
) -> LineChart:
    """A time chart from 0 to the last timestamp; values are multiplied by `scale` (e.g. 100 for %)."""
    chart = LineChart(id=chart_id, title=title, desc="", unit=unit, lines=[], x_ticks=[], y_ticks=[])
    end = max(timestamps[-1] if timestamps else 0.0, 1.0)
    scaled = [[None if v is None else v * scale for v in s.values] for s in series]
    seen = [v for values in scaled for v in values if v is not None]
    data_top = max(seen, default=0.0)
    top = max(data_top, min_top)
    visible_rules = []
    for label, color, value in rules:
        if value <= max(top, data_top) * 2.5:  # a far-off target would flatten the data
            top = max(top, value)
            visible_rules.append((label, color, value))
        else:
            chart.notes.append(f"{label} (off the scale)")
    step = nice_step(top * 1.05)
    y_max = step * math.ceil(top * 1.05 / step)
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top

    def to_x(t: float) -> float:
        return chart.left + plot_w * t / end

    def to_y(v: float) -> float:
        return chart.bottom - plot_h * v / y_max

    chart.x_ticks = _time_ticks(end, to_x)
    chart.y_ticks = [Tick(to_y(i * step), number(i * step, step)) for i in range(round(y_max / step) + 1)]
    for s, values in zip(series, scaled, strict=True):
        points = [None if v is None else (to_x(t), to_y(v)) for t, v in zip(timestamps, values, strict=False)]
        area = ""
        solid = [p for p in points if p is not None]
        if s.area and len(solid) > 1 and len(solid) == len(points):
            area = _path(points) + f" L{solid[-1][0]:.1f},{chart.bottom} L{solid[0][0]:.1f},{chart.bottom} Z"
        chart.lines.append(Line(s.label, s.color, _path(points), s.width, s.dash, area))
    chart.rules = [Rule(label, color, to_y(value)) for label, color, value in visible_rules]
    chart.desc = _describe(title, unit, timestamps, series, scaled)
    return chart


def _describe(
    title: str,
    unit: str,
    timestamps: Sequence[float],
    series: Sequence[Series],
    scaled: list[list[float | None]],
) -> str:
    span = seconds(timestamps[-1]) if timestamps else "0s"
    parts = []
    for s, values in zip(series, scaled, strict=True):
        seen = [v for v in values if v is not None]
        if seen:
            parts.append(
                f"{s.label} from {amount(min(seen))} to {amount(max(seen))} {unit}, "
                f"mean {amount(sum(seen) / len(seen))} {unit}"
            )
        else:
            parts.append(f"{s.label}: no data")
    return f"{title} over {span} in {len(timestamps)} periods: " + "; ".join(parts) + "."


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float
    value: str
    color: str
    target_x: float | None
    target: str
    ok: bool | None


@dataclass
class BarChart:
    id: str
    title: str
    unit: str
    desc: str
    bars: list[Bar]
    ticks: list[Tick]
    width: int
    height: int
    left: int
    right: int
    row: int
    bar: int


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float | None, float | None]],
    *,
    unit: str = "ms",
    label_chars: int = 26,
) -> BarChart:
    """Horizontal bars, one per (label, value, target); the target is drawn as a tick mark."""
    row_h, bar_h, left, width = 30, 16, 200, 1000
    right = width - 130
    height = max(1, len(rows)) * row_h + 34
    top = max([v or 0 for _, v, _ in rows] + [t or 0 for _, _, t in rows] + [1.0])
    step = nice_step(top * 1.05, 5)
    x_max = step * math.ceil(top * 1.05 / step)

    def to_x(v: float) -> float:
        return left + (right - left) * v / x_max

    bars = []
    described = []
    for i, (label, value, target) in enumerate(rows):
        ok = None if value is None or target is None else value < target
        short = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        bars.append(
            Bar(
                label=short,
                y=8 + i * row_h,
                width=0.0 if value is None else max(1.0, to_x(value) - left),
                value="no data" if value is None else f"{amount(value)} {unit}",
                color="#94a3b8" if ok is None else "#16a34a" if ok else "#dc2626",
                target_x=None if target is None else to_x(target),
                target="" if target is None else f"target < {amount(target)} {unit}",
                ok=ok,
            )
        )
        state = "" if ok is None else " (meets target)" if ok else " (misses target)"
        described.append(
            f"{label}: {'no data' if value is None else f'{amount(value)} {unit}'}"
            + ("" if target is None else f" against a target of {amount(target)} {unit}")
            + state
        )
    ticks = [Tick(to_x(i * step), number(i * step, step)) for i in range(round(x_max / step) + 1)]
    desc = (title + ": " + "; ".join(described) + ".") if described else f"{title}: no endpoints."
    return BarChart(
        id=chart_id,
        title=title,
        unit=unit,
        desc=desc,
        bars=bars,
        ticks=ticks,
        width=width,
        height=height,
        left=left,
        right=right,
        row=row_h,
        bar=bar_h,
    )
