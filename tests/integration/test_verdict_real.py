"""Issue 12 items 1, 7 and 8 with real k6 runs: failed checks fail the verdict (the demo's
GraphQL `errors`, httpbin behind gunicorn), "not exercised" is its own state, and a target
that hangs or a k6 that is killed never reads "no requests were made" or "passed"."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from luna.results import RunResult
from luna.settings import load_settings
from tasks.evaluation.slo import evaluate
from tasks.execution.k6 import run_k6
from tasks.execution.plan import LoadTestParams, prepare_run
from tests.conftest import Demo, Runner, free_port, write_catalog

pytestmark = pytest.mark.integration

GQL = {"group": "gql", "type": "graphql", "path": "/graphql", "checks": {"status": 200, "no_graphql_errors": True}}


def judge(result: RunResult, config: Path, **kw: Any) -> Any:
    from luna.catalog import load_catalog

    return evaluate(result, load_catalog(config), **kw)


def test_graphql_errors_fail_the_verdict_and_name_the_check(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    """Responses that carry GraphQL `errors` used to read "PASS: every SLO held"."""
    endpoints = [{"name": "agents", "query": "{ agents { id } }", **GQL}, {"name": "boom", "query": "{ boom }", **GQL}]
    config = write_catalog(tmp_path / "e.json", endpoints)
    demo.reset()
    result = load_run(demo.url, config, "smoke", smoke_vus=2, smoke_duration="2s")
    by_name = {e.name: e for e in result.endpoints}
    assert by_name["agents"].check_pass_rate == 1.0 and by_name["boom"].check_pass_rate == 0.5
    assert by_name["boom"].checks_failed == by_name["boom"].requests > 0
    assert result.total is not None and result.total.requests == demo.stats()["total"]  # every request reached the demo
    verdict = judge(result, config)
    assert verdict.status == "fail"
    boom = next(e for e in verdict.endpoints if e.name == "boom")
    assert boom.state == "fail" and verdict.endpoints[0].state == "ok"
    assert "boom: checks 50.00% passed (target >= 100.00%)" in verdict.reason
    assert f"'no graphql errors' failed {by_name['boom'].requests} of {by_name['boom'].requests}" in verdict.reason
    assert "agents" not in verdict.reason
    # the same run with the target lowered for that endpoint: the check is what decided
    lowered = write_catalog(
        tmp_path / "lowered.json",
        [endpoints[0], {**endpoints[1], "slos": {"check_pass_rate": 0.5}}],
    )
    assert judge(result, lowered).passed


def test_an_endpoint_with_no_requests_is_not_exercised(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    config = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "health", "group": "g", "path": "/api/health", "checks": {"status": 200}},
            {"name": "rare", "group": "g", "path": "/api/users", "weight": 0.000001},
        ],
    )
    result = load_run(demo.url, config, "smoke", smoke_vus=1, smoke_duration="1s")
    assert [e.requests > 0 for e in result.endpoints] == [True, False]
    verdict = judge(result, config)
    assert verdict.passed and verdict.not_exercised == ["rare"]
    assert [e.state for e in verdict.endpoints] == ["ok", "not_exercised"]
    assert "not exercised: rare (0 requests)" in verdict.reason and "raise their weight" in verdict.reason
    strict = judge(result, config, fail_on_not_exercised=True)
    assert strict.status == "fail" and "not exercised: rare" in strict.reason


@pytest.fixture
def hanging_target() -> Iterator[str]:
    """Accepts connections and reads requests, never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_target_is_not_passed_nor_no_requests(hanging_target: str, tmp_path: Path, load_run: Runner) -> None:
    """k6 waits out its 30 s graceful stop here: the one slow test of this module."""
    config = write_catalog(tmp_path / "e.json", [{"name": "h", "group": "g", "path": "/x"}])
    result = load_run(hanging_target, config, "smoke", smoke_vus=2, smoke_duration="1s")
    assert result.total is not None and result.total.requests == 0
    assert RunResult.read(Path(result.run_dir)).status == "failed"  # summary.json no longer says "passed"
    assert "no request completed" in result.message and "2 iterations interrupted" in result.message
    verdict = judge(result, config)
    assert verdict.status == "fail" and "no requests were made" not in verdict.reason
    assert "the target answered none" in verdict.reason


