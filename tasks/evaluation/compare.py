"""What history keeps of a run (RunRecord), when two runs can be compared at all, and the
within-run error of each metric.

Two runs are comparable when they ran the same service, profile, load model, load shape
(VUs, rate, durations: `RunResult.load_shape`) and the same endpoints. Two runs overlap
when their [started, finished] intervals intersect: each loaded the machine and the service
while the other measured, so neither is the other's baseline.

Within-run error of a p95 estimated from n samples: roughly sqrt(p(1-p)/n) / f(p95), where
f is the latency density at the 95th percentile. Between p90 and p99 lie 9 % of the
requests, so f ~ 0.09 / (p99 - p90). An error rate's is binomial, sqrt(p(1-p)/n); a
throughput's is Poisson, sqrt(n) / duration.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from luna.results import RunResult, Stats
from luna.verdict import ChangePoint

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
    finished_at: datetime | None = None
    load_model: str | None = Field(None, description="closed or open; None in history written before it was kept.")
    load_shape: dict[str, str] | None = Field(None, description="RunResult.load_shape; None when not recorded.")
    saturated: bool = Field(False, description="The load generator was saturated in this run.")
    saturation: str = ""
    stopped_early: bool = Field(False, description="slos.abort_on_breach stopped k6 before the planned end.")
    change_points: list[ChangePoint] = Field(
        default_factory=list, description="Shifts that start at this run (set by `luna history`; not stored)."
    )

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
        gen = result.generator
        return cls(
            run_id=result.run_id,
            service=result.service,
            profile=result.profile,
            started_at=result.started_at,
            verdict=verdict,
            duration_s=result.duration_s,
            endpoints=endpoints,
            finished_at=result.finished_at,
            load_model=result.load_model,
            load_shape=result.load_shape or None,
            saturated=bool(gen and gen.saturated),
            saturation=gen.reason if gen else "",
            stopped_early=result.stopped_early is not None,
        )

    @property
    def ended_at(self) -> datetime:
        """When the run finished (older history: started + k6's duration)."""
        if self.finished_at is not None:
            return self.finished_at
        return self.started_at + timedelta(seconds=self.duration_s or 0.0)


def overlaps(a: RunRecord, b: RunRecord) -> bool:
    return a.started_at < b.ended_at and b.started_at < a.ended_at


def _shape_text(shape: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((shape or {}).items())) or "not recorded"


def incomparable(a: RunRecord, b: RunRecord) -> list[str]:
    """Why run b cannot be compared with run a (empty: comparable)."""
    reasons = []
    if a.service != b.service:
        reasons.append(f"service {a.service!r} vs {b.service!r}")
    if a.profile != b.profile:
        reasons.append(f"profile {a.profile} vs {b.profile}")
    if a.load_shape is None or b.load_shape is None:
        missing = [r.run_id for r in (a, b) if r.load_shape is None]
        reasons.append(f"load shape not recorded for {', '.join(missing)} (history from before Luna kept it)")
    elif a.load_shape != b.load_shape:
        reasons.append(f"load {_shape_text(a.load_shape)} vs {_shape_text(b.load_shape)}")
    names_a, names_b = set(a.endpoints) - {TOTAL}, set(b.endpoints) - {TOTAL}
    if names_a != names_b:
        only_a, only_b = sorted(names_a - names_b), sorted(names_b - names_a)
        parts = [
            f"only in {a.run_id}: {', '.join(only_a[:5])}" if only_a else "",
            f"only in {b.run_id}: {', '.join(only_b[:5])}" if only_b else "",
        ]
        reasons.append("different endpoints (" + "; ".join(p for p in parts if p) + ")")
    return reasons


def p95_standard_error(e: EndpointRecord) -> float | None:
    if not e.requests or e.p90 is None or e.p99 is None or e.p99 <= e.p90:
        return None
    density = 0.09 / (e.p99 - e.p90)
    return math.sqrt(0.95 * 0.05 / e.requests) / density


def error_standard_error(e: EndpointRecord, rate: float) -> float | None:
    if not e.requests:
        return None
    p = min(max(rate, 1.0 / e.requests), 1.0 - 1.0 / e.requests) if e.requests > 1 else 0.5
    return math.sqrt(p * (1 - p) / e.requests)


def rps_standard_error(e: EndpointRecord, duration_s: float | None) -> float | None:
    if not e.requests or not duration_s:
        return None
    return math.sqrt(e.requests) / duration_s
