"""The HTML report of a real k6 run, opened in real Chromium: self-contained (no request
leaves file://), no console or page errors, charts drawn, verdict visible; the screenshot
is kept in the run folder as report.png."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Request, Route, sync_playwright

from luna.catalog import load_catalog
from tasks.evaluation.slo import evaluate
from tasks.reporting.render import badge_svg, html_report
from tasks.reporting.timeseries import run_series
from tasks.reporting.view import ReportLinks
from tests.conftest import Demo, Runner, write_catalog

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_opens_offline_in_chromium(demo: Demo, load_run: Runner, tmp_path: Path) -> None:
    config = write_catalog(
        tmp_path / "endpoints.json",
        [
            {"name": "Users", "group": "users", "path": "/api/users", "checks": {"status": 200}},
            {"name": "Flaky", "group": "misc", "path": "/api/flaky?rate=0.3", "checks": {"status": 200}},
            {"name": "Slow", "group": "reports", "path": "/api/slow", "checks": {"status": 200}},
        ],
        slos={"p95_ms": 500, "error_rate": 0.05},
    )
    result = load_run(demo.url, config, "smoke", smoke_duration="5s")
    assert result.total is not None and result.total.requests > 0, result.message
    verdict = evaluate(result, load_catalog(config))
    assert verdict.status == "fail" and "Flaky" in verdict.reason  # a third of /api/flaky fails

    run_dir = Path(result.run_dir)
    series = run_series(run_dir, result.files)  # Luna's own series.json: k6's dashboard is off
    assert series is not None and len(series) >= 5 and not (run_dir / "k6-report.html").exists()
    periods = zip([0.0, *series.timestamps[:-1]], series.timestamps, series.rps, strict=True)
    assert sum(rps * (end - start) for start, end, rps in periods) == pytest.approx(result.total.requests, abs=1)
    links = ReportLinks(
        run_dir=str(run_dir), report_html=str(run_dir / "report.html"), badge_svg=str(run_dir / "badge.svg")
    )
    report = run_dir / "report.html"
    report.write_text(html_report(result, verdict, series, links), encoding="utf-8")
    (run_dir / "badge.svg").write_text(badge_svg(verdict), encoding="utf-8")
    assert result.failure_samples > 0 and (run_dir / "failures.jsonl").stat().st_size > 0

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test"
    outside: list[str] = []
    requested: list[str] = []
    errors: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://", "https://")):
            outside.append(url)
            route.abort()
        else:
            route.continue_()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def page_error(error: Error) -> None:
        errors.append(str(error))

    def request(req: Request) -> None:
        requested.append(req.url)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", guard)
            page.on("console", console)
            page.on("pageerror", page_error)
            page.on("request", request)
            page.goto(report.as_uri(), wait_until="load")

            heading = page.get_by_role("heading", name=re.compile(r"^FAIL"))
            assert heading.is_visible()
            assert page.get_by_text("Flaky: error rate", exact=False).first.is_visible()
            charts = page.locator("figure.chart svg[role=img]")
            assert charts.count() == 5  # RPS, latency, error rate, VUs, p95 by endpoint
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100
            assert page.locator("figure.chart svg path").count() >= 8
            assert page.locator("table.failures tbody tr").count() >= 1
            assert page.get_by_role("img", name=re.compile(r"^SLO badge: fail")).is_visible()
            assert page.evaluate("() => document.querySelectorAll('script').length") == 0
            page.screenshot(path=str(run_dir / "report.png"), full_page=True)
        finally:
            browser.close()

    assert outside == [], f"the report requested {outside}"
    assert all(url.startswith(("file://", "data:")) for url in requested), requested
    assert errors == [], errors
    shot = (run_dir / "report.png").read_bytes()
    assert shot.startswith(PNG) and len(shot) > 20_000
