"""The one reduction of Luna's figures, for a single k6 process and for N shards alike:
counts are exact sums of the tallies (tasks/execution/tallies.py), latency percentiles come
from the sum of their HDR histograms (3 significant digits), avg/min/max are exact; and the
SLOs are judged on the reduced figures as k6 thresholds would read them."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence

from hdrh.histogram import HdrHistogram

from luna.catalog import Catalog
from luna.results import CheckTally, EndpointStats, Latency, Stats, Threshold
from tasks.execution import hdr
from tasks.execution.tallies import ShardSamples, Tally

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
        self.checks: dict[str, list[int]] = {}
        for t in tallies:
            for label, (passes, fails) in t.checks.items():
                pair = self.checks.setdefault(label, [0, 0])
                pair[0] += passes
                pair[1] += fails

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


def counters_of(samples: Sequence[ShardSamples], indexes: Sequence[int]) -> dict[str, int]:
    """The per-endpoint counters (k6/lib/measure.js) of these endpoint indexes, summed."""
    kinds = ("apdex_satisfied", "apdex_tolerating", "luna_redirects", "luna_offsite")
    out = dict.fromkeys(kinds, 0)
    for one in samples:
        for kind in kinds:
            out[kind] += sum(one.apdex.get(f"{kind}_{i}", 0) for i in indexes)
    return out


def reduce_samples(
    catalog: Catalog, samples: Sequence[ShardSamples], window_s: float | None
) -> tuple[Stats, list[EndpointStats], dict[str, Merged]]:
    """The one reduction of Luna's figures, for a single k6 process and for N shards alike:
    exact sums of the tallies, percentiles from the summed HDR histograms."""
    names = sorted({name for one in samples for name in one.endpoints})
    merged = {"": Merged([one.overall for one in samples])}
    for name in names:
        merged[name] = Merged([one.endpoints[name] for one in samples if name in one.endpoints])
    total = merged[""].stats(window_s, counters_of(samples, range(len(catalog.endpoints))))
    endpoints = []
    for i, ep in enumerate(catalog.endpoints):
        mine = merged.get(ep.name) or Merged([])
        endpoints.append(
            EndpointStats(
                name=ep.name,
                group=ep.group,
                method=ep.method or "GET",
                path=ep.path,
                check_tallies=[CheckTally(name=label, passes=p, fails=f) for label, (p, f) in mine.checks.items()],
                **mine.stats(window_s, counters_of(samples, [i])).model_dump(),
            )
        )
    return total, endpoints, merged


def judge(pairs: Sequence[tuple[str, str]], merged: dict[str, Merged], window_s: float | None) -> list[Threshold]:
    """(metric, expression) pairs judged on reduced figures; one Luna cannot compute holds."""
    out = []
    for metric, expression in pairs:
        name, expr = METRIC_KEY.match(metric), EXPRESSION.match(expression)
        ok = True
        if name and expr and (name.group(2) or "") in merged:
            value = value_of(expr.group(1), expr.group(2), merged[name.group(2) or ""], name.group(1), window_s)
            if value is not None:
                ok = OPS[expr.group(3)](value, float(expr.group(4)))
        out.append(Threshold(metric=metric, expression=expression, ok=ok))
    return out


def value_of(aggregate: str, p: str | None, merged: Merged, base: str, window_s: float | None) -> float | None:
    # Luna's names (tasks/execution/measure.py) and k6's, from a script of the user's own.
    if base in ("luna_call_duration", "http_req_duration"):
        if aggregate.startswith("p(") and p is not None:
            return merged.percentile(float(p))
        latency = merged.latency()
        return {"avg": latency.avg, "min": latency.min, "max": latency.max, "med": latency.p50}.get(aggregate)
    if base in ("luna_call_failed", "http_req_failed") and aggregate == "rate":
        return merged.failed / merged.requests if merged.requests else None
    if base == "http_reqs":
        return {"count": float(merged.requests), "rate": merged.requests / window_s if window_s else None}.get(
            aggregate
        )
    if base == "checks" and aggregate == "rate":
        total = merged.checks_passed + merged.checks_failed
        return merged.checks_passed / total if total else None
    return None
