"""`slos.abort_on_breach`: k6 is stopped as soon as the run as a whole breaches its p95 or
error-rate SLO (after `abort_after_s`), against httpbin behind gunicorn (a real third-party
service) whose access log counts what it was sent. Without the option a breaching run goes
to its end, as before."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from luna.catalog import load_catalog
from tasks.evaluation.slo import evaluate
from tests.conftest import Runner, write_catalog
from tests.integration.test_verdict_real import httpbin, served

pytestmark = pytest.mark.integration
__all__ = ["httpbin"]  # the module-scoped fixture, shared with test_verdict_real

PLANNED_S = 60


def catalog(tmp_path: Path, endpoints: list[dict[str, Any]], **slos: Any) -> Path:
    return write_catalog(tmp_path / "e.json", endpoints, service="httpbin", slos={"p95_ms": 1000, **slos})


def run(load_run: Runner, url: str, log: Path, config: Path, duration_s: int) -> tuple[Any, Any]:
    before = len(log.read_text().splitlines())
    lines: list[str] = []
    result = load_run(url, config, "smoke", lines=lines, smoke_vus=2, smoke_duration=f"{duration_s}s")
    time.sleep(1)  # gunicorn's workers flush their access log lines
    return result, served(log, before)


def test_an_error_rate_breach_stops_k6_and_fails_the_run(
    httpbin: tuple[str, Path], tmp_path: Path, load_run: Runner
) -> None:
    url, log = httpbin
    endpoints = [
        {"name": "ok", "group": "h", "path": "/get", "checks": {"status": 200}},
        {"name": "down", "group": "h", "path": "/status/503", "checks": {"status": 200}},
    ]
    config = catalog(tmp_path, endpoints, error_rate=0.01, abort_on_breach=True, abort_after_s=2)
    result, counts = run(load_run, url, log, config, PLANNED_S)
    assert result.status == "failed", result.message
    assert result.message.startswith("stopped at ")
    assert "by slos.abort_on_breach: luna_call_failed rate<=0.01" in result.message
    assert result.duration_s is not None and 2 <= result.duration_s < PLANNED_S / 2
    by_name = {e.name: e for e in result.endpoints}
    # what Luna judged is what httpbin answered; calls cut off by the stop are not counted
    assert 0 < by_name["ok"].requests <= counts["/get"]
    assert 0 < by_name["down"].requests <= counts["/status/503"]
    assert by_name["down"].failed_requests == by_name["down"].requests
    # a VU's calls since its last measure line (at most ~1 s of them) are cut off by the stop
    assert result.total is not None and sum(counts.values()) / 2 < result.total.requests <= sum(counts.values())
    verdict = evaluate(result, load_catalog(config))
    assert verdict.status == "fail" and "down: error rate 100.00%" in verdict.reason
    assert result.stopped_early == result.message and verdict.reason.startswith(result.message)


def test_a_p95_breach_stops_k6(httpbin: tuple[str, Path], tmp_path: Path, load_run: Runner) -> None:
    url, log = httpbin
    endpoints = [{"name": "slow", "group": "h", "path": "/delay/0.3", "checks": {"status": 200}}]
    config = catalog(tmp_path, endpoints, p95_ms=100, error_rate=0.5, abort_on_breach=True, abort_after_s=1)
    result, counts = run(load_run, url, log, config, PLANNED_S)
    assert result.status == "failed", result.message
    assert "luna_call_duration p(95)<100" in result.message and "p95 3" in result.message
    assert "luna_call_failed" not in result.message
    assert result.duration_s is not None and result.duration_s < PLANNED_S / 2
    assert 0 < result.endpoints[0].requests <= counts["/delay/0.3"]


def test_without_the_option_a_breaching_run_goes_to_its_end(
    httpbin: tuple[str, Path], tmp_path: Path, load_run: Runner
) -> None:
    url, log = httpbin
    endpoints = [{"name": "down", "group": "h", "path": "/status/503", "checks": {"status": 200}}]
    config = catalog(tmp_path, endpoints, error_rate=0.01, abort_after_s=0)
    result, counts = run(load_run, url, log, config, 4)
    assert result.status == "failed" and result.message.startswith("thresholds crossed"), result.message
    assert result.duration_s is not None and result.duration_s >= 4
    assert result.endpoints[0].requests == counts["/status/503"] > 0  # to its end: every call counted
    assert result.stopped_early is None
