"""Lighthouse audit logic: report parsing, budgets judged like SLOs, points, reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from luna.errors import ConfigError
from tasks.audit.budgets import Budgets, evaluate
from tasks.audit.lighthouse import check_url, command, parse_report, presets_for
from tasks.audit.model import LighthouseResult, PageAudit
from tasks.audit.points import lighthouse_points
from tasks.audit.report import markdown_report, page_rows

pytestmark = pytest.mark.unit


def lhr(**over: Any) -> dict[str, Any]:
    """A Lighthouse 12 report (LHR) with the fields Luna reads."""
    data: dict[str, Any] = {
        "lighthouseVersion": "12.8.2",
        "runWarnings": [],
        "categories": {
            "performance": {"score": 0.87},
            "accessibility": {"score": 1},
            "best-practices": {"score": 0.96},
            "seo": {"score": None},
        },
        "audits": {
            "largest-contentful-paint": {"numericValue": 2612.34, "scoreDisplayMode": "numeric"},
            "cumulative-layout-shift": {"numericValue": 0.01234, "scoreDisplayMode": "numeric"},
            "total-blocking-time": {"numericValue": 150.0, "scoreDisplayMode": "numeric"},
            "first-contentful-paint": {"numericValue": 900.0, "scoreDisplayMode": "numeric"},
            "font-size": {"scoreDisplayMode": "error", "errorMessage": "boom"},
        },
    }
    data.update(over)
    return data


def test_report_scores_become_0_to_100_and_metrics_keep_units() -> None:
    page = parse_report(lhr(), "http://127.0.0.1/", "mobile")
    assert page.status == "ok" and page.preset == "mobile"
    assert page.scores == {"performance": 87.0, "accessibility": 100.0, "best_practices": 96.0, "seo": None}
    assert page.metrics["lcp_ms"] == 2612.3 and page.metrics["cls"] == 0.0123 and page.metrics["tbt_ms"] == 150.0
    assert page.metrics["inp_ms"] is None  # a navigation audit has no interaction
    assert page.warnings == ["audit errored: font-size: boom"]


def test_runtime_error_is_a_result_with_the_reason() -> None:
    page = parse_report(
        lhr(runtimeError={"code": "ERRORED_DOCUMENT_REQUEST", "message": "Status code: 404"}), "http://x/", "desktop"
    )
    assert page.status == "error" and not page.passed
    assert page.reason == "ERRORED_DOCUMENT_REQUEST: Status code: 404" and page.scores == {}


def test_budgets_judge_scores_as_minimums_and_metrics_as_maximums() -> None:
    page = parse_report(lhr(), "http://127.0.0.1/", "desktop")
    checks = {c.name: c for c in evaluate(page, Budgets(performance=87, lcp_ms=2500, cls=0.0123, tbt_ms=149.9))}
    assert checks["performance"].passed and checks["performance"].value == 87.0  # boundary holds
    assert not checks["lcp_ms"].passed and checks["lcp_ms"].value == 2612.3 and checks["lcp_ms"].op == "<="
    assert checks["cls"].passed  # boundary holds
    assert not checks["tbt_ms"].passed
    # not measured is neither a pass nor a failure of the page (issue 17: it used to read "pass")
    assert not checks["seo"].passed and checks["seo"].state == "not_measured" and checks["seo"].value is None
    assert not checks["inp_ms"].passed and checks["inp_ms"].note == "not measured"
    page.budgets = [checks["seo"], checks["inp_ms"], checks["performance"]]
    assert page.passed and page.failed_budgets == [] and len(page.unmeasured_budgets) == 2
    assert "fcp_ms" not in checks  # off by default
    page.budgets = list(checks.values())
    assert not page.passed and {b.name for b in page.failed_budgets} == {"lcp_ms", "tbt_ms"}


def test_null_switches_a_budget_off() -> None:
    page = parse_report(lhr(), "http://127.0.0.1/", "desktop")
    names = {c.name for c in evaluate(page, Budgets.parse({"lcp_ms": None, "performance": None}))}
    assert "lcp_ms" not in names and "performance" not in names and "accessibility" in names


def test_budget_errors_name_the_key_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        Budgets.parse({"lcp_msec": 10}, where="b.json")
    assert "unknown budget 'lcp_msec'" in err.value.one_line() and "did you mean 'lcp_ms'" in err.value.one_line()
    with pytest.raises(ConfigError) as err:
        Budgets.parse({"performance": 120})
    assert "budget performance" in err.value.one_line() and "120" in err.value.one_line()
    bad = tmp_path / "b.json"
    bad.write_text('{"seo": 90,\n oops}')
    with pytest.raises(ConfigError) as err:
        Budgets.from_file(bad)
    assert err.value.location == f"{bad}:2"
    with pytest.raises(ConfigError, match="not found"):
        Budgets.from_file(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"performance": 50, "cls": 0.25}))
    assert Budgets.from_file(good).cls == 0.25


def test_url_and_preset_checks() -> None:
    assert check_url("http://127.0.0.1:8787/a") == "http://127.0.0.1:8787/a"
    for bad in ("ftp://x", "127.0.0.1:8787", "http://"):
        with pytest.raises(ConfigError):
            check_url(bad)
    assert presets_for("both") == ["desktop", "mobile"]
    with pytest.raises(ConfigError, match="unknown preset"):
        presets_for("tablet")


def test_command_uses_the_desktop_preset_only_for_desktop(tmp_path: Path) -> None:
    desktop = command("http://127.0.0.1/", "desktop", tmp_path / "r")
    mobile = command("http://127.0.0.1/", "mobile", tmp_path / "r")
    assert "--preset=desktop" in desktop and not any(a.startswith("--preset") for a in mobile)
    assert {"--output=json", "--output=html"} <= set(mobile)
    flags = next(a for a in mobile if a.startswith("--chrome-flags="))
    assert "--headless=new" in flags and "NetworkTimeServiceQuerying" in flags


def result_with(pages: list[PageAudit]) -> LighthouseResult:
    when = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    return LighthouseResult(run_id="r1", run_dir="/tmp/r1", started_at=when, finished_at=when, pages=pages)


def test_result_status_and_reason() -> None:
    ok = parse_report(lhr(), "http://a/", "desktop")
    ok.budgets = evaluate(ok, Budgets(performance=50, lcp_ms=None, seo=None))
    failing = parse_report(lhr(), "http://b/", "desktop")
    failing.budgets = evaluate(failing, Budgets())
    broken = PageAudit(url="http://c/", preset="desktop", status="error", reason="page did not load: HTTP 404")
    assert result_with([ok]).status == "pass" and result_with([ok]).passed
    assert result_with([ok, failing]).status == "fail"
    assert "crossed budgets: lcp_ms, performance" in result_with([ok, failing]).reason
    mixed = result_with([ok, broken])
    assert mixed.status == "error" and not mixed.passed and "HTTP 404" in mixed.reason
    assert not result_with([]).passed


def test_points_one_per_audited_page_with_escaped_tags() -> None:
    ok = parse_report(lhr(), "http://127.0.0.1/a b,c", "mobile")
    ok.budgets = evaluate(ok, Budgets())
    broken = PageAudit(url="http://c/", preset="desktop", status="error", reason="x")
    lines = lighthouse_points(result_with([ok, broken]))
    assert len(lines) == 1
    assert lines[0].startswith("luna_lighthouse,preset=mobile,run_id=r1,status=ok,url=http://127.0.0.1/a\\ b\\,c ")
    assert "performance=87.0" in lines[0] and "lcp_ms=2612.3" in lines[0] and "passed=0i" in lines[0]
    assert "seo=" not in lines[0] and "inp_ms" not in lines[0]  # unmeasured values are left out
    assert lines[0].endswith(str(int(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp() * 1e9)))


def test_markdown_and_rows_show_each_page_and_escape_user_text() -> None:
    ok = parse_report(lhr(), "http://127.0.0.1/|<b>", "desktop")
    ok.budgets = evaluate(ok, Budgets())
    broken = PageAudit(url="http://c/", preset="mobile", status="error", reason="page did not load: HTTP 404")
    result = result_with([ok, broken])
    rows = page_rows(result)
    assert rows[0]["Perf"] == "87" and rows[0]["LCP ms"] == "2612" and rows[0]["INP ms"] == "–"
    assert (
        rows[0]["verdict"] == "fail: performance, lcp_ms (seo, inp_ms not measured)" and rows[1]["verdict"] == "error"
    )
    text = markdown_report(result)
    assert "\\|" in text and "<b>" not in text  # a pipe cannot break the table, no raw HTML
    assert "**FAIL**" in text and "Could not audit: page did not load\\: HTTP 404" in text


def test_run_sync_works_inside_and_outside_an_event_loop() -> None:
    import asyncio

    from tasks.audit.browser import run_sync

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def from_async_code() -> int:
        return run_sync(answer())  # e.g. run_visual_qa called from an async flow

    assert run_sync(answer()) == 42
    assert asyncio.run(from_async_code()) == 42


def test_chromium_setting_and_run_folders(tmp_path: Path) -> None:
    from luna.errors import ToolMissingError
    from luna.settings import load_settings
    from tasks.audit.browser import chromium_path, new_run_dir

    with pytest.raises(ToolMissingError, match="LUNA_CHROMIUM=/nope/chromium does not exist"):
        chromium_path(load_settings(luna_chromium="/nope/chromium"))
    fake = tmp_path / "chrome"
    fake.write_text("")
    assert chromium_path(load_settings(luna_chromium=str(fake))) == str(fake)
    made = new_run_dir(tmp_path, "vqa")
    assert made.parent == tmp_path / "vqa" and made.is_dir() and "-vqa-" in made.name
    assert new_run_dir(tmp_path, "lighthouse", "mine").name == "mine"
    for bad in ("../up", "a/b", ".."):
        with pytest.raises(ValueError, match="invalid run id"):
            new_run_dir(tmp_path, "vqa", bad)
