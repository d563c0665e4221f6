"""Baseline comparison that tells change from noise.

A p95 estimated from n samples wobbles by roughly sqrt(p(1-p)/n) / f(p95), where f is the
latency density at the 95th percentile. The run's own distribution gives f: between its
p90 and p99 lie 9% of the requests, so f ~ 0.09 / (p99 - p90). A p95 change counts as a
regression only when it exceeds 3 standard errors of the difference AND 10% of the
baseline AND 1 ms. Error rates use a two-proportion z-test (3 sigma, and at least 0.1
point). RPS uses Poisson counting noise (3 sigma) and at least 10%.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel

from luna.results import RunResult, Stats
from luna.verdict import Comparison, Delta, EndpointComparison

Z = 3.0
MIN_REL_P95 = 0.10
MIN_ABS_P95_MS = 1.0
MIN_ABS_ERROR = 0.001
MIN_REL_RPS = 0.10
TOTAL = "_total"


class EndpointRecord(BaseModel):
    name: str
    requests: int
    rps: float
    p90: float | None
    p95: float | None
    p99: float | None
    error_rate: float | None


class RunRecord(BaseModel):
    """What history keeps of one run: enough to compare a later run with it."""

    run_id: str
    service: str | None
    profile: str
    started_at: datetime
    verdict: str
    duration_s: float | None
    endpoints: dict[str, EndpointRecord]

    @classmethod
    def from_result(cls, result: RunResult, verdict: str) -> RunRecord:
        def record(name: str, s: Stats) -> EndpointRecord:
            lat = s.latency_ms
            return EndpointRecord(
                name=name,
                requests=s.requests,
                rps=s.rps,
                p90=lat.p90,
                p95=lat.p95,
                p99=lat.p99,
                error_rate=s.error_rate,
            )

        endpoints = {e.name: record(e.name, e) for e in result.endpoints}
        if result.total is not None:
            endpoints[TOTAL] = record(TOTAL, result.total)
        return cls(
            run_id=result.run_id,
            service=result.service,
            profile=result.profile,
            started_at=result.started_at,
            verdict=verdict,
            duration_s=result.duration_s,
            endpoints=endpoints,
        )


def p95_standard_error(e: EndpointRecord) -> float | None:
    if not e.requests or e.p90 is None or e.p99 is None or e.p99 <= e.p90:
        return None
    density = 0.09 / (e.p99 - e.p90)
    return math.sqrt(0.95 * 0.05 / e.requests) / density


def _p95(base: EndpointRecord, cur: EndpointRecord) -> Delta:
    if base.p95 is None or cur.p95 is None:
        return Delta(metric="p95_ms", baseline=base.p95, current=cur.p95, change=None, change_pct=None, noise=None)
    se = [x for x in (p95_standard_error(base), p95_standard_error(cur)) if x is not None]
    noise = max(Z * math.sqrt(sum(x * x for x in se)) if se else 0.0, MIN_REL_P95 * base.p95, MIN_ABS_P95_MS)
    change = cur.p95 - base.p95
    return Delta(
        metric="p95_ms",
        baseline=base.p95,
        current=cur.p95,
        change=change,
        change_pct=change / base.p95 if base.p95 else None,
        noise=noise,
        regression=change > noise,
        improvement=-change > noise,
    )


def _errors(base: EndpointRecord, cur: EndpointRecord) -> Delta:
    if base.error_rate is None or cur.error_rate is None or not base.requests or not cur.requests:
        return Delta(
            metric="error_rate",
            baseline=base.error_rate,
            current=cur.error_rate,
            change=None,
            change_pct=None,
            noise=None,
        )
    pooled = (base.error_rate * base.requests + cur.error_rate * cur.requests) / (base.requests + cur.requests)
    se = math.sqrt(pooled * (1 - pooled) * (1 / base.requests + 1 / cur.requests))
    noise = max(Z * se, MIN_ABS_ERROR)
    change = cur.error_rate - base.error_rate
    return Delta(
        metric="error_rate",
        baseline=base.error_rate,
        current=cur.error_rate,
        change=change,
        change_pct=change / base.error_rate if base.error_rate else None,
        noise=noise,
        regression=change > noise,
        improvement=-change > noise,
    )


def _rps(base: EndpointRecord, cur: EndpointRecord, base_s: float | None, cur_s: float | None) -> Delta:
    if not base.rps or not base_s or not cur_s:
        return Delta(metric="rps", baseline=base.rps or None, current=cur.rps, change=None, change_pct=None, noise=None)
    se = math.sqrt(base.requests / base_s**2 + cur.requests / cur_s**2)
    noise = max(Z * se, MIN_REL_RPS * base.rps)
    change = cur.rps - base.rps
    return Delta(
        metric="rps",
        baseline=base.rps,
        current=cur.rps,
        change=change,
        change_pct=change / base.rps,
        noise=noise,
        regression=-change > noise,
        improvement=change > noise,
    )


def compare(current: RunRecord, baseline: RunRecord, *, pinned: bool = False) -> Comparison:
    endpoints = []
    regressions = []
    for name, cur in current.endpoints.items():
        base = baseline.endpoints.get(name)
        if base is None:
            continue
        deltas = [_p95(base, cur), _errors(base, cur), _rps(base, cur, baseline.duration_s, current.duration_s)]
        endpoints.append(EndpointComparison(name=name, deltas=deltas))
        regressions += [f"{name}: {d.metric}" for d in deltas if d.regression]
    return Comparison(
        baseline_run_id=baseline.run_id,
        baseline_started_at=baseline.started_at,
        pinned=pinned,
        endpoints=endpoints,
        regressions=regressions,
    )


def pick_baseline(history: list[RunRecord], current_run_id: str, pinned: str | None) -> RunRecord | None:
    """The pinned run, else the newest passing run other than this one."""
    others = [r for r in history if r.run_id != current_run_id]
    if pinned:
        return next((r for r in others if r.run_id == pinned), None)
    passing = [r for r in others if r.verdict == "pass"]
    return max(passing, key=lambda r: r.started_at) if passing else None
