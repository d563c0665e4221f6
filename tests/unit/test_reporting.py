"""Unit tests for the reporting stage: escaping of user-provided names in HTML and markdown,
the zero-requests report, the badge, the Grafana link and k6 dashboard series parsing."""

from __future__ import annotations

import base64
import gzip
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from luna.catalog import parse_catalog
from luna.errors import ConfigError
from luna.results import EndpointStats, Latency, MetricsStore, RunResult, Stats
from luna.verdict import Comparison, Delta, EndpointComparison, EndpointVerdict, SLOCheck, Verdict
from tasks.evaluation.slo import evaluate
from tasks.reporting.render import (
    badge_svg,
    endpoint_table,
    grafana_link,
    html_report,
    markdown_report,
    md,
)
from tasks.reporting.tasks import report_keys
from tasks.reporting.timeseries import decode_events, read_series
from tasks.reporting.view import ReportLinks

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "k6-report-smoke.html"
HOSTILE = "<script>alert(1)</script> | `rm` [x](javascript:alert(2))\n<img src=x onerror=alert(3)> {{ 7*7 }}"
NAMES = [f"{HOSTILE} #{i}" for i in range(3)]
STARTED = datetime(2026, 11, 24, 6, 0, 0, tzinfo=UTC)


def stats(requests: int, p95: float, errors: float) -> dict[str, Any]:
    return {
        "requests": requests,
        "rps": requests / 10,
        "latency_ms": Latency(avg=p95 / 2, min=1, p50=p95 / 2, p90=p95 * 0.9, p95=p95, p99=p95 * 1.2, max=p95 * 2),
        "error_rate": errors,
        "failed_requests": round(requests * errors),
        "check_pass_rate": 1 - errors,
        "checks_passed": requests - round(requests * errors),
        "checks_failed": round(requests * errors),
        "apdex_satisfied": requests - round(requests * errors),
    }


def hostile_run(run_dir: Path) -> tuple[RunResult, Verdict]:
    """A run whose every user-provided string is hostile, with a baseline comparison."""
    run_dir.mkdir(parents=True, exist_ok=True)
    failure = {
        "endpoint": NAMES[0],
        "method": "GET",
        "url": f"http://127.0.0.1/{HOSTILE}",
        "status": 500,
        "failed_checks": [f"{HOSTILE}: status is 200"],
        "duration_ms": 1.5,
        "body_excerpt": "</pre><script>alert(4)</script>" + "x" * 400,
    }
    (run_dir / "failures.jsonl").write_text(json.dumps(failure) + "\nnot json\n", encoding="utf-8")
    result = RunResult(
        run_id="20261124-060000-smoke-abcd",
        service=HOSTILE,
        profile="smoke",
        target=f"http://127.0.0.1:1/{HOSTILE}",
        status="failed",
        message=f"thresholds crossed: {HOSTILE}",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=10),
        duration_s=10.0,
        vus_max=2,
        iterations=300,
        total=Stats(**stats(300, 120.0, 0.1)),
        endpoints=[
            EndpointStats(name=name, group=HOSTILE, method="GET", path=f"/{HOSTILE}", **stats(100, 100.0 + i, 0.1))
            for i, name in enumerate(NAMES)
        ],
        failure_samples=1,
        influxdb=MetricsStore(url="http://127.0.0.1:8086", database=HOSTILE, stored=False, note=HOSTILE),
        run_dir=str(run_dir),
        files={"summary": "summary.json", "failures": "failures.jsonl", "evil": "javascript:alert(5)"},
    )

    def checks(ok: bool) -> list[SLOCheck]:
        return [
            SLOCheck(slo="p95_ms", value=100.0, target=500, op="<", ok=True),
            SLOCheck(slo="error_rate", value=0.1, target=0.01, op="<=", ok=ok),
            SLOCheck(slo="apdex_score", value=0.9, target=0.85, op=">=", ok=True),
        ]

    delta = Delta(
        metric="p95_ms", baseline=50.0, current=100.0, change=50.0, change_pct=1.0, noise=5.0, regression=True
    )
    verdict = Verdict(
        run_id=result.run_id,
        service=HOSTILE,
        profile="smoke",
        status="fail",
        reason=f"{NAMES[0]}: error rate 10.00% (target <= 1.00%)",
        headline="p95 120 ms",
        overall=checks(False),
        apdex=0.9,
        endpoints=[
            EndpointVerdict(
                name=name, group=HOSTILE, ok=False, requests=100, apdex=0.9, apdex_t_ms=500, checks=checks(False)
            )
            for name in NAMES
        ],
        comparison=Comparison(
            baseline_run_id=HOSTILE,
            endpoints=[EndpointComparison(name=name, deltas=[delta]) for name in [*NAMES, "_total"]],
            regressions=[f"{name}: p95_ms" for name in NAMES],
        ),
    )
    return result, verdict


