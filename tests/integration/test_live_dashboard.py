"""k6's live web dashboard through Luna's proxy: the URL answers during a real run, an open
event stream (a forgotten browser tab) does not keep k6 alive, and the URL is gone after."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from luna.results import RunResult
from luna.settings import load_settings
from tasks.execution.k6 import run_k6
from tasks.execution.live import live_dashboard
from tasks.execution.plan import LoadTestParams, prepare_run
from tests.conftest import Demo, write_catalog

pytestmark = pytest.mark.integration


def test_dashboard_answers_during_the_run_and_is_gone_after(demo: Demo, clean_env: Path) -> None:
    catalog = write_catalog(clean_env / "e.json", [{"name": "Users", "group": "u", "path": "/api/users"}])
    settings = load_settings(base_url=demo.url, smoke_duration="6s", luna_k6_dashboard=True)
    plan = prepare_run(LoadTestParams(profile="smoke", config=str(catalog)), settings)
    done: list[RunResult] = []
    events: list[str] = []
    with live_dashboard(settings) as live:
        assert live is not None and live.url.startswith("http://127.0.0.1:")
        runner = threading.Thread(
            target=lambda: done.append(run_k6(plan, settings, lambda *_: None, lambda *_: None, live.k6_env))
        )
        runner.start()
        page = None
        for _ in range(100):  # bounded: about 20 s for k6 to start serving
            page = httpx.get(live.url, follow_redirects=True, timeout=5)
            if page.status_code == 200:
                break
            time.sleep(0.2)
        assert page is not None and page.status_code == 200 and "<html" in page.text.lower()

        def tab() -> None:  # a browser tab left open on the dashboard
            with httpx.stream("GET", live.url + "events", timeout=httpx.Timeout(10, read=60)) as stream:
                events.extend(line for line in stream.iter_lines() if line.startswith("event:"))

        reader = threading.Thread(target=tab)
        reader.start()
        runner.join(timeout=90)
        assert not runner.is_alive(), "k6 did not exit while a dashboard stream was open"
        reader.join(timeout=10)
        assert not reader.is_alive() and "event: stop" in events and "event: snapshot" in events
        after = httpx.get(live.url + "events", timeout=5)
        assert after.status_code == 204  # the run has ended: no new stream
    with pytest.raises(httpx.ConnectError):
        httpx.get(live.url, timeout=5)
    result = done[0]
    assert result.status == "passed" and result.total is not None and result.total.requests > 0
    assert (Path(result.run_dir) / "k6-report.html").stat().st_size > 10_000  # the export stays


def test_off_means_no_listener(clean_env: Path) -> None:
    with live_dashboard(load_settings(luna_k6_dashboard=True, luna_live_dashboard=False)) as live:
        assert live is None
    with live_dashboard(load_settings()) as live:  # k6's dashboard is off by default
        assert live is None
