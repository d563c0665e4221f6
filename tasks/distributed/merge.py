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

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from luna.results import RunResult, Threshold
from tasks.distributed.model import ShardOutcome
from tasks.execution.generator import load_shape
from tasks.execution.plan import RunPlan
from tasks.execution.reduce import EXPRESSION, METRIC_KEY, OPS, Merged, reduce_samples, value_of


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
            value = value_of(expr.group(1), expr.group(2), merged[name.group(2) or ""], name.group(1), window_s)
            if value is not None:
                ok = OPS[expr.group(3)](value, float(expr.group(4)))
        out.append(Threshold(metric=metric, expression=expression, ok=ok))
    return out


def _cause(shards: Sequence[ShardOutcome]) -> ShardOutcome | None:
    """The shard that failed the run: the first one not stopped because of another."""
    broken = [s for s in shards if not s.completed]
    own = [s for s in broken if not s.stopped_by_peer]
    return (own or broken)[0] if broken else None


def _breach_message(breached: Sequence[ShardOutcome], count: int) -> str:
    """The first breaching shard's reason, and what happened to the others."""
    first = breached[0]
    if len(breached) > 1:
        rest = "" if len(breached) == count else "; the others were stopped"
        others = f" ({len(breached)} of {count} shards breached{rest})"
    else:
        others = " (the other shards were stopped)" if count > 1 else ""
    return f"{first.label} on {first.host}: {first.stopped_early}{others}"


def merge_outcomes(plan: RunPlan, shards: Sequence[ShardOutcome], finished_at: datetime | None = None) -> RunResult:
    """One RunResult for the whole run (not written; the caller writes it)."""
    shards = sorted(shards, key=lambda s: s.index)
    samples = [s.samples for s in shards if s.samples is not None]
    start, window_s = common_window(shards)
    total, endpoints, merged = reduce_samples(plan.catalog, samples, window_s)
    thresholds = rejudge(shards, merged, window_s)
    cause = _cause(shards)
    breached = [s for s in shards if s.stopped_early]
    stopped_early = None
    if breached:  # a shard's breach watch stopped the run: a verdict on what was measured
        status, code = "failed", breached[0].k6_exit_code
        message = stopped_early = _breach_message(breached, len(shards))
    elif cause is not None:
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
        stopped_early=stopped_early,
        load_shape={**load_shape(plan.profile, plan.k6_env), "shards": str(len(shards))},  # compare like with like
    )