def test_killed_k6_says_so_with_its_iterations(demo: Demo, tmp_path: Path, clean_env: Path) -> None:
    config = write_catalog(tmp_path / "e.json", [{"name": "H", "group": "g", "path": "/api/health"}])
    settings = load_settings(base_url=demo.url, smoke_vus=1, smoke_duration="60s")
    plan = prepare_run(LoadTestParams(config=str(config)), settings)
    lines: list[str] = []
    box: dict[str, RunResult] = {}
    runner = threading.Thread(
        target=lambda: box.update(
            result=run_k6(plan, settings, on_line=lambda _l, text: lines.append(text), on_progress=lambda f, t: None)
        )
    )
    runner.start()
    deadline = time.monotonic() + 30
    while not any(
        " complete and " in line and not line.endswith(" 0 complete and 0 interrupted iterations") for line in lines
    ):
        assert time.monotonic() < deadline, "k6 reported no iterations"
        time.sleep(0.2)
    k6 = [p for p in psutil.Process().children(recursive=True) if p.name() == "k6"]
    assert len(k6) == 1
    k6[0].kill()  # SIGKILL: k6 writes no summary
    runner.join(timeout=30)
    result = box["result"]
    assert result.status == "aborted" and result.total is None and result.exit_code == 130
    assert result.iterations and result.iterations > 0
    assert result.message == f"k6 was killed by signal 9 after {result.iterations} iterations"
    verdict = judge(result, config)
    assert "no requests were made" not in verdict.reason
    assert "k6 left no end-of-test summary: nothing was measured" in verdict.reason


# ---- httpbin (a real third-party service), request counts from gunicorn's access log ----------


@pytest.fixture(scope="module")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("httpbin") / "access.log"
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", str(log), "httpbin:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/get", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("httpbin did not start")
    yield url, log
    proc.terminate()
    proc.wait(timeout=20)


def served(log: Path, after: int) -> Counter[str]:
    """Requests per path in gunicorn's access log, from line `after` on."""
    paths: Counter[str] = Counter()
    for line in log.read_text().splitlines()[after:]:
        request = line.split('"')[1] if '"' in line else ""
        if request:
            paths[request.split()[1].split("?")[0]] += 1
    return paths


def test_httpbin_failed_checks_and_idle_endpoint(httpbin: tuple[str, Path], tmp_path: Path, load_run: Runner) -> None:
    url, log = httpbin
    config = write_catalog(
        tmp_path / "e.json",
        [
            {"name": "json", "group": "h", "path": "/json", "checks": {"status": 200, "body_path": "slideshow.title"}},
            {"name": "anything", "group": "h", "path": "/anything", "checks": {"status": 200, "body_path": "nope"}},
            {"name": "idle", "group": "h", "path": "/uuid", "weight": 0.000001},
        ],
        service="httpbin",
    )
    before = len(log.read_text().splitlines())
    result = load_run(url, config, "smoke", smoke_vus=2, smoke_duration="2s")
    time.sleep(1)  # gunicorn's workers flush their access log lines
    counts = served(log, before)
    by_name = {e.name: e for e in result.endpoints}
    assert by_name["json"].requests == counts["/json"] > 0
    assert by_name["anything"].requests == counts["/anything"] > 0
    assert by_name["idle"].requests == counts["/uuid"] == 0
    verdict = judge(result, config)
    states = {e.name: e.state for e in verdict.endpoints}
    assert states == {"json": "ok", "anything": "fail", "idle": "not_exercised"}
    assert verdict.status == "fail"
    n = by_name["anything"].requests
    assert f"anything: checks 50.00% passed (target >= 100.00%): 'body has nope' failed {n} of {n}" in verdict.reason
    assert "not exercised: idle (0 requests)" in verdict.reason
    samples = [json.loads(x) for x in (Path(result.run_dir) / "failures.jsonl").read_text().splitlines()]
    assert samples and {s["endpoint"] for s in samples} == {"anything"}
