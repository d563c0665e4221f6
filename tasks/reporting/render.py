"""Report rendering: the markdown artifact, the Prefect table rows, the SLO badge and the
self-contained HTML report, all from a RunResult and its Verdict through Jinja templates.

HTML and SVG templates are autoescaped. Markdown is not HTML, so every string that came
from a user file goes through the `md` filter, which neutralises table pipes, backticks,
line breaks, links and raw HTML (Prefect renders markdown artifacts).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from luna.errors import ConfigError
from luna.markdown import md
from luna.results import RunResult, Stats
from luna.urls import UrlRejected
from luna.urls import web_url as checked_url
from luna.verdict import Verdict
from tasks.reporting import charts
from tasks.reporting.summary import summarize
from tasks.reporting.timeseries import TimeSeries
from tasks.reporting.trend import change_point_lines, trend_charts
from tasks.reporting.view import (
    ALL_ENDPOINTS,
    THRESHOLD_LIMIT,
    ReportLinks,
    baseline_text,
    crossed_thresholds,
    delta_rows,
    endpoint_rows,
    latency_bars,
    read_failures,
    run_facts,
    run_files,
    run_summary,
    slo_rows,
    storage_text,
    when,
)

TEMPLATES = Path(__file__).parent / "templates"
URL_SAFE = ":/?#@!$&'*+,;=%-._~"
BLUE, SKY, VIOLET, RED, AMBER, GREEN = "#2563eb", "#38bdf8", "#7c3aed", "#dc2626", "#d97706", "#059669"
# Verdana 11 px advance widths (shields.io's font), grouped; anything else counts as DEFAULT.
WIDTHS = {
    **dict.fromkeys("ijlI.,:;'!|·", 3.4),
    **dict.fromkeys("ftr()[]{}/ -", 4.4),
    **dict.fromkeys("sczJ", 5.8),
    **dict.fromkeys("0123456789", 7.0),
    **dict.fromkeys("mwMW%", 10.4),
    **dict.fromkeys("ABCDEFGHKLNOPQRSTUVXYZ", 7.8),
}
DEFAULT_WIDTH = 6.8


def md_url(url: str) -> str:
    """A URL usable as a markdown link destination (no spaces, brackets or parentheses)."""
    return quote(url, safe=URL_SAFE)


def web_url(url: str | None) -> str | None:
    """The URL when it passes the one URL model (luna/urls.py), else None (never a
    javascript: or file: link)."""
    if not url:
        return None
    try:
        return checked_url(url)
    except UrlRejected:
        return None


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["md_url"] = md_url
    return env


ENV = _env()


def _epoch_ms(value: datetime) -> int:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def grafana_link(
    grafana_url: str, service: str | None, run_id: str, start: datetime, end: datetime | None, live: bool = False
) -> str:
    """The luna-k6 dashboard filtered to this run, from 30 s before it to 30 s after; with
    `live`, from 30 s before it to now, refreshed every 5 s (the link published at the start)."""
    if web_url(grafana_url) is None:
        raise ConfigError(
            f"Grafana URL {grafana_url!r} is not an http(s) URL",
            tip="pass the Grafana base URL, e.g. http://localhost:3000",
        )
    window: dict[str, str | int] = {"from": _epoch_ms(start) - 30_000}
    window.update({"to": "now", "refresh": "5s"} if live else {"to": _epoch_ms(end or start) + 30_000})
    query = urlencode({"var-service": service or "", "var-run_id": run_id, **window}, quote_via=quote)
    return f"{grafana_url.rstrip('/')}/d/luna-k6/luna-k6-load-runs?{query}"


def _context(result: RunResult, verdict: Verdict, links: ReportLinks) -> dict[str, Any]:
    stored, storage = storage_text(result)
    facts = run_facts(result)
    deltas = delta_rows(verdict.comparison)
    return {
        "result": result,
        "verdict": verdict,
        "passed": verdict.passed,
        "title": f"{result.service or 'Load test'} · {result.profile}",
        "facts": facts,
        "fact": dict(facts),
        "slos": slo_rows(verdict.overall),
        "endpoints": endpoint_rows(result, verdict),
        "deltas": deltas,
        "delta_groups": [
            (name, [d for d in deltas if d.endpoint == name]) for name in dict.fromkeys(d.endpoint for d in deltas)
        ],
        "baseline": baseline_text(verdict),
        "stored": stored,
        "storage": storage,
        "links": links,
        "grafana": web_url(links.grafana),
        "started": when(result.started_at),
        "summary": run_summary(result),
        "box": summarize(result, verdict),
        "thresholds": crossed_thresholds(result),
        "threshold_limit": THRESHOLD_LIMIT,
        "change_points": change_point_lines(verdict),
    }


def markdown_report(result: RunResult, verdict: Verdict, links: ReportLinks) -> str:
    """The Prefect markdown artifact."""
    return ENV.get_template("report.md").render(**_context(result, verdict, links))


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _table_row(
    name: str, group: str, request: str, s: Stats, apdex: float | None, ok: bool | None, reason: str
) -> dict[str, Any]:
    lat = s.latency_ms
    return {
        "endpoint": name,
        "group": group,
        "request": request,
        "requests": s.requests,
        "rps": round(s.rps, 2),
        "p50_ms": _round(lat.p50, 2),
        "p95_ms": _round(lat.p95, 2),
        "p99_ms": _round(lat.p99, 2),
        "error_rate": _round(s.error_rate, 4),
        "checks_pass_rate": _round(s.check_pass_rate, 4),
        "apdex": _round(apdex, 3),
        "slo": "-" if ok is None else "pass" if ok else "fail",
        "reason": reason,
    }


def endpoint_table(result: RunResult, verdict: Verdict) -> list[dict[str, Any]]:
    """Rows for a Prefect table artifact: raw numbers, one row per endpoint, then all endpoints."""
    verdicts = {e.name: e for e in verdict.endpoints}
    rows = []
    for e in result.endpoints:
        v = verdicts.get(e.name)
        request = f"{e.method} {e.path}"
        rows.append(
            _table_row(e.name, e.group, request, e, v.apdex if v else None, v.ok if v else None, v.reason if v else "")
        )
        if v is not None and v.state == "not_exercised":
            rows[-1]["slo"] = "not exercised"
    if result.total is not None:
        overall_ok = all(c.ok for c in verdict.overall)
        rows.append(_table_row(ALL_ENDPOINTS, "", "", result.total, verdict.apdex, overall_ok, ""))
    return rows


def text_width(text: str) -> float:
    return sum(WIDTHS.get(ch, DEFAULT_WIDTH) for ch in text)


def badge_svg(verdict: Verdict) -> str:
    """A shields.io-style flat badge: grey "SLO", then green pass or red fail with the headline."""
    left, right = "SLO", f"{verdict.status} · {verdict.headline}"
    left_w, right_w = round(text_width(left)) + 10, round(text_width(right)) + 10
    return ENV.get_template("badge.svg").render(
        left=left,
        right=right,
        left_w=left_w,
        right_w=right_w,
        width=left_w + right_w,
        color="#4c1" if verdict.passed else "#e05d44",
        left_text=round(text_width(left) * 10),
        right_text=round(text_width(right) * 10),
    )


def line_charts(series: TimeSeries, verdict: Verdict) -> list[charts.LineChart]:
    targets = {c.slo: c.target for c in verdict.overall}
    ts = series.timestamps
    failed_checks = [None if c is None else 1 - c for c in series.checks_rate]
    p95_rule, err_rule = [], []
    if "p95_ms" in targets:
        p95_rule = [(f"SLO p95 target {charts.amount(targets['p95_ms'])} ms", RED, targets["p95_ms"])]
    if "error_rate" in targets:
        err_rule = [(f"SLO target {charts.amount(targets['error_rate'] * 100)}%", RED, targets["error_rate"] * 100)]
    return [
        charts.line_chart(
            "chart-rps", "Throughput", "req/s", ts, [charts.Series("requests/s", BLUE, series.rps, area=True)]
        ),
        charts.line_chart(
            "chart-latency",
            "Latency",
            "ms",
            ts,
            [
                charts.Series("p50", SKY, series.p50_ms, 1.5),
                charts.Series("p95", BLUE, series.p95_ms),
                charts.Series("p99", VIOLET, series.p99_ms, 1.5),
            ],
            rules=p95_rule,
        ),
        charts.line_chart(
            "chart-errors",
            "Error rate",
            "%",
            ts,
            [
                charts.Series("failed requests", RED, series.error_rate, area=True),
                charts.Series("failed checks", AMBER, failed_checks, 1.5, dash="5 3"),
            ],
            scale=100,
            rules=err_rule,
        ),
        charts.line_chart(
            "chart-vus", "Virtual users", "VUs", ts, [charts.Series("active VUs", GREEN, series.vus, area=True)]
        ),
    ]


def html_report(result: RunResult, verdict: Verdict, series: TimeSeries | None, links: ReportLinks) -> str:
    """One self-contained HTML file: inline CSS and SVG, no script, no external resource."""
    failures_file = Path(result.run_dir) / result.files.get("failures", "failures.jsonl")
    failures, unreadable = read_failures(failures_file)
    badge = base64.b64encode(badge_svg(verdict).encode("utf-8")).decode("ascii")
    return ENV.get_template("report.html").render(
        **_context(result, verdict, links),
        badge=f"data:image/svg+xml;base64,{badge}",
        lines=line_charts(series, verdict) if series is not None and len(series) else [],
        bars=charts.bar_chart("chart-p95", "p95 latency by endpoint", latency_bars(result, verdict)),
        failures=failures,
        unreadable=unreadable,
        failure_total=result.failure_samples,
        files=run_files(result),
        trends=trend_charts(verdict),
    )
