"""SLO evaluation: p95, error rate and Apdex per endpoint and overall, and one verdict.

Apdex = (satisfied + tolerating / 2) / requests, where satisfied means a successful
response within T and tolerating within 4 T (k6/lib/metrics.js counts both; failed
requests are frustrated). A run with no requests, or whose every request failed, is a
FAIL with that reason, never a division by zero.
"""

from __future__ import annotations

from luna.catalog import Catalog, SLOs
from luna.results import RunResult, Stats
from luna.verdict import Comparison, EndpointVerdict, SLOCheck, Verdict


def apdex(stats: Stats) -> float | None:
    if stats.requests == 0:
        return None
    return (stats.apdex_satisfied + stats.apdex_tolerating / 2) / stats.requests


def slo_checks(stats: Stats, slos: SLOs, score: float | None) -> list[SLOCheck]:
    p95 = stats.latency_ms.p95 if stats.requests else None
    err = stats.error_rate if stats.requests else None
    return [
        SLOCheck(slo="p95_ms", value=p95, target=slos.p95_ms, op="<", ok=p95 is not None and p95 < slos.p95_ms),
        SLOCheck(
            slo="error_rate", value=err, target=slos.error_rate, op="<=", ok=err is not None and err <= slos.error_rate
        ),
        SLOCheck(
            slo="apdex_score",
            value=score,
            target=slos.apdex_score,
            op=">=",
            ok=score is not None and score >= slos.apdex_score,
        ),
    ]


def _failed(checks: list[SLOCheck]) -> list[str]:
    labels = {
        "p95_ms": "p95 {v:.1f} ms (target < {t:g})",
        "error_rate": "error rate {v:.2%} (target <= {t:.2%})",
        "apdex_score": "Apdex {v:.2f} (target >= {t:g})",
    }
    return [labels[c.slo].format(v=c.value, t=c.target) for c in checks if not c.ok and c.value is not None]


def _headline(result: RunResult) -> str:
    total = result.total
    if total is None or total.requests == 0:
        return "no requests"
    p95 = total.latency_ms.p95
    return f"p95 {p95:.0f} ms" if p95 is not None else f"{total.requests} reqs"


def evaluate(
    result: RunResult,
    catalog: Catalog,
    comparison: Comparison | None = None,
    *,
    fail_on_regression: bool = False,
    baseline_note: str = "",
) -> Verdict:
    """The verdict for a finished run."""
    endpoints: list[EndpointVerdict] = []
    combined = Stats()
    by_name = {e.name: e for e in result.endpoints}
    for ep in catalog.endpoints:
        stats = by_name.get(ep.name)
        if stats is None:
            continue
        slos = ep.effective_slos(catalog.slos)
        score = apdex(stats)
        checks = slo_checks(stats, slos, score)
        reason = "no requests" if stats.requests == 0 else "; ".join(_failed(checks))
        endpoints.append(
            EndpointVerdict(
                name=ep.name,
                group=ep.group,
                ok=all(c.ok for c in checks),
                requests=stats.requests,
                apdex=score,
                apdex_t_ms=slos.apdex_t_ms,
                checks=checks,
                reason=reason,
            )
        )
        combined.requests += stats.requests
        combined.apdex_satisfied += stats.apdex_satisfied
        combined.apdex_tolerating += stats.apdex_tolerating
    total = result.total or Stats()
    overall_apdex = apdex(combined)
    overall = slo_checks(total, catalog.slos, overall_apdex)

    reasons: list[str] = []
    if result.status in ("error", "aborted"):
        reasons.append(f"the run did not complete: {result.message}")
    if total.requests == 0:
        reasons.append("no requests were made")
    elif total.failed_requests == total.requests:
        reasons.append(f"every request failed ({total.requests} of {total.requests})")
    crossed = _failed(overall) + [f"{e.name}: {e.reason}" for e in endpoints if not e.ok and e.requests]
    reasons += crossed
    if fail_on_regression and comparison is not None and comparison.regressions:
        reasons.append(
            "regressed against baseline " + comparison.baseline_run_id + ": " + ", ".join(comparison.regressions)
        )
    status = "fail" if reasons else "pass"
    return Verdict(
        run_id=result.run_id,
        service=result.service,
        profile=result.profile,
        status=status,
        reason="; ".join(reasons)
        if reasons
        else "every SLO held"
        + (
            f" (regressions vs baseline: {', '.join(comparison.regressions)})"
            if comparison and comparison.regressions
            else ""
        ),
        headline=_headline(result),
        overall=overall,
        apdex=overall_apdex,
        endpoints=endpoints,
        comparison=comparison,
        baseline_note=baseline_note,
    )
