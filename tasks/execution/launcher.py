"""The one k6 launcher: start k6 in its own process group that dies with Python, read its
output lines as they come, stop it gracefully. Used by the single run (k6.py) and by each
shard (tasks/distributed/shard.py); what the lines mean is theirs to decide.
"""

from __future__ import annotations

import contextlib
import ctypes
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

GRACE_SECONDS = 15.0


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGKILL k6 if the Python process that started it dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_k6(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start k6 with piped, line-buffered text output. Own process group: a terminal's
    Ctrl-C reaches Python only, which then sends k6 exactly one SIGINT (a second one would
    make k6 skip its summary); PR_SET_PDEATHSIG: k6 dies with Python."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=1,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def _pump(stream: IO[str], name: str, lines: queue.Queue[tuple[str, str | None]]) -> None:
    for line in iter(stream.readline, ""):
        lines.put((name, line.rstrip("\n")))
    lines.put((name, None))


def output_lines(proc: subprocess.Popen[str]) -> Iterator[tuple[str, str]]:
    """Interleave k6's stdout and stderr lines in arrival order."""
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue(maxsize=10_000)
    assert proc.stdout is not None and proc.stderr is not None
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", lines), daemon=True),
    ]
    for thread in threads:
        thread.start()
    open_streams = 2
    while open_streams:
        name, line = lines.get()
        if line is None:
            open_streams -= 1
            continue
        yield name, line


def stop_process(proc: subprocess.Popen[str]) -> None:
    """Graceful SIGINT (k6 still writes its summary), then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def interrupt(proc: subprocess.Popen[str]) -> None:
    """Stop k6 as a Ctrl-C would, without blocking: the caller goes on reading k6's output to
    its end (its last lines are the VUs' measure). `stop_process` in a thread kills k6 if it
    is still running after the grace period."""
    threading.Thread(target=stop_process, args=(proc,), daemon=True, name="luna-k6-stop").start()
