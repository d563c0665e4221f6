"""Issue 12 items 8 and 9 as a user meets them in the terminal: a used run id is refused, an
interrupted run exits 130 and `luna diff` says what it is, the verdict is printed once, and
history is kept per exact service name."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from luna.results import RunResult
from tests.conftest import ROOT, Demo, write_catalog
from tests.e2e.test_cli import LUNA, luna

pytestmark = pytest.mark.e2e


def smoke(config: Path, demo: Demo, api: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return luna(
        "smoke", "--target", demo.url, "--config", str(config), "--smoke-duration", "1s", *extra, api=api, out=out
    )


def test_run_id_reuse_is_refused_and_the_verdict_printed_once(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    # A service name of its own: the Prefect server is shared by the session, and this test
    # checks the first run of a service finds no baseline.
    config = write_catalog(
        tmp_path / "e.json", [{"name": "H", "group": "g", "path": "/api/health"}], service="run-id reuse"
    )
    out = tmp_path / "out"
    first = smoke(config, demo, prefect_server, out, "--run-id", "nightly-42")
    assert first.returncode == 0, first.stderr[-2000:]
    both = first.stdout + first.stderr
    assert both.count("every SLO held") == 2  # the CLI's PASS line and Prefect's final flow state, no log copy
    assert first.stdout.count("PASS: every SLO held") == 1 and "verdict PASS" not in both
    assert both.count("no earlier comparable run of this service") == 1
    run_dir = out / "runs" / "nightly-42"
    kept = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}

    again = smoke(config, demo, prefect_server, out, "--run-id", "nightly-42")
    assert again.returncode == 2
    line = again.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, again.stderr
    assert "run id 'nightly-42' is already used by the run in" in line and "Tip: pick another --run-id" in line
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == kept  # nothing lost or mixed


def test_interrupted_run_exits_130_and_diff_says_what_it_is(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    config = write_catalog(tmp_path / "e.json", [{"name": "H", "group": "g", "path": "/api/health"}])
    out = tmp_path / "out"
    done = smoke(config, demo, prefect_server, out, "--run-id", "finished-1")
    assert done.returncode == 0, done.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API"))}
    env.update({"LUNA_OUT_DIR": str(out), "LUNA_PREFECT_PORT": "1", "PREFECT_API_URL": prefect_server})
    args = ["smoke", "--target", demo.url, "--config", str(config), "--smoke-duration", "60s", "--run-id", "cut-1"]
    proc = subprocess.Popen([LUNA, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while (
        not [  # the load run's k6, not the pre-checks' `k6 version` / `k6 inspect`
            p
            for p in psutil.Process(proc.pid).children(recursive=True)
            if p.name() == "k6" and "run" in p.cmdline()[1:2]
        ]
    ):
        assert time.monotonic() < deadline and proc.poll() is None, "k6 did not start"
        time.sleep(0.3)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert RunResult.read(out / "runs" / "cut-1").status == "aborted"

    compared = luna("diff", "finished-1", "cut-1", api=prefect_server, out=out)
    assert compared.returncode == 2
    assert "not found" not in compared.stderr
    assert "run cut-1 ended aborted with no verdict (run interrupted" in compared.stderr
    assert len(compared.stderr.strip().splitlines()) == 1


def test_history_is_per_exact_service_name(prefect_server: str, demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runs: dict[str, str] = {}
    for service in ("httpbin", "httpbin-zero", "Сервис Оплаты", "決済サービス"):
        config = write_catalog(
            tmp_path / f"{len(runs)}.json", [{"name": "H", "group": "g", "path": "/api/health"}], service=service
        )
        done = smoke(config, demo, prefect_server, out)
        assert done.returncode == 0, done.stderr[-2000:]
        # each service's first run: no baseline borrowed from another name
        assert "no earlier comparable run of this service" in done.stdout, (service, done.stdout)
        runs[service] = Path(done.stdout.split("results: ")[1].split()[0]).name
    listed = luna("history", "httpbin", api=prefect_server, out=out)
    assert listed.returncode == 0, listed.stderr
    assert runs["httpbin"] in listed.stdout and runs["httpbin-zero"] not in listed.stdout
    cyrillic = luna("history", "Сервис Оплаты", api=prefect_server, out=out)
    assert runs["Сервис Оплаты"] in cyrillic.stdout and runs["決済サービス"] not in cyrillic.stdout
    nobody = luna("history", "httpbi", api=prefect_server, out=out)
    assert "no runs recorded for service 'httpbi'" in nobody.stdout


def test_test_service_load_stage_fails_on_failed_checks(
    harness: None, demo: Demo, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load stage used to pass while the generated API suite failed on the same `errors`."""
    from luna import LunaClient

    monkeypatch.setenv("SMOKE_DURATION", "2s")
    gql = {"group": "gql", "type": "graphql", "path": "/graphql", "checks": {"status": 200, "no_graphql_errors": True}}
    config = write_catalog(
        clean_env / "gql.json",
        [{"name": "agents", "query": "{ agents { id } }", **gql}, {"name": "boom", "query": "{ boom }", **gql}],
        service="GraphQL Errors",
    )
    off = {"discover": False, "generate": False, "lighthouse": False, "visual_qa": False, "notify": False}
    result = LunaClient().test_service(demo.url, config=str(config), **off)
    load = next(s for s in result.stages if s.name == "load")
    assert load.status == "failed" and not result.passed
    # the stage line names the worst endpoints (tasks/reporting/summary.py) with the failing check
    assert "Worst: boom: Checks passed 50.00%, target ≥ 100.00%" in load.reason
    assert "'no graphql errors' failed" in load.reason
    assert [f.endpoint for f in result.slo_failures] == ["boom"]
    assert result.verdict is not None and "'no graphql errors' failed" in result.verdict.reason
