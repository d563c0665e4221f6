"""Auth modes against the demo API's protected endpoint and token server, and every
fault of the issue: each ends in a one-line message and a run folder that says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from luna.errors import DataFileError, EndpointsFileError, TargetError
from luna.results import RunResult
from tests.conftest import ROOT, Demo, Runner, free_port, start_demo, write_catalog

pytestmark = pytest.mark.integration

SECURE = [{"name": "Secure", "group": "auth", "path": "/api/secure", "checks": {"status": 200}}]


@pytest.fixture(scope="module")
def short_token_demo() -> Iterator[Demo]:
    """A demo API whose tokens live 2 s, so a 5 s run must refresh them."""
    server = start_demo("--token-ttl", "2")
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.mark.parametrize(
    "env",
    [
        {"AUTH_TOKEN": "demo-token"},
        {"AUTH_BASIC_USER": "demo", "AUTH_BASIC_PASS": "demo-pass"},
        {"AUTH_API_KEY": "demo-key", "AUTH_API_KEY_HEADER": "X-API-Key"},
    ],
    ids=["bearer", "basic", "api_key"],
)
def test_static_auth_modes(
    demo: Demo, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = load_run(demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", smoke_duration="1s")
    assert result.status == "passed", result.message
    assert result.endpoints[0].check_pass_rate == 1.0 and result.endpoints[0].requests > 0


def test_wrong_static_token_is_visible_in_failures_but_never_leaks(
    demo: Demo, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "wrong-secret-token-123")
    result = load_run(demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", smoke_duration="1s")
    assert result.status == "failed"
    run_dir = Path(result.run_dir)
    samples = [json.loads(s) for s in (run_dir / "failures.jsonl").read_text().splitlines()]
    assert samples and samples[0]["status"] == 401
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert "wrong-secret-token-123" not in path.read_text(errors="replace"), path


def test_keycloak_client_credentials_refresh_before_expiry(
    short_token_demo: Demo, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "AUTH_HOST": short_token_demo.url,
        "AUTH_REALM": "luna",
        "AUTH_CLIENT_ID": "luna",
        "AUTH_CLIENT_SECRET": "luna-secret",
    }.items():
        monkeypatch.setenv(key, value)
    short_token_demo.reset()
    result = load_run(
        short_token_demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", smoke_vus=2, smoke_duration="5s"
    )
    assert result.status == "passed", result.message
    assert result.endpoints[0].check_pass_rate == 1.0
    # setup() fetched one token; each of the 2 VUs refreshed its 2 s token at least once.
    assert short_token_demo.stats()["tokens_issued"] >= 3


def test_failing_token_endpoint_aborts_with_the_reason(
    demo: Demo, tmp_path: Path, load_run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "AUTH_HOST": demo.url,
        "AUTH_REALM": "luna",
        "AUTH_CLIENT_ID": "luna",
        "AUTH_CLIENT_SECRET": "not-the-secret",
    }.items():
        monkeypatch.setenv(key, value)
    result = load_run(demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", smoke_duration="2s")
    assert result.status == "error" and result.exit_code == 2
    assert result.k6_exit_code == 108
    assert "token endpoint" in result.message and "401" in result.message
    assert "not-the-secret" not in (Path(result.run_dir) / "k6.log").read_text()
    assert RunResult.read(Path(result.run_dir)).status == "error"


def test_invalid_endpoints_file(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"service": "x", "endpoints": [{"name": "A", "group": "g", "path": "/a", "chekcs": {}}]}')
    with pytest.raises(EndpointsFileError) as info:
        load_run(demo.url, bad, "smoke")
    assert "did you mean 'checks'" in info.value.one_line() and "#/endpoints/0/chekcs" in info.value.one_line()
    runs = list((tmp_path / "out" / "runs").iterdir())
    assert RunResult.read(runs[0]).status == "error"


def test_missing_data_file(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(
        tmp_path / "e.json", [{"name": "A", "group": "g", "path": "/api/users/{{data.id}}", "data_file": "nope.csv"}]
    )
    with pytest.raises(DataFileError) as info:
        load_run(demo.url, catalog, "smoke")
    assert "nope.csv does not exist" in info.value.one_line()


def test_unreachable_target(tmp_path: Path, load_run: Runner) -> None:
    port = free_port()  # bound and released: nothing listens there
    with pytest.raises(TargetError) as info:
        load_run(f"http://127.0.0.1:{port}", write_catalog(tmp_path / "e.json", SECURE), "smoke")
    assert f"127.0.0.1:{port}" in info.value.one_line() and "refused" in info.value.one_line().lower()
    run = next((tmp_path / "out" / "runs").iterdir())
    assert "target unreachable" in RunResult.read(run).message


def test_k6_script_error(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    script = tmp_path / "broken.js"
    script.write_text("export default function () { this is not javascript }\n")
    from luna.errors import K6RunError

    with pytest.raises(K6RunError) as info:
        load_run(demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", luna_k6_script=str(script))
    assert "k6 cannot load the script" in info.value.one_line()
    assert "SyntaxError" in info.value.one_line() or "Unexpected" in info.value.one_line()


def test_script_exception_in_setup_is_an_error_result(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    script = tmp_path / "throws.js"
    script.write_text(
        "export function setup() { throw new Error('kaboom in setup'); }\nexport default function () {}\n"
    )
    result = load_run(demo.url, write_catalog(tmp_path / "e.json", SECURE), "smoke", luna_k6_script=str(script))
    assert result.status == "error" and result.k6_exit_code == 107
    assert "kaboom in setup" in result.message


def _k6_children(pid: int) -> list[psutil.Process]:
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:  # a child may end (or still be between fork and exec) while we look
            if child.name() == "k6":
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _start_long_run(demo: Demo, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    catalog = write_catalog(tmp_path / "e.json", SECURE[:0] + [{"name": "H", "group": "g", "path": "/api/health"}])
    code = (
        "import sys\n"
        "from luna.settings import load_settings\n"
        "from tasks.execution.plan import LoadTestParams, prepare_run\n"
        "from tasks.execution.k6 import run_k6\n"
        f"s = load_settings(base_url={demo.url!r}, smoke_duration='60s', luna_out_dir={str(tmp_path / 'out')!r})\n"
        f"plan = prepare_run(LoadTestParams(config={str(catalog)!r}), s)\n"
        "print(plan.run_dir, flush=True)\n"
        "run_k6(plan, s, on_line=lambda l, t: None, on_progress=lambda f, t: None)\n"
    )
    with (tmp_path / "runner.stderr").open("w", encoding="utf-8") as stderr:  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AUTH_")},
        )
    assert proc.stdout is not None
    run_dir = proc.stdout.readline().strip()
    # Generous: on a shared 2-core machine under the whole suite, starting k6 can take long.
    deadline = time.monotonic() + 90
    while not _k6_children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    k6 = _k6_children(proc.pid)
    if not k6:
        proc.kill()
        proc.wait(timeout=10)
        k6_log = Path(run_dir, "k6.log") if run_dir else None
        detail = k6_log.read_text(encoding="utf-8")[-2000:] if k6_log and k6_log.is_file() else "(no k6.log)"
        pytest.fail(
            f"k6 did not start (runner exit {proc.returncode}, run dir {run_dir!r})\n"
            f"runner stderr: {(tmp_path / 'runner.stderr').read_text(encoding='utf-8')[-2000:]}\nk6.log: {detail}"
        )
    time.sleep(2)
    return proc, k6[0].pid


def test_ctrl_c_stops_k6_and_keeps_partial_results(demo: Demo, tmp_path: Path, clean_env: Path) -> None:
    proc, k6_pid = _start_long_run(demo, tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert not psutil.pid_exists(k6_pid) or psutil.Process(k6_pid).status() == psutil.STATUS_ZOMBIE
    run = next((tmp_path / "out" / "runs").iterdir())
    result = RunResult.read(run)
    assert result.status == "aborted"
    assert result.total is not None and result.total.requests > 0  # k6 wrote its summary on the way out


def test_killed_parent_takes_k6_with_it(demo: Demo, tmp_path: Path, clean_env: Path) -> None:
    proc, k6_pid = _start_long_run(demo, tmp_path)
    proc.kill()  # no finally runs: the kernel's parent-death signal must end k6
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(k6_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(k6_pid)
