"""SLO evaluation: p95, error rate, Apdex and check pass rate per endpoint and overall, and
one verdict.

Apdex = (satisfied + tolerating / 2) / requests, where satisfied means a successful
response within T and tolerating within 4 T (k6/lib/metrics.js counts both; failed
requests are frustrated). The check pass rate is checks passed / checks run, judged only
where checks ran (default target 1.0: every check passes). An endpoint with no requests is
"not exercised": named in the verdict with the fix, and a FAIL only with
`fail_on_not_exercised`. A run with no requests at all, or whose every request failed, is a
FAIL with that reason, never a division by zero.
"""

from __future__ import annotations

from luna.catalog import Catalog, Endpoint, SLOs
from luna.results import EndpointStats, RunResult, Stats
from luna.verdict import Comparison, EndpointVerdict, SLOCheck, Verdict

DROPPED_SHARE = 0.01  # an open-model run that started < 99 % of its scheduled iterations fails
RATE_FIX = "fix: raise MAX_VUS (the VU pool), lower --rate, or split the load (--shards N)"
SATURATED_NOTE = "comparisons are inconclusive; lower the VUs or rate, or split the load (--shards N)"
CHECKS_FIX = "fix: failures.jsonl in the run folder has failing responses; fix the service or the check, or lower slos.check_pass_rate"
NOT_EXERCISED_FIX = "fix: lengthen the run (--smoke-duration, --duration) or raise their weight"


def apdex(stats: Stats) -> float | None:
    if stats.requests == 0:
        return None
    return (stats.apdex_satisfied + stats.apdex_tolerating / 2) / stats.requests


