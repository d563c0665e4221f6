"""Shards' outcomes -> one RunResult, the same type a single k6 process produces.

- Counts (requests, failures, checks, Apdex, iterations) are exact sums.
- RPS is over the common window: from the first shard's resume to the last shard's end
  (each shard's end = its resume + k6's own test duration), the same definition k6 uses
  for one process (count / test run duration).
- Latency percentiles, per endpoint and overall, come from the sum of the shards' HDR
  histograms (3 significant digits); avg, min and max are exact.
- Thresholds are judged again on the merged numbers (a shard's p95 says nothing about
  the run's p95); an expression Luna cannot recompute holds only if it held on every shard.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from hdrh.histogram import HdrHistogram

from luna.results import EndpointStats, Latency, RunResult, Stats, Threshold
from tasks.distributed import hdr
from tasks.distributed.model import ShardOutcome
from tasks.distributed.samples import Tally
from tasks.execution.generator import load_shape
from tasks.execution.plan import RunPlan

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
EXPRESSION = re.compile(r"^\s*(p\((\d+(?:\.\d+)?)\)|avg|min|max|med|rate|count)\s*(<=|>=|==|!=|<|>)\s*([-\d.eE+]+)\s*$")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
METRIC_KEY = re.compile(r"^([a-z_]+)(?:\{name:(.+)\})?$")


class Merged:
    """Sum of the shards' tallies for one key (an endpoint name, or "" for all requests)."""

    def __init__(self, tallies: Sequence[Tally]) -> None:
        self.requests = sum(t.requests for t in tallies)
        self.failed = sum(t.failed for t in tallies)
        self.checks_passed = sum(t.checks_passed for t in tallies)
        self.checks_failed = sum(t.checks_failed for t in tallies)
        self.duration_count = sum(t.duration_count for t in tallies)
        self.duration_sum_ms = sum(t.duration_sum_ms for t in tallies)
        mins = [t.min_ms for t in tallies if t.min_ms is not None]
        maxes = [t.max_ms for t in tallies if t.max_ms is not None]
        self.min_ms = min(mins) if mins else None
        self.max_ms = max(maxes) if maxes else None
        self.histogram: HdrHistogram = hdr.merged(t.histogram for t in tallies if t.histogram)

    def percentile(self, p: float) -> float | None:
        return hdr.percentile_ms(self.histogram, p)

    def latency(self) -> Latency:
        if not self.duration_count:
            return Latency()
        return Latency(
            avg=self.duration_sum_ms / self.duration_count,
            min=self.min_ms,
            max=self.max_ms,
            **{key: self.percentile(p) for key, p in PERCENTILES.items()},
        )

    def stats(self, window_s: float | None, counters: dict[str, int]) -> Stats:
        checks = self.checks_passed + self.checks_failed
        return Stats(
            requests=self.requests,
            rps=self.requests / window_s if window_s else 0.0,
            latency_ms=self.latency(),
            error_rate=self.failed / self.requests if self.requests else None,
            failed_requests=self.failed,
            check_pass_rate=self.checks_passed / checks if checks else None,
            checks_passed=self.checks_passed,
            checks_failed=self.checks_failed,
            apdex_satisfied=counters["apdex_satisfied"],
            apdex_tolerating=counters["apdex_tolerating"],
            redirects=counters["luna_redirects"],
            offsite_redirects=counters["luna_offsite"],
        )


def common_window(shards: Sequence[ShardOutcome]) -> tuple[datetime | None, float | None]:
    """(start, seconds): first resume to last end, from k6's own durations; the span of
    the request samples when a shard never reported a duration."""
    spans = [(s.resumed_at, s.duration_s) for s in shards if s.resumed_at is not None and s.duration_s is not None]
    if spans and len(spans) == len(shards):
        start = min(r for r, _ in spans)
        end = max(r + timedelta(seconds=d) for r, d in spans)
        return start, (end - start).total_seconds()
    firsts = [s.samples.first_request_us for s in shards if s.samples and s.samples.first_request_us is not None]
    lasts = [s.samples.last_request_us for s in shards if s.samples and s.samples.last_request_us is not None]
    if not firsts or not lasts:
        return None, None
    start_us, end_us = min(firsts), max(lasts)
    return datetime.fromtimestamp(start_us / 1e6, UTC), max(end_us - start_us, 1) / 1e6


def _counters(shards: Sequence[ShardOutcome], indexes: Sequence[int]) -> dict[str, int]:
    """The per-endpoint counters (k6/lib/metrics.js) of these endpoint indexes, summed."""
    kinds = ("apdex_satisfied", "apdex_tolerating", "luna_redirects", "luna_offsite")
    out = dict.fromkeys(kinds, 0)
    for shard in shards:
        counters = shard.samples.apdex if shard.samples else {}
        for kind in kinds:
            out[kind] += sum(counters.get(f"{kind}_{i}", 0) for i in indexes)
    return out


