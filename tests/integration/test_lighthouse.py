"""Lighthouse 12 for real (npm, Debian's Chromium) against the demo app, next to a page
that cannot load; the scores go to a real influxd."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from luna.influx import Influx
from luna.settings import load_settings
from tasks.audit.browser import chromium_path
from tasks.audit.budgets import Budgets
from tasks.audit.lighthouse import audit_page, run_lighthouse
from tasks.audit.model import PageAudit
from tasks.audit.points import MEASUREMENT, write_lighthouse_points
from tests.conftest import Demo, free_port
from tests.fixtures_influx import InfluxServer

pytestmark = pytest.mark.integration


def test_audit_of_the_demo_page_and_of_a_dead_one(demo: Demo, clean_env: Path, shared_influxd: InfluxServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    lines: list[str] = []
    budgets = Budgets(performance=50, lcp_ms=1.0, tbt_ms=None)  # LCP under 1 ms cannot hold
    result = run_lighthouse([f"{demo.url}/", dead], "desktop", load_settings(), budgets, log=lines.append)

    page, failed = result.pages
    assert page.url == f"{demo.url}/" and page.status == "ok" and page.lighthouse_version == "12.8.2"
    assert not any(w.startswith("audit errored") for w in page.warnings)  # no audit errors on Node 20
    assert all(0 <= page.scores[c] <= 100 for c in ("performance", "accessibility", "best_practices", "seo"))  # type: ignore[operator]
    assert page.scores["accessibility"] == 100 and page.scores["seo"] == 100  # the demo's home page is clean
    assert page.metrics["lcp_ms"] and page.metrics["lcp_ms"] > 1 and page.metrics["cls"] is not None
    checks = {b.name: b for b in page.budgets}
    assert not checks["lcp_ms"].passed and checks["lcp_ms"].value == page.metrics["lcp_ms"]
    assert checks["performance"].passed and "tbt_ms" not in checks and checks["inp_ms"].note == "not measured"
    # the reports are kept, and they are Lighthouse's own
    lhr = json.loads(Path(page.report_json or "").read_text())
    assert lhr["requestedUrl"] == f"{demo.url}/" and lhr["configSettings"]["formFactor"] == "desktop"
    html = Path(page.report_html or "").read_text()
    assert "<!doctype html>" in html and "__LIGHTHOUSE_JSON__" in html
    # a page that cannot load is a result with its reason
    assert failed.url == dead and failed.status == "error" and failed.scores == {}
    assert failed.reason.startswith("page did not load: connection refused")
    assert result.status == "error" and not result.passed
    assert len(lines) == 2 and Path(result.run_dir, "lighthouse.json").is_file()
    assert Path(result.run_dir).parent == clean_env / "out" / "lighthouse"

    client = shared_influxd.client()
    assert write_lighthouse_points(client, result) == 1
    rows = client.query(f"SELECT performance, lcp_ms, passed FROM {MEASUREMENT} WHERE run_id='{result.run_id}'")
    columns, values = rows[0]["columns"], rows[0]["values"][0]
    stored = dict(zip(columns, values, strict=True))
    assert stored["performance"] == page.scores["performance"] and stored["lcp_ms"] == page.metrics["lcp_ms"]
    assert stored["passed"] == 0
    # the score-trend panel query of docs/AUDITS.md (InfluxQL, as Grafana sends it)
    trend = client.query(
        f'SELECT mean("performance") FROM "{MEASUREMENT}" WHERE time > now() - 1h GROUP BY time(1m), "url", "preset"'
    )
    assert trend and trend[0]["tags"] == {"url": f"{demo.url}/", "preset": "desktop"}
    assert page.scores["performance"] in [v[1] for v in trend[0]["values"]]
    # every panel of the Lighthouse Grafana dashboard, as Grafana would send it, on these points
    answers = lighthouse_dashboard_answers(client, result.started_at, f"{demo.url}/")
    assert answers["Latest performance score/A"][0]["values"][0][1] == page.scores["performance"]
    table = answers["Latest audits/A"][0]
    row = dict(zip(table["columns"], table["values"][0], strict=True))
    assert row["LCP ms"] == page.metrics["lcp_ms"] and row["budgets held"] == 0 and row["seo"] == 100


LH_DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "luna-lighthouse.json"


def lighthouse_dashboard_answers(client: Influx, since: datetime, url: str) -> dict[str, list[dict[str, Any]]]:
    """Resolve the dashboard's variables (url = this page, preset = All), run every panel's
    InfluxQL against the real influxd, and fail listing each panel that errs or is empty."""
    from tests.integration.test_grafana_dashboard import (
        DS_UID,
        Variable,
        all_panels,
        interpolate,
        metric_find,
        panel_answers,
        regex_variables_escaped,
        time_filter,
        variable_query,
    )

    dashboard = json.loads(LH_DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "luna-lighthouse" and dashboard["schemaVersion"] == 39
    window = time_filter(since - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
    variables: dict[str, Variable] = {}
    for spec in dashboard["templating"]["list"]:
        assert spec["datasource"]["uid"] == DS_UID and regex_variables_escaped(variable_query(spec))
        options = metric_find(client, interpolate(variable_query(spec), variables, window))
        chosen = [url] if spec["name"] == "url" else options
        assert set(chosen) <= set(options), f"${spec['name']}: {chosen} not in {options}"
        variables[spec["name"]] = Variable(spec["name"], chosen, bool(spec.get("multi")))
    for panel in all_panels(dashboard):
        assert panel["datasource"]["uid"] == DS_UID and panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["rawQuery"] and regex_variables_escaped(target["query"]), panel["title"]
    return panel_answers(client, dashboard, variables, window)


def test_a_hung_audit_is_stopped_with_its_chromium(clean_env: Path) -> None:
    # A page that never answers (a socket nobody accepts from), so the audit hangs until its
    # timeout, long enough for Chromium to be up even on a loaded machine.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    url = f"http://127.0.0.1:{hung.getsockname()[1]}/?probe={secrets.token_hex(4)}"  # unique: finds our processes
    settings = load_settings()

    async def scenario() -> tuple[PageAudit, set[int]]:
        task = asyncio.create_task(
            audit_page(url, "desktop", Budgets(), clean_env, chromium_path(settings), timeout_s=15)
        )
        seen: set[int] = set()
        while not task.done():
            for proc in psutil.process_iter(["cmdline"]):
                if url in " ".join(proc.info["cmdline"] or []):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        seen |= {proc.pid, *(c.pid for c in proc.children(recursive=True))}
            await asyncio.sleep(0.2)
        return await task, seen

    with hung:
        page, seen = asyncio.run(scenario())
    assert page.status == "error" and page.reason == "audit timed out after 15 s"
    assert len(seen) >= 3  # Lighthouse, Chromium and Chromium's helpers were running
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
