"""Run-level points for Grafana's cross-run trends: measurement `luna_run`, one point per
endpoint plus `_total`, tagged service/profile/run_id/endpoint/group/verdict; and one
`luna_change_point` per change point the verdict found (tasks/evaluation/changes.py), at the
start of the first run after the shift, for Grafana annotations."""

from __future__ import annotations

from luna.influx import Influx, line
from luna.results import RunResult, Stats
from luna.verdict import Verdict
from tasks.evaluation.slo import apdex

MEASUREMENT = "luna_run"
CHANGE_POINTS = "luna_change_point"


def run_points(result: RunResult, verdict: Verdict) -> list[str]:
    when = result.finished_at or result.started_at
    ok = {e.name: e.ok for e in verdict.endpoints}

    def point(endpoint: str, group: str, stats: Stats, passed: bool, score: float | None) -> str:
        fields: dict[str, float | int] = {"requests": stats.requests, "rps": float(stats.rps), "passed": int(passed)}
        for key, value in (
            ("p50_ms", stats.latency_ms.p50),
            ("p95_ms", stats.latency_ms.p95),
            ("p99_ms", stats.latency_ms.p99),
            ("error_rate", stats.error_rate),
            ("apdex", score),
        ):
            if value is not None:
                fields[key] = float(value)
        tags = {
            "service": result.service or "",
            "profile": result.profile,
            "run_id": result.run_id,
            "endpoint": endpoint,
            "group": group,
            "verdict": "pass" if passed else "fail",
        }
        return line(MEASUREMENT, tags, fields, when)

    lines = [point(e.name, e.group, e, ok.get(e.name, False), apdex(e)) for e in result.endpoints]
    if result.total is not None:
        lines.append(point("_total", "_total", result.total, verdict.passed, verdict.apdex))
    return lines + change_point_lines(result, verdict)


def change_point_lines(result: RunResult, verdict: Verdict) -> list[str]:
    """One point per change point (idempotent: the same shift is the same series and time)."""
    lines = []
    for cp in verdict.change_points:
        fields: dict[str, float | int] = {"before": cp.before, "after": cp.after, "pvalue": cp.pvalue}
        if cp.change_pct is not None:
            fields["change_pct"] = cp.change_pct
        tags = {
            "service": result.service or "",
            "profile": result.profile,
            "endpoint": cp.endpoint,
            "metric": cp.metric,
            "run_id": cp.run_id,
        }
        lines.append(line(CHANGE_POINTS, tags, fields, cp.started_at or result.started_at))
    return lines


def write_run_points(client: Influx, result: RunResult, verdict: Verdict) -> int:
    """Write the points (idempotent: same series and timestamp overwrite); raises on failure."""
    lines = run_points(result, verdict)
    client.write(lines)
    return len(lines)