def _value(aggregate: str, p: str | None, merged: Merged, base: str, window_s: float | None) -> float | None:
    if base == "luna_call_duration":
        if aggregate.startswith("p(") and p is not None:
            return merged.percentile(float(p))
        latency = merged.latency()
        return {"avg": latency.avg, "min": latency.min, "max": latency.max, "med": latency.p50}.get(aggregate)
    if base == "luna_call_failed" and aggregate == "rate":
        return merged.failed / merged.requests if merged.requests else None
    if base == "http_reqs":
        return {"count": float(merged.requests), "rate": merged.requests / window_s if window_s else None}.get(
            aggregate
        )
    if base == "checks" and aggregate == "rate":
        total = merged.checks_passed + merged.checks_failed
        return merged.checks_passed / total if total else None
    return None


def rejudge(shards: Sequence[ShardOutcome], merged: dict[str, Merged], window_s: float | None) -> list[Threshold]:
    """Every threshold the shards reported, judged on the merged numbers where possible."""
    seen: dict[tuple[str, str], bool] = {}
    for shard in shards:
        for t in shard.thresholds:
            key = (t.metric, t.expression)
            seen[key] = seen.get(key, True) and t.ok
    out: list[Threshold] = []
    for (metric, expression), all_ok in sorted(seen.items()):
        ok = all_ok
        name, expr = METRIC_KEY.match(metric), EXPRESSION.match(expression)
        if name and expr and (name.group(2) or "") in merged:
            value = _value(expr.group(1), expr.group(2), merged[name.group(2) or ""], name.group(1), window_s)
            if value is not None:
                ok = OPS[expr.group(3)](value, float(expr.group(4)))
        out.append(Threshold(metric=metric, expression=expression, ok=ok))
    return out


def _cause(shards: Sequence[ShardOutcome]) -> ShardOutcome | None:
    """The shard that failed the run: the first one not stopped because of another."""
    broken = [s for s in shards if not s.completed]
    own = [s for s in broken if not s.stopped_by_peer]
    return (own or broken)[0] if broken else None


def merge_outcomes(plan: RunPlan, shards: Sequence[ShardOutcome], finished_at: datetime | None = None) -> RunResult:
    """One RunResult for the whole run (not written; the caller writes it)."""
    shards = sorted(shards, key=lambda s: s.index)
    samples = [s.samples for s in shards if s.samples is not None]
    names = sorted({name for one in samples for name in one.endpoints})
    merged = {"": Merged([one.overall for one in samples])}
    for name in names:
        merged[name] = Merged([one.endpoints[name] for one in samples if name in one.endpoints])
    start, window_s = common_window(shards)
    indexes = list(range(len(plan.catalog.endpoints)))
    total = merged[""].stats(window_s, _counters(shards, indexes))
    endpoints = [
        EndpointStats(
            name=ep.name,
            group=ep.group,
            method=ep.method or "GET",
            path=ep.path,
            **(merged[ep.name] if ep.name in merged else Merged([]))
            .stats(window_s, _counters(shards, [i]))
            .model_dump(),
        )
        for i, ep in enumerate(plan.catalog.endpoints)
    ]
    thresholds = rejudge(shards, merged, window_s)
    cause = _cause(shards)
    if cause is not None:
        status, code = cause.status, cause.k6_exit_code
        if cause.stopped_by_peer:  # nobody failed on its own: the run was stopped from outside
            message = f"all {len(shards)} shards were stopped: {cause.message.removeprefix('stopped: ')}"
        else:
            others = " (the other shards were stopped)" if len(shards) > 1 else ""
            message = f"{cause.label} on {cause.host}: {cause.message}{others}"
    else:
        crossed = [f"{t.metric} {t.expression}" for t in thresholds if not t.ok]
        status = "failed" if crossed else "passed"
        code = 99 if crossed else 0
        message = (
            "thresholds crossed on the merged run: " + "; ".join(crossed)
            if crossed
            else f"{len(shards)} shards finished and every threshold held on the merged run"
        )
    return RunResult(
        run_id=plan.run_id,
        service=plan.catalog.service,
        profile=plan.profile,
        load_model=plan.load_model,
        target=plan.target,
        status=status,
        message=message,
        k6_exit_code=code,
        started_at=plan.started_at,
        finished_at=finished_at or datetime.now(UTC),
        duration_s=window_s,
        vus_max=sum(one.vus_max for one in samples) or None,
        iterations=sum(one.iterations for one in samples) if samples else None,
        total=total,
        endpoints=endpoints,
        thresholds=thresholds,
        failure_samples=sum(s.failure_samples for s in shards),
        run_dir=str(plan.run_dir),
        load_shape={**load_shape(plan.profile, plan.k6_env), "shards": str(len(shards))},  # compare like with like
    )
