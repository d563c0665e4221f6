"""Helpers shared by the scripts in bench/: ports, waiting, machine facts, tables, JSON output.

Standard library only (plus psutil where a script says so). Every load these scripts make
targets 127.0.0.1; every wait below is bounded in time.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
K6 = str(VENV_BIN / "k6")
PYTHON = str(VENV_BIN / "python")
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Loopback only: never route a probe through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_http(url: str, timeout_s: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """Poll `url` until it answers 200, the process dies, or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {proc.returncode}")
        try:
            with _OPENER.open(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def start_demo(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[Any], str]:
    """The demo API (`python -m app.demo`) on a free loopback port, answering; (process, URL)."""
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "app.demo", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = f"http://127.0.0.1:{port}"
    wait_http(f"{target}/api/health", 30, proc)
    return proc, target


def stop(proc: subprocess.Popen[Any] | None, timeout_s: float = 15.0) -> None:
    """Terminate one process we started (by its own handle), then kill it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def stop_group(proc: subprocess.Popen[Any] | None, timeout_s: float = 20.0) -> None:
    """Stop a process we started with start_new_session=True, and everything in its group
    (e.g. the uvicorn child of `prefect server start`): SIGTERM, then SIGKILL if it lingers."""
    import signal
    from contextlib import suppress

    if proc is None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group, if any
    if proc.poll() is None:
        proc.wait(timeout=5)


def median(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    try:
        debian = Path("/etc/debian_version").read_text().strip()
    except OSError:
        debian = "?"
    try:
        k6v = subprocess.run([K6, "version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        k6v = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "debian": debian,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "k6": k6v,
        "loadavg_at_start": loadavg(),
    }


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return "-" if v is None else str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any], out_dir: Path | None = None) -> Path:
    out = out_dir or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{datetime.now(UTC):%Y-%m-%d}.json"
    data = {"benchmark": name, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


# ---- CPU accounting: how much of the machine others used while we measured -------------


def _busy_s() -> float:
    """Seconds of CPU the whole machine spent busy since boot (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already inside user/nice
    return (total - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their descendants (psutil)."""
    import psutil

    total = 0.0
    seen: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


class CpuWatch:
    """Measures, over a block, the machine's busy CPU minus what our own processes used.

    `own_pids` are long-lived processes of ours (servers); processes we start and wait for
    inside the block are counted through RUSAGE_CHILDREN. The result `foreign_cores` is the
    average number of cores that *other* work on the machine kept busy: 0 on a quiet machine.
    """

    def __init__(self, own_pids: list[int] | None = None) -> None:
        self.own_pids = own_pids or []

    def __enter__(self) -> CpuWatch:
        import resource

        self._t0 = time.monotonic()
        self._busy0 = _busy_s()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._kids0 = ru.ru_utime + ru.ru_stime
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self._self0 = ru.ru_utime + ru.ru_stime
        self._own0 = _tree_cpu_s(self.own_pids)
        return self

    def __exit__(self, *exc: object) -> None:
        import resource

        wall = time.monotonic() - self._t0
        busy = _busy_s() - self._busy0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        kids = ru.ru_utime + ru.ru_stime - self._kids0
        ru = resource.getrusage(resource.RUSAGE_SELF)
        me = ru.ru_utime + ru.ru_stime - self._self0
        own = _tree_cpu_s(self.own_pids) - self._own0
        self.wall_s = wall
        self.generator_cores = kids / wall if wall else 0.0
        self.server_cores = own / wall if wall else 0.0
        self.foreign_cores = max(0.0, (busy - kids - me - own) / wall) if wall else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "generator_cores": round(self.generator_cores, 2),
            "server_cores": round(self.server_cores, 2),
            "foreign_cores": round(self.foreign_cores, 2),
        }


def wait_quiet(max_wait_s: float, threshold_cores: float = 0.25, own_pids: list[int] | None = None) -> float:
    """Wait (at most `max_wait_s`) until other work uses < `threshold_cores` over 1 s.

    Returns the foreign load of the last 1-second sample. Never loops past the deadline.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        with CpuWatch(own_pids) as w:
            time.sleep(1.0)
        if w.foreign_cores < threshold_cores or time.monotonic() >= deadline:
            return round(w.foreign_cores, 2)
