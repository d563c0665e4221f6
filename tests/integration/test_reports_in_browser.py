"""Every report kind in real Chromium (Debian's, through Playwright) at desktop and phone
widths: the verdict is visible, nothing runs off the side of the page, and the pictures
load. The load report of a real k6 run is tests/integration/test_report_html.py; the
Prefect UI pages are in tests/e2e/test_up_down.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from luna.settings import load_settings
from tasks.evaluation.slo import evaluate
from tasks.pipeline.report import html_report as pipeline_html
from tasks.reporting.render import html_report
from tasks.reporting.timeseries import read_series
from tasks.reporting.view import ReportLinks
from tests.unit.test_pipeline_report import pipeline_folders
from tests.unit.test_report_summary import catalog_for, many_failures
from tests.unit.test_reporting import FIXTURE

pytestmark = pytest.mark.integration
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test"
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield launched
        launched.close()


def open_page(browser: Browser, path: Path, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    assert errors == []
    return page


def fits(page: Page) -> bool:
    """No horizontal scrolling of the page itself (wide tables scroll inside their box)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_a_load_report_with_42_failures(browser: Browser, tmp_path: Path, width: int) -> None:
    result = many_failures(tmp_path)
    verdict = evaluate(result, catalog_for(result))
    report = tmp_path / "report.html"
    report.write_text(html_report(result, verdict, read_series(FIXTURE), ReportLinks(run_dir=str(tmp_path))), "utf-8")
    page = open_page(browser, report, width)
    try:
        assert page.get_by_role("heading", name="FAIL").first.is_visible()
        box = page.locator("section.verdict")
        assert box.get_by_text("42 of 44 endpoints missed an SLO.").is_visible()
        assert box.locator("ol.worst > li").count() == 5
        assert box.get_by_text("Worst-Errors").is_visible()
        height = box.bounding_box()
        assert height is not None and height["height"] < 2.5 * 900  # a summary, not 42 paragraphs
        assert not page.locator("details.thresholds ul").is_visible()  # k6's raw list is folded away
        assert fits(page)
        page.screenshot(path=str(tmp_path / f"load-{width}.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_pipeline_report(browser: Browser, tmp_path: Path, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNA_OUT_DIR", str(tmp_path))
    pipeline = pipeline_folders(tmp_path)
    report = tmp_path / "pipeline.html"
    report.write_text(pipeline_html(pipeline, load_settings()), "utf-8")
    page = open_page(browser, report, width)
    try:
        assert page.get_by_role("heading", name="test-service FAIL").is_visible()
        assert page.get_by_role("link", name="HTML report").is_visible()
        assert page.locator("figure.chart svg[role=img]").count() == 2
        assert page.locator("table.audits").get_by_text("fail: accessibility").is_visible()
        shot = page.get_by_role("img", name="desktop screenshot of the reviewed page")
        assert shot.is_visible() and page.evaluate("(img) => img.naturalWidth", shot.element_handle()) == 64
        assert page.locator("table.findings tbody tr").first.get_by_text("critical").is_visible()
        assert fits(page)
    finally:
        page.close()
