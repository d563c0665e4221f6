"""k6's end-of-test data (what handleSummary receives) -> Luna's typed statistics."""

from __future__ import annotations

from typing import Any

from luna.catalog import Catalog
from luna.results import CheckTally, EndpointStats, Latency, Stats, Threshold

Metrics = dict[str, Any]


def _values(metrics: Metrics, key: str) -> dict[str, float]:
    metric = metrics.get(key)
    return dict(metric.get("values", {})) if isinstance(metric, dict) else {}


def _counts(metrics: Metrics, kind: str, indexes: list[int]) -> int:
    """k6/lib/metrics.js counts per endpoint index: apdex_satisfied_<i>, luna_redirects_<i>, ..."""
    return sum(int(_values(metrics, f"{kind}_{i}").get("count", 0)) for i in indexes)


def _stats(metrics: Metrics, seconds: float | None, tag: str = "", indexes: list[int] | None = None) -> Stats:
    """One endpoint's (tag `{name:X}`) or the run's figures from Luna's per-call metrics:
    a call is one logical request however many redirect hops it took (k6/lib/metrics.js)."""
    dur = _values(metrics, f"luna_call_duration{tag}")
    failed = _values(metrics, f"luna_call_failed{tag}")
    checks = _values(metrics, f"checks{tag}")
    count = int(failed.get("passes", 0)) + int(failed.get("fails", 0))
    latency = (
        Latency(
            avg=dur.get("avg"),
            min=dur.get("min"),
            p50=dur.get("med"),
            p90=dur.get("p(90)"),
            p95=dur.get("p(95)"),
            p99=dur.get("p(99)"),
            max=dur.get("max"),
        )
        if count
        else Latency()
    )
    checks_total = int(checks.get("passes", 0)) + int(checks.get("fails", 0))
    idx = indexes or []
    return Stats(
        requests=count,
        rps=count / seconds if seconds else 0.0,
        latency_ms=latency,
        error_rate=failed.get("rate") if count else None,
        failed_requests=int(failed.get("passes", 0)),
        check_pass_rate=checks.get("rate") if checks_total else None,
        checks_passed=int(checks.get("passes", 0)),
        checks_failed=int(checks.get("fails", 0)),
        apdex_satisfied=_counts(metrics, "apdex_satisfied", idx),
        apdex_tolerating=_counts(metrics, "apdex_tolerating", idx),
        redirects=_counts(metrics, "luna_redirects", idx),
        offsite_redirects=_counts(metrics, "luna_offsite", idx),
    )


def check_tallies(data: dict[str, Any]) -> dict[str, list[CheckTally]]:
    """Each check's counts by endpoint, from k6's `root_group` (and nested groups). k6/lib/checks.js
    labels every check `<endpoint>: <check>`; endpoint names cannot hold ':'."""
    found: dict[str, list[CheckTally]] = {}
    groups = [data.get("root_group") or {}]
    while groups:
        group = groups.pop(0)
        for check in group.get("checks") or []:
            endpoint, sep, label = str(check.get("name", "")).partition(": ")
            if sep:
                tally = CheckTally(name=label, passes=int(check.get("passes", 0)), fails=int(check.get("fails", 0)))
                found.setdefault(endpoint, []).append(tally)
        groups += list(group.get("groups") or [])
    return found


def parse_summary(data: dict[str, Any], catalog: Catalog) -> tuple[Stats, list[EndpointStats], list[Threshold]]:
    """Global stats, per-endpoint stats (in catalog order) and every threshold's result."""
    metrics: Metrics = data.get("metrics", {})
    seconds = run_numbers(data)[0]
    total = _stats(metrics, seconds, indexes=list(range(len(catalog.endpoints))))
    tallies = check_tallies(data)
    endpoints = [
        EndpointStats(
            name=ep.name,
            group=ep.group,
            method=ep.method or "GET",
            path=ep.path,
            check_tallies=tallies.get(ep.name, []),
            **_stats(metrics, seconds, f"{{name:{ep.name}}}", [i]).model_dump(),
        )
        for i, ep in enumerate(catalog.endpoints)
    ]
    thresholds = [
        Threshold(metric=key, expression=expr, ok=bool(result.get("ok")))
        for key, metric in sorted(metrics.items())
        for expr, result in (metric.get("thresholds") or {}).items()
        if not _is_registration(expr)
    ]
    return total, endpoints, thresholds


def _is_registration(expression: str) -> bool:
    """`count>=0` / `rate>=0` only register submetrics in k6/main.js; they are not gates."""
    return expression in ("count>=0", "rate>=0")


def run_numbers(data: dict[str, Any]) -> tuple[float | None, int | None, int | None]:
    """k6's test duration (s), peak VUs and completed iterations, when present."""
    metrics: Metrics = data.get("metrics", {})
    state = data.get("state", {})
    duration_ms = state.get("testRunDurationMs")
    vus_max = _values(metrics, "vus_max").get("max") or _values(metrics, "vus_max").get("value")
    iterations = _values(metrics, "iterations").get("count")
    return (
        duration_ms / 1000 if duration_ms is not None else None,
        int(vus_max) if vus_max is not None else None,
        int(iterations) if iterations is not None else None,
    )
