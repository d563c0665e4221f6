"""The regression model: a baseline from a window of comparable past runs, and three answers
per metric (`ok`, `regressed`, `inconclusive`), each with its reason and what to do.

1. **Window.** The newest `WINDOW` past runs that are comparable with this one (compare.py:
   same service, profile, load shape, endpoints), that did not overlap it in time, and whose
   load generator was not saturated.
2. **Baseline and spread.** Per endpoint and metric, the baseline is the window's median and
   the run-to-run spread is 1.4826 x the median absolute deviation (MAD): robust to the odd
   slow run. The error of a new run against that median combines the spread (inflated for a
   small window: the median is itself uncertain, about 1.25 spread / sqrt(n)) with this
   run's own sampling error (within-run): sigma = sqrt(spread^2 (1 + 1.57 / n) + within^2).
   `noise` = Z sigma (1 + 1 / sqrt(n)), Z = 3: the last factor because a MAD from a few runs
   is itself uncertain (measured in bench/regression_detection.py --simulate).
3. **Outcome.** With `bad` the change in the bad direction (p95 and error rate up,
   throughput down) and `tol` the tolerance (p95 and rps 10 % of the baseline, error rate
   0.5 points or half the baseline):
   - `regressed` when bad > noise and bad > tol;
   - `ok` when bad + noise <= tol and bad <= 0.4 tol: whatever the noise hid, the change is
     within tolerance;
   - `inconclusive` otherwise, and whenever the window has fewer than `MIN_HISTORY` runs, an
     endpoint has fewer than `MIN_SAMPLES` requests, or k6 was saturated in this run.
   So a change at the tolerance is never `ok`; a run on a noisy machine says "too noisy"
   instead of guessing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from luna.verdict import Comparison, Delta, EndpointComparison, Outcome
from tasks.evaluation.compare import (
    TOTAL,
    EndpointRecord,
    RunRecord,
    error_standard_error,
    incomparable,
    overlaps,
    p95_standard_error,
    rps_standard_error,
)

WINDOW = 10
MIN_HISTORY = 5
MIN_SAMPLES = 50
Z = 3.0
MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data
TOL_P95 = 0.10
TOL_RPS = 0.10
TOL_ERROR_ABS = 0.005
OK_SHARE = 0.4  # `ok` also needs the measured change under 40 % of the tolerance
MIN_ABS_P95_MS = 1.0
SAMPLES_FIX = "lengthen the run (--smoke-duration, --duration) or raise the endpoint's weight"
SATURATED_FIX = "lower the VUs or rate, split the load (--shards N), or run k6 on a machine with more CPU"
NOISY_FIX = "lengthen the runs (more samples), run on a quieter machine, or pin the load generator's CPU"


@dataclass
class Window:
    """The comparable runs a baseline is taken from, newest first, and what was left out."""

    runs: list[RunRecord]
    skipped: dict[str, int] = field(default_factory=dict)
    pinned: RunRecord | None = None


def select_window(
    history: list[RunRecord], current: RunRecord, pinned: str | None = None, size: int = WINDOW
) -> Window:
    """The newest `size` comparable, non-overlapping, unsaturated past runs that ran their planned
    length (and the pinned run)."""
    skipped: dict[str, int] = {}
    runs: list[RunRecord] = []
    chosen: RunRecord | None = None
    for run in sorted(history, key=lambda r: r.started_at, reverse=True):
        if run.run_id == current.run_id:
            continue
        if pinned and run.run_id == pinned:
            chosen = run
        why = (
            "later than this run"
            if run.started_at > current.started_at
            else "overlapped this run"
            if overlaps(run, current)
            else "not comparable"
            if incomparable(run, current)
            else "load generator saturated"
            if run.saturated
            else "stopped early (abort_on_breach)"
            if run.stopped_early
            else ""
        )
        if why:
            skipped[why] = skipped.get(why, 0) + 1
        elif run is not chosen and len(runs) < size:
            runs.append(run)
    return Window(runs=runs, skipped=skipped, pinned=chosen)


def _median_mad(values: list[float]) -> tuple[float, float]:
    center = statistics.median(values)
    return center, MAD_SCALE * statistics.median(abs(v - center) for v in values)


@dataclass
class Metric:
    """How one metric is read and judged."""

    name: str  # p95_ms, error_rate, rps
    sign: int  # +1: up is bad; -1: down is bad

    def value(self, e: EndpointRecord) -> float | None:
        if self.name == "p95_ms":
            return e.p95
        if self.name == "error_rate":
            return e.error_rate
        return e.rps

    def within(self, e: EndpointRecord, duration_s: float | None, base: float) -> float | None:
        if self.name == "p95_ms":
            return p95_standard_error(e)
        if self.name == "error_rate":
            return error_standard_error(e, e.error_rate if e.error_rate is not None else base)
        return rps_standard_error(e, duration_s)

    def tolerance(self, base: float) -> float:
        if self.name == "p95_ms":
            return max(TOL_P95 * base, MIN_ABS_P95_MS)
        if self.name == "error_rate":
            return max(TOL_ERROR_ABS, 0.5 * base)
        return TOL_RPS * base

    def show(self, v: float) -> str:
        if self.name == "p95_ms":
            return f"{v:.1f} ms"
        if self.name == "error_rate":
            return f"{v * 100:.2f} pp"
        return f"{v:.1f} rps"


METRICS = (Metric("p95_ms", +1), Metric("error_rate", +1), Metric("rps", -1))


def _runs_needed(n: int) -> str:
    more = MIN_HISTORY - n
    return f"{more} more comparable run{'s' if more != 1 else ''} needed"


def _inconclusive(delta: Delta, reason: str, todo: str) -> Delta:
    return delta.model_copy(update={"outcome": "inconclusive", "reason": reason, "todo": todo})


# long: each early answer (no data, few samples, short history) is one readable branch
def judge_metric(
    metric: Metric,
    cur: EndpointRecord,
    cur_duration: float | None,
    history: list[EndpointRecord],
    pinned: EndpointRecord | None = None,
) -> Delta:
    """One metric of one endpoint: the change against the window's median (or the pinned run),
    its noise, and the outcome with reason and todo."""
    values = [v for v in (metric.value(e) for e in history) if v is not None]
    if pinned is not None and (pinned_value := metric.value(pinned)) is not None:
        values.append(pinned_value)  # the pinned run is one of the comparable runs the spread comes from
    current = metric.value(cur)
    base_value = metric.value(pinned) if pinned is not None else (statistics.median(values) if values else None)
    delta = Delta(
        metric=metric.name, baseline=base_value, current=current, change=None, change_pct=None, noise=None,
        window=len(values), samples=cur.requests,
    )  # fmt: skip
    if current is None:
        return _inconclusive(delta, "not measured in this run", SAMPLES_FIX)
    if cur.requests < MIN_SAMPLES:
        return _inconclusive(delta, f"too few samples ({cur.requests} < {MIN_SAMPLES} requests)", SAMPLES_FIX)
    if base_value is not None:
        delta.change = current - base_value
        delta.change_pct = delta.change / base_value if base_value else None
    if len(values) < MIN_HISTORY:
        return _inconclusive(
            delta,
            f"too little history ({len(values)} comparable runs, {MIN_HISTORY} needed)",
            _runs_needed(len(values)),
        )
    if base_value is None:
        return _inconclusive(delta, "not measured in the baseline run", "pin a baseline run that measured it")
    change = current - base_value
    base_requests = pinned.requests if pinned is not None else statistics.median([e.requests for e in history])
    if base_requests < MIN_SAMPLES:
        return _inconclusive(
            delta, f"too few samples in the baseline ({int(base_requests)} < {MIN_SAMPLES} requests)", SAMPLES_FIX
        )
    _, spread = _median_mad(values)
    within = metric.within(cur, cur_duration, base_value) or 0.0
    sigma = math.sqrt(spread**2 * (1 + 1.57 / len(values)) + within**2)
    noise = Z * sigma * (1 + 1 / math.sqrt(len(values)))  # a MAD from few runs is itself uncertain
    tol = metric.tolerance(base_value)
    bad = metric.sign * change
    delta.noise, delta.spread, delta.within = noise, spread, within
    pct = f" ({delta.change_pct:+.1%})" if delta.change_pct is not None else ""
    size = f"{'+' if change >= 0 else '-'}{metric.show(abs(change))}{pct}, noise ±{metric.show(noise)}"
    if bad > noise and bad > tol:
        delta.outcome, delta.regression = "regressed", True
        delta.reason = f"{size}: beyond noise and the {metric.show(tol)} tolerance"
        return delta
    delta.improvement = -bad > noise
    if bad + noise <= tol and bad <= OK_SHARE * tol:
        delta.outcome, delta.reason = "ok", f"{size}: within the {metric.show(tol)} tolerance"
        return delta
    if noise > tol:
        return _inconclusive(delta, f"too noisy: {size}, more than the {metric.show(tol)} tolerance", NOISY_FIX)
    return _inconclusive(
        delta, f"unsure: {size}, could be a change up to {metric.show(bad + noise)}", "1 more run to confirm"
    )


def _run_outcome(deltas: list[tuple[str, Delta]]) -> Outcome:
    outcomes = {d.outcome for _, d in deltas}
    return "regressed" if "regressed" in outcomes else "inconclusive" if "inconclusive" in outcomes else "ok"


def _summary(outcome: Outcome, deltas: list[tuple[str, Delta]], what: str) -> tuple[str, str]:
    """(reason, todo) of the whole comparison."""
    if outcome == "regressed":
        named = [f"{name} {d.metric} {d.reason}" for name, d in deltas if d.outcome == "regressed"]
        return f"regressed against {what}: " + "; ".join(named[:5]), "look at the change points in `luna history`"
    if outcome == "ok":
        return f"no change beyond noise against {what}", ""
    open_ = [(name, d) for name, d in deltas if d.outcome == "inconclusive"]
    groups: dict[str, list[tuple[str, Delta]]] = {}
    for name, d in open_:
        groups.setdefault(d.reason.split(" (")[0].split(":")[0], []).append((name, d))
    kind, members = max(groups.items(), key=lambda item: len(item[1]))
    names = ", ".join(f"{n} {d.metric}" for n, d in members[:4]) + (
        f" and {len(members) - 4} more" if len(members) > 4 else ""
    )
    text = f"inconclusive against {what}: {members[0][1].reason} ({names})"
    if len(groups) > 1:
        text += f"; {len(open_) - len(members)} more inconclusive for other reasons"
    todos = list(dict.fromkeys(d.todo for _, d in open_ if d.todo))
    return text, "; ".join(todos[:2])


def compare(current: RunRecord, window: Window, *, pinned: bool = False) -> Comparison:
    """This run against the window (or the pinned run, with the window's spread)."""
    base_run = window.pinned if pinned else (window.runs[0] if window.runs else None)
    what = (
        f"pinned run {window.pinned.run_id}"
        if pinned and window.pinned
        else f"the median of {len(window.runs)} comparable run{'s' if len(window.runs) != 1 else ''}"
    )
    endpoints, flat = [], []
    for name, cur in current.endpoints.items():
        history = [r.endpoints[name] for r in window.runs if name in r.endpoints]
        pin = window.pinned.endpoints.get(name) if pinned and window.pinned else None
        deltas = [judge_metric(m, cur, current.duration_s, history, pin) for m in METRICS]
        if current.saturated:
            deltas = [
                _inconclusive(d, f"load generator saturated ({current.saturation})", SATURATED_FIX) for d in deltas
            ]
        endpoints.append(EndpointComparison(name=name, deltas=deltas))
        flat += [(name, d) for d in deltas]
    outcome = _run_outcome(flat) if flat else "inconclusive"
    reason, todo = _summary(outcome, flat, what) if flat else (f"nothing measured to compare with {what}", "")
    return Comparison(
        baseline_run_id=base_run.run_id if base_run else "",
        baseline_started_at=base_run.started_at if base_run else None,
        pinned=pinned,
        endpoints=endpoints,
        regressions=[f"{n}: {d.metric}" for n, d in flat if d.outcome == "regressed"],
        inconclusive=[f"{n}: {d.metric}" for n, d in flat if d.outcome == "inconclusive"],
        outcome=outcome,
        reason=reason,
        todo=todo,
        window_run_ids=[r.run_id for r in window.runs],
        skipped=window.skipped,
        generator_saturated=current.saturated,
    )


def not_comparable(current: RunRecord, other: RunRecord) -> Comparison | None:
    """A Comparison that says why two runs cannot be compared, or None when they can."""
    reasons = incomparable(other, current)
    if not reasons:
        return None
    return Comparison(
        baseline_run_id=other.run_id,
        baseline_started_at=other.started_at,
        pinned=True,
        endpoints=[],
        outcome="inconclusive",
        comparable=False,
        reason=f"runs {other.run_id} and {current.run_id} are not comparable: " + "; ".join(reasons),
        todo="compare runs of the same service, profile, load shape and endpoints",
    )


__all__ = ["TOTAL", "Window", "compare", "judge_metric", "not_comparable", "select_window"]
