"""`luna up` and `luna down`: start Luna's server process, and stop exactly that one.

The process and its ports are recorded in `<PREFECT_HOME>/luna-up.json` (luna/served.py).
`luna down` stops the recorded process group and nothing else: a Prefect server that
something else started under the same Prefect home keeps running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from luna.errors import LunaError
from luna.served import UpState, pid_alive, read_state, state_path, write_state

START_TIMEOUT_S = 180.0  # a fresh database on a loaded 2-core machine took 56 s
STOP_TIMEOUT_S = 20.0
LOG_LINES = 6


@dataclass(frozen=True)
class Outcome:
    message: str
    state: UpState | None = None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _prefect_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _busy(port: int, what: str, setting: str) -> LunaError:
    who = "a Prefect server that `luna up` did not start" if _prefect_answers(port) else "another process"
    return LunaError(
        f"port {port} for the {what} is in use by {who}",
        tip=f"stop it, or pick another port with {setting}=...",
    )


def _tail(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line and not set(line) <= set("─━-=|╭╮╰╯│ ")]
    return " / ".join(lines[-LOG_LINES:])


def up(prefect_port: int, reports_port: int, out_dir: Path) -> Outcome:
    """Start Luna's server process and wait until the Prefect API answers; raise with the
    reason (the process's own last lines) if it does not."""
    running = read_state()
    if running is not None:
        if running.prefect_port != prefect_port or running.reports_port != reports_port:
            raise LunaError(
                f"`luna up` already runs a server on port {running.prefect_port} (reports {running.reports_port}, "
                f"pid {running.pid})",
                tip="`luna down` stops it; then `luna up` again with the new port",
            )
        return Outcome(f"Luna's server is already running (pid {running.pid})", running)
    if prefect_port == reports_port:
        raise LunaError(f"LUNA_PREFECT_PORT and LUNA_REPORTS_PORT are both {prefect_port}", tip="give each its own")
    if not _port_free(prefect_port):
        raise _busy(prefect_port, "Prefect server", "LUNA_PREFECT_PORT")
    if not _port_free(reports_port):
        raise _busy(reports_port, "report server", "LUNA_REPORTS_PORT")
    out = out_dir.resolve()
    log = state_path().with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "app.server", "--prefect-port", str(prefect_port)]
    cmd += ["--reports-port", str(reports_port), "--out", str(out)]
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    state = UpState(pid=proc.pid, prefect_port=prefect_port, reports_port=reports_port, out_dir=str(out), log=str(log))
    write_state(state)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            state_path().unlink(missing_ok=True)
            raise LunaError(
                f"Luna's server did not start (exit {proc.returncode}): {_tail(log) or 'no output'}",
                tip=f"the whole output is in {log}",
            )
        if _prefect_answers(prefect_port):
            return Outcome("Luna's server is running", state)
        time.sleep(0.5)
    _stop_group(proc.pid)
    state_path().unlink(missing_ok=True)
    raise LunaError(
        f"the Prefect server did not answer on port {prefect_port} within {START_TIMEOUT_S:.0f} s: {_tail(log)}",
        tip=f"the whole output is in {log}",
    )


def _stop_group(pid: int) -> bool:
    """SIGTERM the process group, then SIGKILL what is left after STOP_TIMEOUT_S."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # children that outlived their parent
    return True


def down(prefect_port: int) -> Outcome:
    """Stop the process `luna up` recorded (and its children), and only that."""
    state = read_state()
    if state is None:
        state_path().unlink(missing_ok=True)  # a record of a process that has ended
        other = (
            f" (a Prefect server answers on port {prefect_port}, but `luna up` did not start it: left running)"
            if _prefect_answers(prefect_port)
            else ""
        )
        return Outcome(f"no server started by `luna up` is running under {state_path().parent}{other}")
    _stop_group(state.pid)
    state_path().unlink(missing_ok=True)
    return Outcome(f"stopped Luna's server (pid {state.pid}, port {state.prefect_port})", state)
