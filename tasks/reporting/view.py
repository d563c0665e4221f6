"""What the reports show, as formatted rows: one place decides the labels, units and
rounding, and the markdown, HTML and table outputs all read from here. Strings that come
from user files (service, endpoint and group names, paths, messages) stay raw: each
output escapes them its own way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from luna.results import RunResult, Stats
from luna.verdict import Comparison, Delta, SLOCheck, Verdict

DASH = "–"
TOTAL_KEY = "_total"  # the comparison's name for all endpoints together (tasks/evaluation/compare.py)
ALL_ENDPOINTS = "All endpoints"
SLO_LABELS = {
    "p95_ms": "p95 latency",
    "error_rate": "Error rate",
    "apdex_score": "Apdex score",
    "check_pass_rate": "Checks passed",
}
PERCENT_SLOS = ("error_rate", "check_pass_rate")
OPS = {"<": "<", "<=": "≤", ">=": "≥"}
DELTA_LABELS = {"p95_ms": "p95 latency", "error_rate": "Error rate", "rps": "Throughput"}
FAILURE_LIMIT = 20
BODY_LIMIT = 300


class ReportLinks(BaseModel):
    """Where the run's outputs are; what `publish_reports` returns."""

    run_dir: str = Field(description="The run folder.")
    report_html: str | None = Field(None, description="The self-contained HTML report.")
    badge_svg: str | None = Field(None, description="The SLO badge.")
    grafana: str | None = Field(None, description="The Grafana dashboard for this run's time window.")
    report_url: str | None = Field(None, description="A URL that opens report.html (tasks/reporting/links.py).")
    badge_url: str | None = Field(None, description="A URL that opens badge.svg.")
    dashboard_url: str | None = Field(None, description="A URL that opens k6's web-dashboard export.")


def ms(value: float | None) -> str:
    if value is None:
        return DASH
    if value < 1:
        return f"{value:.2f}"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.2f}%"


