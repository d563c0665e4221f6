"""The `generate` and `run_suite` flows under Prefect's test harness (states, results,
artifacts), and `luna gen-tests` / `gen-list` / `run-tests` as a user runs them against
a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from luna.keys import artifact_key
from tests.conftest import ROOT, Demo, artifacts, start_demo

pytestmark = pytest.mark.e2e
LUNA = str(Path(sys.executable).with_name("luna"))


@pytest.fixture(scope="module")
def demo0() -> Iterator[Demo]:
    """A demo API of our own whose /api/flaky never fails (deterministic outcomes)."""
    server = start_demo("--error-rate", "0")
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def test_generate_then_run_suite_flows(harness: None, demo0: Demo, tmp_path: Path, clean_env: Path) -> None:
    from flows.generate import generate
    from flows.run_suite import RunSuiteParams, run_suite
    from tasks.generation.results import SuiteFailed, SuiteRun
    from tasks.generation.suites import GenerateParams

    suites = tmp_path / "suites"
    made = generate(GenerateParams(url=demo0.url, out_dir=str(suites), kinds=["api", "k6"]))
    assert made.manifest is not None
    assert made.manifest.slug == "luna-demo-api" and made.manifest.kinds == ["api", "k6"]
    assert Path(made.suite_dir, "api", "test_api_users.py").is_file()
    generated = artifacts(artifact_key("luna-suite", made.manifest.service, "generated"))
    assert generated and "luna\\-demo\\-api" in str(generated[0].data)

    params = RunSuiteParams(name="luna-demo-api", suites_dir=str(suites), out_dir=str(tmp_path / "run"))
    state = run_suite(params, return_state=True)
    assert state.is_failed() and "FAILED: luna-demo-api" in (state.message or "")
    error = state.result(raise_on_failure=False)
    assert isinstance(error, SuiteFailed) and error.exit_code == 1
    failed = {c.test.split("::")[-1] for c in error.run.cases if c.outcome == "failed"}
    assert failed == {"test_get_always500", "test_issue_token", "test_query_boom", "test_get_secure"}
    table = artifacts(artifact_key("luna-tests", made.manifest.service, "api"))
    assert table and table[0].type == "table"
    rows = str(table[0].data)
    assert "test_api_chaos::test_get_always500" in rows and "HTTP 500, expected 200" in rows
    summary = artifacts(artifact_key("luna-tests", made.manifest.service, "api") + "-summary")
    assert summary and "## Failures" in str(summary[0].data)

    # The same failures, but the run completes when asked to (failing tests are a result).
    done = run_suite(params.model_copy(update={"on_failure": "complete"}), return_state=True)
    assert done.is_completed()
    result = done.result()
    assert isinstance(result, SuiteRun) and not result.passed and result.count("failed") == 4


def luna(*args: str, api: str | None, out: Path, extra_env: dict[str, str] | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_API"))}
    env.update({"LUNA_OUT_DIR": str(out), "LUNA_PREFECT_PORT": "1"}, **(extra_env or {}))
    if api:
        env["PREFECT_API_URL"] = api
    return subprocess.run([LUNA, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_generates_lists_and_runs_suites(prefect_server: str, demo0: Demo, tmp_path: Path) -> None:
    suites = str(tmp_path / "suites")
    out = tmp_path / "out"
    done = luna("gen-tests", "--url", demo0.url, "--suites-dir", suites, "--kind", "api", api=None, out=out)
    assert done.returncode == 0, done.stderr
    assert "suite luna-demo-api:" in done.stdout and "run it: luna run-tests luna-demo-api" in done.stdout
    curated = luna(
        "gen-tests",
        "--config",
        "k6/config/endpoints.json",
        "--spec",
        f"{demo0.url}/openapi.json",
        "--target",
        demo0.url,
        "--service",
        "demo curated",
        "--suites-dir",
        suites,
        api=None,
        out=out,
    )
    assert curated.returncode == 0, curated.stderr

    listed = luna("gen-list", "--suites-dir", suites, api=None, out=out)
    assert listed.returncode == 0
    assert (
        "luna-demo-api" in listed.stdout and demo0.url in listed.stdout and "k6/config/endpoints.json" in listed.stdout
    )

    failing = luna("run-tests", "luna-demo-api", "--suites-dir", suites, api=prefect_server, out=out)
    assert failing.returncode == 1, failing.stderr
    assert "test_get_always500" in failing.stdout and "FAILED: luna-demo-api" in failing.stdout
    assert f"results: {out}" in failing.stdout

    # Exit 0 when everything passes (--no-prefect: the same code without a flow run).
    passing = luna("run-tests", "demo-curated", "--suites-dir", suites, "--no-prefect", api=None, out=out)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "PASSED: demo-curated (6 passed)" in passing.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["gen-tests"], "give a live URL, an endpoints file or a spec"),
        (["gen-tests", "--url", "ftp://x"], "is not a usable http(s) URL"),
        (["gen-tests", "--config", "nope.json"], "nope.json does not exist"),
        (["run-tests", "nosuch"], "no suite 'nosuch'"),
        (["gen-tests", "--url", "http://127.0.0.1:9"], "no API description found at http://127.0.0.1:9"),
    ],
)
def test_bad_input_is_one_line_exit_2_without_prefect(tmp_path: Path, args: list[str], expected: str) -> None:
    started = time.monotonic()
    done = luna(*args, "--suites-dir", str(tmp_path / "suites"), api=None, out=tmp_path / "out")
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("luna: ") and expected in lines[0], lines
    assert "Traceback" not in done.stderr + done.stdout
    assert time.monotonic() - started < 15