def slo_checks(stats: Stats, slos: SLOs, score: float | None) -> list[SLOCheck]:
    p95 = stats.latency_ms.p95 if stats.requests else None
    err = stats.error_rate if stats.requests else None
    checks = [
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
    ran = stats.checks_passed + stats.checks_failed
    if ran:  # judged only where checks ran: an endpoint without checks has nothing to fail
        rate = stats.checks_passed / ran
        checks.append(
            SLOCheck(
                slo="check_pass_rate", value=rate, target=slos.check_pass_rate, op=">=", ok=rate >= slos.check_pass_rate
            )
        )
    return checks


def _failed(checks: list[SLOCheck]) -> list[str]:
    labels = {
        "p95_ms": "p95 {v:.1f} ms (target < {t:g})",
        "error_rate": "error rate {v:.2%} (target <= {t:.2%})",
        "apdex_score": "Apdex {v:.2f} (target >= {t:g})",
        "check_pass_rate": "checks {v:.2%} passed (target >= {t:.2%})",
    }
    return [labels[c.slo].format(v=c.value, t=c.target) for c in checks if not c.ok and c.value is not None]


def _failing_checks(stats: EndpointStats) -> str:
    named = [f"'{t.name}' failed {t.fails} of {t.passes + t.fails}" for t in stats.check_tallies if t.fails]
    return ", ".join(named)


def _headline(result: RunResult) -> str:
    total = result.total
    if total is None:
        return "no data"
    if total.requests == 0:
        return "no requests"
    p95 = total.latency_ms.p95
    return f"p95 {p95:.0f} ms" if p95 is not None else f"{total.requests} reqs"


def judge_endpoint(ep: Endpoint, stats: EndpointStats, service: SLOs) -> EndpointVerdict:
    """One endpoint's SLOs, or not_exercised when it got no requests."""
    slos = ep.effective_slos(service)
    score = apdex(stats)
    checks = slo_checks(stats, slos, score)
    if stats.requests == 0:
        state, reason = "not_exercised", "not exercised (0 requests)"
    else:
        crossed = _failed(checks)  # the check objective, when crossed, comes last
        if any(c.slo == "check_pass_rate" and not c.ok for c in checks):
            failing = _failing_checks(stats)
            crossed[-1] += f": {failing}" if failing else ""
            crossed.append(CHECKS_FIX)
        state, reason = ("fail" if crossed else "ok"), "; ".join(crossed)
    return EndpointVerdict(
        name=ep.name,
        group=ep.group,
        state=state,
        ok=state == "ok",
        requests=stats.requests,
        apdex=score,
        apdex_t_ms=slos.apdex_t_ms,
        checks=checks,
        reason=reason,
    )


def _run_reasons(result: RunResult, total: Stats | None) -> list[str]:
    """Why the run as a whole cannot pass, whatever the endpoints say."""
    reasons: list[str] = []
    if result.status in ("error", "aborted"):
        reasons.append(f"the run did not complete: {result.message}")
    if result.stopped_early:
        reasons.append(result.stopped_early)
    if total is None:
        reasons.append("k6 left no end-of-test summary: nothing was measured")
    elif total.requests == 0:
        reasons.append(result.message if result.status == "failed" and result.message else "no requests were made")
    elif total.failed_requests == total.requests:
        reasons.append(f"every request failed ({total.requests} of {total.requests})")
    return reasons


def generator_lines(result: RunResult) -> tuple[list[str], list[str]]:
    """(reasons that fail the run, notes) from the load generator: an open-model run that did
    not start its target rate fails (k6 itself does not gate on it); a saturated k6 is named."""
    gen = result.generator
    if gen is None:
        return [], []
    fails, notes = [], []
    if gen.dropped_iterations and gen.target_rate and gen.achieved_rate is not None:
        scheduled = gen.target_rate * (result.duration_s or 0)
        share = gen.dropped_iterations / scheduled if scheduled else 1.0
        line = (
            f"open model: k6 started {gen.achieved_rate:.1f} of the target {gen.target_rate:.1f} iterations/s "
            f"({gen.dropped_iterations} dropped_iterations, {share:.1%})"
        )
        if share > DROPPED_SHARE:
            fails.append(f"{line}: the target rate was not reached; {RATE_FIX}")
        else:
            notes.append(line)
    if gen.saturated:
        notes.append(
            f"load generator saturated ({gen.reason}): latencies measure k6, not the service; {SATURATED_NOTE}"
        )
    return fails, notes


def evaluate(
    result: RunResult,
    catalog: Catalog,
    comparison: Comparison | None = None,
    *,
    fail_on_regression: bool = False,
    fail_on_not_exercised: bool = False,
    baseline_note: str = "",
) -> Verdict:
    """The verdict for a finished run."""
    by_name = {e.name: e for e in result.endpoints}
    endpoints = [judge_endpoint(ep, by_name[ep.name], catalog.slos) for ep in catalog.endpoints if ep.name in by_name]
    combined = Stats(
        requests=sum(e.requests for e in result.endpoints),
        apdex_satisfied=sum(e.apdex_satisfied for e in result.endpoints),
        apdex_tolerating=sum(e.apdex_tolerating for e in result.endpoints),
    )
    total = result.total or Stats()
    overall_apdex = apdex(combined)
    # Checks are judged per endpoint (the service's target is each endpoint's default), so an
    # endpoint's own check_pass_rate is never overruled by the run's total.
    overall = [c for c in slo_checks(total, catalog.slos, overall_apdex) if c.slo != "check_pass_rate"]
    idle = [e.name for e in endpoints if e.state == "not_exercised"]
    idle_line = f"not exercised: {', '.join(f'{n} (0 requests)' for n in idle)}; {NOT_EXERCISED_FIX}" if idle else ""

    rate_fails, generator_notes = generator_lines(result)
    reasons = _run_reasons(result, result.total) + rate_fails
    reasons += _failed(overall) + [f"{e.name}: {e.reason}" for e in endpoints if e.state == "fail"]
    if fail_on_regression and comparison is not None and comparison.outcome == "regressed":
        reasons.append(comparison.reason + " (fail_on_regression is on)")
    idle_fails = bool(idle and total.requests and fail_on_not_exercised)
    if idle_fails:
        reasons.append(idle_line + " (fail_on_not_exercised is on)")
    if reasons:
        reason = "; ".join(reasons)
    else:
        regressed = comparison.regressions if comparison and comparison.outcome == "regressed" else []
        reason = "every SLO held" + (f" (regressions vs baseline: {', '.join(regressed)})" if regressed else "")
    if idle and total.requests and not idle_fails:
        reason += f"; {idle_line}"
    for note in generator_notes:
        reason += f"; {note}"
    return Verdict(
        run_id=result.run_id,
        service=result.service,
        profile=result.profile,
        status="fail" if reasons else "pass",
        reason=reason,
        headline=_headline(result),
        overall=overall,
        apdex=overall_apdex,
        endpoints=endpoints,
        comparison=comparison,
        baseline_note=baseline_note,
        not_exercised=idle,
    )