def rate(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def score(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def duration(value: float | None) -> str:
    if value is None:
        return DASH
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def when(value: datetime | None) -> str:
    if value is None:
        return DASH
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class SLORow:
    label: str
    value: str
    target: str
    ok: bool


def slo_value(check: SLOCheck) -> str:
    if check.slo == "p95_ms":
        return DASH if check.value is None else f"{ms(check.value)} ms"
    return pct(check.value) if check.slo in PERCENT_SLOS else score(check.value)


def slo_target(check: SLOCheck) -> str:
    op = OPS[check.op]
    if check.slo == "p95_ms":
        return f"{op} {check.target:,.0f} ms" if check.target == int(check.target) else f"{op} {ms(check.target)} ms"
    return f"{op} {pct(check.target)}" if check.slo in PERCENT_SLOS else f"{op} {check.target:.2f}"


def slo_rows(checks: list[SLOCheck]) -> list[SLORow]:
    return [SLORow(SLO_LABELS[c.slo], slo_value(c), slo_target(c), c.ok) for c in checks]


@dataclass(frozen=True)
class EndpointRow:
    name: str
    group: str
    request: str
    requests: str
    rps: str
    p50: str
    p95: str
    p99: str
    errors: str
    checks: str
    apdex: str
    ok: bool | None
    reason: str
    total: bool = False
    state: str = ""  # ok, fail, not_exercised ("" for the all-endpoints row)


def _row(
    name: str, group: str, request: str, s: Stats, apdex: float | None, ok: bool | None, reason: str
) -> EndpointRow:
    lat = s.latency_ms
    return EndpointRow(
        name=name,
        group=group,
        request=request,
        requests=count(s.requests),
        rps=rate(s.rps),
        p50=ms(lat.p50),
        p95=ms(lat.p95),
        p99=ms(lat.p99),
        errors=pct(s.error_rate),
        checks=pct(s.check_pass_rate),
        apdex=score(apdex),
        ok=ok,
        reason=reason,
    )


def endpoint_rows(result: RunResult, verdict: Verdict) -> list[EndpointRow]:
    """One row per endpoint, then one for all endpoints (when k6 produced totals)."""
    verdicts = {e.name: e for e in verdict.endpoints}
    rows = []
    for e in result.endpoints:
        v = verdicts.get(e.name)
        rows.append(
            _row(
                e.name,
                e.group,
                f"{e.method} {e.path}",
                e,
                v.apdex if v else None,
                v.ok if v else None,
                v.reason if v else "",
            )
        )
        if v is not None:
            rows[-1] = EndpointRow(**{**rows[-1].__dict__, "state": v.state})
    if result.total is not None:
        overall_ok = all(c.ok for c in verdict.overall)
        total = _row(ALL_ENDPOINTS, "", "", result.total, verdict.apdex, overall_ok, "")
        rows.append(EndpointRow(**{**total.__dict__, "total": True}))
    return rows


def latency_bars(result: RunResult, verdict: Verdict) -> list[tuple[str, float | None, float | None]]:
    """(endpoint, p95 ms, p95 target) for the bar chart."""
    targets = {e.name: next((c.target for c in e.checks if c.slo == "p95_ms"), None) for e in verdict.endpoints}
    return [(e.name, e.latency_ms.p95 if e.requests else None, targets.get(e.name)) for e in result.endpoints]


@dataclass(frozen=True)
class DeltaRow:
    endpoint: str
    metric: str
    baseline: str
    current: str
    change: str
    noise: str
    state: Literal["regression", "improvement", "noise", "inconclusive", "unknown"]


def _fmt(metric: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return DASH
    sign = "+" if signed and value > 0 else "−" if signed and value < 0 else ""
    magnitude = abs(value) if signed else value
    if metric == "p95_ms":
        return f"{sign}{ms(magnitude)} ms"
    if metric == "error_rate":
        return f"{sign}{magnitude * 100:.2f} pp" if signed else pct(magnitude)
    return f"{sign}{rate(magnitude)} rps"


def delta_row(endpoint: str, d: Delta) -> DeltaRow:
    change = _fmt(d.metric, d.change, signed=True)
    if d.change and d.change_pct is not None:
        change += f" ({d.change_pct * 100:+.1f}%)".replace("-", "−")
    state: Literal["regression", "improvement", "noise", "inconclusive", "unknown"] = (
        "regression"
        if d.regression
        else "improvement"
        if d.improvement
        else "inconclusive"
        if d.outcome == "inconclusive"
        else "noise"
        if d.change is not None
        else "unknown"
    )
    if d.noise is None:
        noise = DASH
    else:
        noise = f"± {d.noise * 100:.2f} pp" if d.metric == "error_rate" else "± " + _fmt(d.metric, d.noise)
    return DeltaRow(
        endpoint=ALL_ENDPOINTS if endpoint == TOTAL_KEY else endpoint,
        metric=DELTA_LABELS[d.metric],
        baseline=_fmt(d.metric, d.baseline),
        current=_fmt(d.metric, d.current),
        change=change,
        noise=noise,
        state=state,
    )


def delta_rows(comparison: Comparison | None) -> list[DeltaRow]:
    if comparison is None:
        return []
    ordered = sorted(comparison.endpoints, key=lambda e: e.name == TOTAL_KEY)
    return [delta_row(e.name, d) for e in ordered for d in e.deltas]


def baseline_text(verdict: Verdict) -> str:
    c = verdict.comparison
    note = f" {verdict.baseline_note.rstrip('.')}." if verdict.baseline_note else ""
    if c is None:
        return f"{verdict.baseline_note.rstrip('.')}." if verdict.baseline_note else "No baseline run to compare with."
    if c.reason:  # the regression model's own sentence (tasks/evaluation/baseline.py)
        return f"{c.outcome.upper()}: {c.reason}." + (f" To do: {c.todo}." if c.todo else "")
    how = "pinned baseline" if c.pinned else "last passing run"
    started = f", started {when(c.baseline_started_at)}" if c.baseline_started_at else ""
    found = f"{len(c.regressions)} regression(s)" if c.regressions else "no regressions beyond noise"
    return f"Compared with run {c.baseline_run_id} ({how}{started}): {found}.{note}"


def run_summary(result: RunResult) -> str:
    """One line: what ran, against what, for how long."""
    text = f"{result.profile} profile, {result.load_model} model, against {result.target}"
    known = [
        duration(result.duration_s) if result.duration_s is not None else "",
        f"up to {count(result.vus_max)} VUs" if result.vus_max is not None else "",
        f"{count(result.iterations)} iterations" if result.iterations is not None else "",
    ]
    known = [k for k in known if k]
    return text + (": " + ", ".join(known) if known else "") + "."


def storage_text(result: RunResult) -> tuple[bool, str]:
    """(stored, details) for the InfluxDB status line."""
    store = result.influxdb
    if store is None:
        return False, "not configured for this run"
    where = f"database {store.database} at {store.url}"
    if not store.stored:
        return False, where + (f": {store.note}" if store.note else "")
    if store.errors:
        where += f", with {store.errors} write error(s): some samples may be missing"
    return True, where + (f" ({store.note})" if store.note else "")


FILE_LABELS = {
    "summary": "Run summary",
    "k6_options": "k6 options (what k6 ran)",
    "k6_summary": "k6 end-of-test summary",
    "k6_report": "k6 web dashboard",
    "k6_log": "k6 log",
    "failures": "Failed-request samples",
    "endpoints": "Endpoints file",
}


def run_files(result: RunResult) -> list[tuple[str, str]]:
    """(label, file name) for the run folder's files that are safe relative links."""
    safe = [(kind, name) for kind, name in result.files.items() if _local_name(name)]
    order = list(FILE_LABELS)
    safe.sort(key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]))
    return [(FILE_LABELS.get(kind, kind.replace("_", " ")), name) for kind, name in safe]


def _local_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "._-" for c in name) and not name.startswith(".")