def links_for(result: RunResult, grafana: str | None = None) -> ReportLinks:
    run_dir = Path(result.run_dir)
    return ReportLinks(
        run_dir=str(run_dir),
        report_html=str(run_dir / "report.html"),
        badge_svg=str(run_dir / "badge.svg"),
        grafana=grafana,
    )


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parse_html(text: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(text)
    parser.close()
    return parser


def markdown_tables(text: str) -> list[list[list[Token]]]:
    """Each table as rows of cell tokens (header row first), via a CommonMark+GFM-table parser."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables: list[list[list[Token]]] = []
    for tok in tokens:
        if tok.type == "table_open":
            tables.append([])
        elif tok.type == "tr_open":
            tables[-1].append([])
        elif tok.type in ("th_open", "td_open"):
            tables[-1][-1].append(tok)
    return tables


# ---- escaping ----------------------------------------------------------------------------


def test_html_escapes_hostile_names(tmp_path: Path) -> None:
    result, verdict = hostile_run(tmp_path / "run")
    html = html_report(result, verdict, read_series(FIXTURE), links_for(result, "http://grafana.local:3000/d/x"))
    parsed = parse_html(html)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags and "<script" not in html.lower()
    assert "img" in tags  # the badge, as a data: URI; no other image
    assert [dict(a)["src"][:26] for t, a in parsed.tags if t == "img"] == ["data:image/svg+xml;base64,"]
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert value is not None and not value.lower().startswith("javascript:"), value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html  # data is never rendered as a template
    assert "&lt;/pre&gt;&lt;script&gt;alert(4)" in html
    assert "x" * 301 not in html  # body excerpts are cut at 300 characters


def test_markdown_tables_survive_hostile_names(tmp_path: Path) -> None:
    result, verdict = hostile_run(tmp_path / "run")
    grafana = grafana_link("http://grafana.local:3000", HOSTILE, result.run_id, STARTED, None)
    text = markdown_report(result, verdict, links_for(result, grafana))
    slos, endpoints, deltas = markdown_tables(text)
    assert [len(row) for row in slos] == [4] * 4
    assert [len(row) for row in endpoints] == [12] * 5  # header, 3 endpoints, all endpoints
    assert [len(row) for row in deltas] == [7] * 5
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    inline = [child for tok in tokens for child in (tok.children or [])]
    assert not [t for t in tokens + inline if t.type in ("html_block", "html_inline", "code_inline", "image")]
    links = [t.attrs["href"] for t in inline if t.type == "link_open"]
    assert links == [grafana]
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in rendered and "<img" not in rendered
    assert rendered.count("&lt;script&gt;alert(1)&lt;/script&gt; | `rm` [x](javascript:alert(2))") >= 5


def test_md_escape_keeps_text_on_one_line() -> None:
    assert md("a|b\nc`d\re\u2028f") == "a\\|b c\\`d e f"
    assert MarkdownIt("commonmark").renderInline(md("[a](b) <i>x</i> **y** \\|")) == (
        "[a](b) &lt;i&gt;x&lt;/i&gt; **y** \\|"
    )


def test_endpoint_table_rows(tmp_path: Path) -> None:
    result, verdict = hostile_run(tmp_path / "run")
    rows = endpoint_table(result, verdict)
    assert [r["endpoint"] for r in rows] == [*NAMES, "All endpoints"]
    assert rows[0]["p95_ms"] == 100.0 and rows[0]["error_rate"] == 0.1 and rows[0]["slo"] == "fail"
    assert rows[-1]["requests"] == 300 and rows[-1]["apdex"] == 0.9
    json.dumps(rows)  # a Prefect table artifact is JSON


# ---- the zero-requests run ---------------------------------------------------------------


def test_zero_requests_renders_fail_with_reason(tmp_path: Path) -> None:
    catalog = parse_catalog(
        {"service": "Shop", "endpoints": [{"name": "Items", "group": "items", "path": "/items"}]}, source="test"
    )
    result = RunResult(
        run_id="r0",
        service="Shop",
        profile="smoke",
        target="http://127.0.0.1:1",
        status="error",
        message="k6 could not connect",
        started_at=STARTED,
        total=Stats(),
        endpoints=[EndpointStats(name="Items", group="items", method="GET", path="/items")],
        run_dir=str(tmp_path),
    )
    verdict = evaluate(result, catalog)
    assert verdict.status == "fail"
    html = html_report(result, verdict, None, links_for(result))
    text = markdown_report(result, verdict, links_for(result))
    for out in (html, text):
        assert "FAIL" in out
        assert "no requests were made" in out.replace("\\", "")
    assert "time series unavailable (run too short for k6's dashboard)" in html.lower()
    assert "no data" in html  # the p95 bar of an endpoint without requests
    assert "fail · no requests" in badge_svg(verdict)
    result.total = None
    result.endpoints = []
    assert "No endpoint statistics" in html_report(result, verdict, None, links_for(result))
    assert "No endpoint statistics" in markdown_report(result, verdict, links_for(result))


# ---- badge -------------------------------------------------------------------------------


@pytest.mark.parametrize("status,color", [("pass", "#4c1"), ("fail", "#e05d44")])
def test_badge_is_valid_svg(tmp_path: Path, status: str, color: str) -> None:
    _, verdict = hostile_run(tmp_path)
    verdict = verdict.model_copy(update={"status": status, "headline": "p95 123 ms"})
    root = ET.fromstring(badge_svg(verdict))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    label = f"SLO: {status} · p95 123 ms"
    assert root.get("aria-label") == label and root.get("role") == "img"
    assert root.findtext("svg:title", namespaces=ns) == label
    rects = root.findall("svg:g/svg:rect", ns)
    assert rects[0].get("fill") == "#555" and rects[1].get("fill") == color
    assert int(rects[0].get("width", 0)) + int(rects[1].get("width", 0)) == int(root.get("width", 0))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["SLO", "SLO", f"{status} · p95 123 ms", f"{status} · p95 123 ms"]
    assert 90 < int(rects[1].get("width", 0)) < 130  # estimated text width plus padding


# ---- Grafana link and artifact keys ------------------------------------------------------


def test_the_live_grafana_link_runs_to_now_and_refreshes() -> None:
    link = grafana_link("http://127.0.0.1:3000", "s", "run-1", STARTED, None, live=True)
    assert "var-run_id=run-1" in link and "&to=now&refresh=5s" in link


def test_grafana_link_encodes_values() -> None:
    link = grafana_link(
        "https://grafana.example/", "Shop & Co/EU #1?", "run 1&x=2", STARTED, STARTED + timedelta(seconds=60)
    )
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://grafana.example/d/luna-k6/luna-k6-load-runs"
    assert "var-service=Shop%20%26%20Co%2FEU%20%231%3F" in link and "var-run_id=run%201%26x%3D2" in link
    query = parse_qs(parts.query)
    assert query["var-service"] == ["Shop & Co/EU #1?"] and query["var-run_id"] == ["run 1&x=2"]
    start_ms = int(STARTED.timestamp() * 1000)
    assert query["from"] == [str(start_ms - 30_000)] and query["to"] == [str(start_ms + 90_000)]
    with pytest.raises(ConfigError):
        grafana_link("javascript:alert(1)", "s", "r", STARTED, None)


def test_artifact_keys_are_prefect_keys() -> None:
    keys = report_keys(HOSTILE, "smoke")
    assert set(keys) == {"report", "endpoints", "grafana", "html"}
    for key in keys.values():
        assert re.fullmatch(r"[a-z0-9-]+", key), key
    assert keys["report"].startswith("luna-report-script-alert-1-script")
    assert re.fullmatch(r"luna-grafana-service-[0-9a-f]{8}-soak", report_keys(None, "soak")["grafana"])


# ---- k6 dashboard time series ------------------------------------------------------------


def test_series_from_a_real_dashboard_export() -> None:
    series = read_series(FIXTURE)
    assert series is not None
    assert series.period_s == 0.5 and len(series) == 10
    assert series.timestamps == sorted(series.timestamps) and 0.4 < series.timestamps[0] < 0.6
    assert 4.9 < series.timestamps[-1] < 5.2
    assert series.rps[0] == 90.0  # k6's own per-period rate: 45 requests in 0.5 s
    assert 560 < sum(r * series.period_s for r in series.rps) <= 590  # the run made 590 requests
    for lists in (series.p50_ms, series.p95_ms, series.p99_ms, series.error_rate, series.checks_rate):
        assert len(lists) == 10 and None not in lists
    assert all(p50 <= p95 <= p99 for p50, p95, p99 in zip(series.p50_ms, series.p95_ms, series.p99_ms, strict=True))
    assert all(50 < v < 60 for v in series.p95_ms if v is not None)  # /api/slow sleeps ~50 ms
    assert all(0.03 < v < 0.2 for v in series.error_rate if v is not None)  # /api/flaky?rate=0.3 is a third
    assert series.vus[-1] == 2  # smoke: 2 VUs


def test_series_events_are_per_period() -> None:
    events = decode_events(FIXTURE)
    kinds = [e["event"] for e in events]
    assert kinds.count("snapshot") == 10 and "cumulative" in kinds
    cumulative = next(e for e in events if e["event"] == "cumulative")
    # the cumulative event holds the run's totals; snapshots hold one period each
    assert cumulative["data"][0][0] > max(e["data"][0][0] for e in events if e["event"] == "snapshot")


def _export(events: list[dict[str, Any]]) -> str:
    payload = base64.b64encode(gzip.compress("\n".join(json.dumps(e) for e in events).encode(), mtime=0)).decode()
    return f'<html><script id="data" type="application/json; charset=utf-8; gzip; base64">{payload}</script></html>'


@pytest.mark.parametrize(
    "content",
    [
        "",
        "<html><body>no data element</body></html>",
        '<script id="data">!!! not base64 !!!</script>',
        f'<script id="data">{base64.b64encode(b"not gzip").decode()}</script>',
        f'<script id="data">{base64.b64encode(gzip.compress(b"{not json", mtime=0)).decode()}</script>',
        "snapshot-free",
        "odd-snapshots",
    ],
)
def test_series_is_none_on_odd_input(tmp_path: Path, content: str) -> None:
    events = decode_events(FIXTURE)
    if content == "snapshot-free":
        content = _export([e for e in events if e["event"] != "snapshot"])
    elif content == "odd-snapshots":
        content = _export([{"event": "snapshot", "data": "oops"}, {"event": "metric", "data": [1]}, {"x": 1}])
    path = tmp_path / "k6-report.html"
    path.write_text(content, encoding="utf-8")
    assert read_series(path) is None
    assert read_series(tmp_path / "missing.html") is None
    assert read_series(tmp_path) is None  # a directory


def test_series_survives_partial_metrics(tmp_path: Path) -> None:
    """A period without requests (or a run without checks) leaves gaps, not errors."""
    events = decode_events(FIXTURE)
    names = sorted(name for e in events if e["event"] == "metric" and isinstance(e["data"], dict) for name in e["data"])
    for e in events:
        if e["event"] == "snapshot" and len(e["data"]) == len(names):
            e["data"][names.index("http_req_duration")] = []
            e["data"][names.index("http_reqs")] = []
            break
    path = tmp_path / "k6-report.html"
    path.write_text(_export(events), encoding="utf-8")
    series = read_series(path)
    assert series is not None
    gap = next(i for i, v in enumerate(series.p95_ms) if v is None)
    assert series.rps[gap] == 0.0 and series.p50_ms[gap] is None


def test_html_report_draws_charts_from_the_series(tmp_path: Path) -> None:
    result, verdict = hostile_run(tmp_path / "run")
    html = html_report(result, verdict, read_series(FIXTURE), links_for(result))
    parsed = parse_html(html)
    svg_ids = [dict(a).get("aria-labelledby", "") for t, a in parsed.tags if t == "svg"]
    assert len(svg_ids) == 5  # RPS, latency, errors, VUs, p95 by endpoint
    assert all(i.endswith("-desc") for i in svg_ids)
    assert html.count("<title id=") == 5 and html.count("<desc id=") == 5
    assert "Throughput" in html and "Virtual users" in html and "SLO p95 target" in html
    assert "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"" in html
    assert '<html lang="en">' in html
    assert "http://" not in "".join(dict(a).get("src") or "" for _, a in parsed.tags)


def test_influx_status_and_file_links(tmp_path: Path) -> None:
    result, verdict = hostile_run(tmp_path / "run")
    result = result.model_copy(update={"service": "Shop", "target": "http://127.0.0.1:1"})
    cases = [
        (None, "⚠️ InfluxDB: not stored, not configured for this run"),
        (MetricsStore(url="http://127.0.0.1:8086", database="k6", stored=True), "💾 InfluxDB: stored in database k6"),
        (
            MetricsStore(url="http://127.0.0.1:8086", database="k6", stored=True, errors=2),
            "with 2 write error\\(s\\)",
        ),
        (
            MetricsStore(url="http://127.0.0.1:8086", database="k6", stored=False, note="did not answer"),
            "⚠️ InfluxDB: not stored, database k6 at http\\:\\/\\/127\\.0\\.0\\.1\\:8086\\: did not answer",
        ),
    ]
    for store, expected in cases:
        result.influxdb = store
        assert expected in markdown_report(result, verdict, links_for(result))
    html = html_report(result, verdict, None, links_for(result))
    hrefs = [dict(a).get("href") for t, a in parse_html(html).tags if t == "a"]
    assert hrefs == ["summary.json", "failures.jsonl", "badge.svg"]  # the javascript: file name is dropped
