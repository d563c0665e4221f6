"""Reports that scale to many failures: with 40 failing endpoints the verdict box leads with
the verdict and the five worst offenders by how far they miss, groups the rest, and keeps
k6's raw threshold list out of the summary (markdown artifact and HTML report alike)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from luna.catalog import Catalog, parse_catalog
from luna.results import EndpointStats, RunResult, Stats, Threshold
from luna.verdict import SLOCheck
from tasks.evaluation.slo import evaluate
from tasks.reporting.render import html_report, markdown_report
from tasks.reporting.summary import miss, summarize
from tasks.reporting.view import ReportLinks
from tests.unit.test_reporting import STARTED, stats

pytestmark = pytest.mark.unit


def many_failures(tmp_path: Path) -> RunResult:
    """42 endpoints: 2 pass, 25 too slow (p95 600..3000 ms against 500), 15 erroring, and
    two far worse: Worst-Slow (p95 9000 ms, 18x) and Worst-Errors (100% errors)."""
    endpoints = [
        EndpointStats(name=f"OK-{i}", group="ok", method="GET", path=f"/ok/{i}", **stats(100, 50, 0)) for i in range(2)
    ]
    endpoints += [
        EndpointStats(name=f"Slow-{i}", group="slow", method="GET", path=f"/s/{i}", **stats(100, 600 + 100 * i, 0))
        for i in range(25)
    ]
    endpoints += [
        EndpointStats(name=f"Err-{i}", group="err", method="GET", path=f"/e/{i}", **stats(100, 50, 0.02 + i / 100))
        for i in range(15)
    ]
    endpoints += [
        EndpointStats(name="Worst-Slow", group="slow", method="GET", path="/ws", **stats(100, 9000, 0)),
        EndpointStats(name="Worst-Errors", group="err", method="GET", path="/we", **stats(100, 50, 1.0)),
    ]
    thresholds = [
        Threshold(metric=f"http_req_duration{{name:{e.name}}}", expression="p(95)<500", ok=False) for e in endpoints[2:]
    ]
    return RunResult(
        run_id="r-many",
        service="Big",
        profile="smoke",
        target="http://127.0.0.1:1",
        status="failed",
        message="thresholds crossed: " + "; ".join(f"{t.metric} {t.expression}" for t in thresholds),
        started_at=STARTED,
        duration_s=10,
        total=Stats(**stats(4400, 800, 0.1)),
        endpoints=endpoints,
        thresholds=thresholds,
        run_dir=str(tmp_path),
    )


def catalog_for(result: RunResult) -> Catalog:
    eps = [{"name": e.name, "group": e.group, "path": e.path} for e in result.endpoints]
    return parse_catalog(
        {"service": "Big", "slos": {"p95_ms": 500, "error_rate": 0.01}, "endpoints": eps}, source="test"
    )


def test_the_worst_offenders_lead_by_how_far_they_miss(tmp_path: Path) -> None:
    result = many_failures(tmp_path)
    verdict = evaluate(result, catalog_for(result))
    box = summarize(result, verdict)
    assert box.lead == "42 of 44 endpoints missed an SLO."
    worst = [o.endpoint for o in box.worst]
    assert worst[:2] == ["Worst-Errors", "Worst-Slow"]  # 99 points over, then 18x the target
    assert len(worst) == 5 and worst[2:] == ["Err-14", "Err-13", "Err-12"]  # 15, 14, 13 points over
    assert sum(g.count for g in box.rest) == 42 - 5
    labels = {g.label: g.count for g in box.rest}
    assert labels == {"p95 latency": 25, "Error rate": 12}
    slow = next(g for g in box.rest if g.label == "p95 latency")
    assert slow.names[0] == "Slow-24" and len(slow.names) == 6 and "and 19 more" in slow.text


def test_markdown_and_html_keep_the_summary_short_and_thresholds_apart(tmp_path: Path) -> None:
    result = many_failures(tmp_path)
    verdict = evaluate(result, catalog_for(result))
    links = ReportLinks(run_dir=str(tmp_path))
    text = markdown_report(result, verdict, links).replace("\\", "")  # the md filter's escapes
    head = text.split("## SLOs")[0]
    assert "p(95)<500" not in head and "thresholds crossed: " not in head
    assert "42 k6 thresholds crossed" in head
    assert head.index("42 of 44 endpoints missed an SLO") < head.index("1. **Worst-Errors**")
    assert "The other 37 failing endpoints" in head and len(head.splitlines()) < 30
    crossed = text.split("## k6 thresholds crossed")[1]
    assert crossed.count("p(95)<500") == 20 and "and 22 more" in crossed
    html = html_report(result, verdict, None, links)
    box = html.split('<section class="verdict')[1].split("</section>")[0]
    assert (
        box.count("<li>") == 5 + 2 + 1 and "p(95)&lt;500" not in box and "p(95)<500" not in box
    )  # offenders, groups, the checks fix
    assert (
        "Worst-Errors" in box and "Slow-0<" not in box and "Slow-0," not in box
    )  # the 19 least slow are counted, not named
    details = html.split('<details class="thresholds">')[1].split("</details>")[0]
    assert len(re.findall(r"<li class=\"req\">", details)) == 20


def test_how_far_reads_as_a_person_would_say_it() -> None:
    assert miss(SLOCheck(slo="p95_ms", value=1500, target=500, op="<", ok=False)).how_far == "3.0× the target"
    assert miss(SLOCheck(slo="p95_ms", value=600, target=500, op="<", ok=False)).how_far == "20% over"
    assert miss(SLOCheck(slo="error_rate", value=0.05, target=0.01, op="<=", ok=False)).how_far == "4.00 points over"
    assert miss(SLOCheck(slo="apdex_score", value=0.6, target=0.85, op=">=", ok=False)).how_far == "0.25 under"
    unmeasured = miss(SLOCheck(slo="p95_ms", value=None, target=500, op="<", ok=False))
    assert unmeasured.how_far == "not measured" and unmeasured.value == "–"


def test_a_pass_says_so_in_one_line(tmp_path: Path) -> None:
    result = many_failures(tmp_path)
    result.endpoints = result.endpoints[:2]
    result.total = Stats(**stats(200, 50, 0))
    result.thresholds, result.status, result.message = [], "passed", "k6 finished and every threshold held"
    verdict = evaluate(result, catalog_for(result))
    text = markdown_report(result, verdict, ReportLinks(run_dir=str(tmp_path))).replace("\\", "")
    assert "**PASS**: Every SLO held across 2 endpoints." in text and "Worst" not in text


def test_a_regression_names_the_window_it_was_judged_against(tmp_path: Path) -> None:
    from luna.verdict import Comparison

    result = many_failures(tmp_path)
    verdict = evaluate(result, catalog_for(result))
    window = ["w1", "w2", "w3", "w4", "w5"]
    verdict.comparison = Comparison(
        baseline_run_id="w5", endpoints=[], window_run_ids=window, regressions=["Slow-1: p95_ms"], outcome="regressed"
    )
    assert "regressed against the median of 5 comparable runs: Slow-1: p95_ms" in summarize(result, verdict).notes
    verdict.comparison = Comparison(
        baseline_run_id="pinned-1", endpoints=[], pinned=True, regressions=["Slow-1: p95_ms"]
    )
    assert "regressed against baseline pinned-1: Slow-1: p95_ms" in summarize(result, verdict).notes