THRESHOLD_LIMIT = 20  # crossed k6 thresholds listed in the report's details


def short_outcome(result: RunResult) -> str:
    """k6's outcome without its raw threshold list (the report's details keep that)."""
    message = result.message or ""
    if message.startswith("thresholds crossed:"):
        n = sum(1 for t in result.thresholds if not t.ok) or message.count(";") + 1
        message = f"{n} k6 threshold{'s' if n != 1 else ''} crossed (listed at the end of the report)"
    return result.status + (f": {message}" if message else "")


def crossed_thresholds(result: RunResult) -> list[str]:
    return [f"{t.metric} {t.expression}" for t in result.thresholds if not t.ok]


def run_facts(result: RunResult) -> list[tuple[str, str]]:
    return [
        ("Service", result.service or DASH),
        ("Profile", result.profile),
        ("Load model", result.load_model),
        ("Target", result.target),
        ("Run id", result.run_id),
        ("Started", when(result.started_at)),
        ("Duration", duration(result.duration_s)),
        ("VUs (max)", count(result.vus_max)),
        ("Iterations", count(result.iterations)),
        ("k6 outcome", short_outcome(result)),
    ]


@dataclass
class Failure:
    endpoint: str
    method: str
    url: str
    status: str
    error: str
    checks: list[str] = field(default_factory=list)
    body: str = ""
    duration: str = ""


def _failure(data: dict[str, Any]) -> Failure:
    checks = data.get("failed_checks")
    body = str(data.get("body_excerpt") or "")
    took = data.get("duration_ms")
    return Failure(
        endpoint=str(data.get("endpoint") or DASH),
        method=str(data.get("method") or ""),
        url=str(data.get("url") or ""),
        status=str(data.get("status") if data.get("status") not in (None, 0) else "no response"),
        error=str(data.get("error") or ""),
        checks=[str(c) for c in checks] if isinstance(checks, list) else [],
        body=body[:BODY_LIMIT] + ("…" if len(body) > BODY_LIMIT else ""),
        duration=f"{ms(float(took))} ms" if isinstance(took, int | float) else DASH,
    )


def read_failures(path: Path, limit: int = FAILURE_LIMIT) -> tuple[list[Failure], int]:
    """The first `limit` lines of failures.jsonl, and how many of them could not be read."""
    if not path.is_file():
        return [], 0
    samples: list[Failure] = []
    unreadable = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for i, line in enumerate(lines):
            if i >= limit:
                break
            try:
                data = json.loads(line)
            except ValueError:
                unreadable += 1
                continue
            if isinstance(data, dict):
                samples.append(_failure(data))
            else:
                unreadable += 1
    return samples, unreadable
