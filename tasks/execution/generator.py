"""Load-generator truth: how hard k6 itself worked during a run, and whether an open-model
run started the iterations it was asked to.

A thread samples k6's CPU time, the time its threads spent ready to run but waiting for a
CPU (Linux `/proc/<pid>/task/*/schedstat`), and the machine's CPU use (psutil) every half
second while k6 runs. k6 counts as **saturated** when it kept most of the machine's cores
busy on its own (mean >= 80 % of the CPUs this process may use), when its threads waited
for a CPU a whole core's worth or more on average, or when the machine was busy (mean >=
95 %) while k6 needed at least half a core: then the latencies k6 measured include its own
wait for CPU. A saturated run makes every comparison `inconclusive`
(tasks/evaluation/baseline.py).

In an open model (arrival rate) k6 schedules iterations at the target rate and drops the
ones it cannot start (`dropped_iterations`); achieved / target says how much of the promised
load was applied. k6 does not gate on it (grafana/k6#2837); the verdict does (slo.py).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from luna.results import GeneratorLoad

INTERVAL_S = 0.5
RECENT_SAMPLES = 10  # the breach watch's window: the last 5 s
WARMUP_SAMPLES = 1  # the first sample includes k6's start-up (script compile)
K6_SHARE_SATURATED = 0.8
MACHINE_BUSY = 0.95
K6_BUSY_CORES = 0.5
K6_WAIT_SATURATED = 1.0  # a whole core of k6 work queued on average (0.5 caught ordinary runs at load 8)
MAX_SAMPLES = 20_000  # bounded whatever the run length (about 2.8 h at 0.5 s; older ones thinned)

# The k6 settings that shape each profile (k6/lib/profiles.js): runs compare only when equal.
SHAPE_KEYS: dict[str, tuple[str, ...]] = {
    "smoke": ("SMOKE_VUS", "SMOKE_DURATION"),
    "ramp": ("VUS", "RAMP_DURATION", "DURATION"),
    "soak": ("VUS", "RAMP_DURATION", "SOAK_DURATION"),
    "stress": ("STRESS_VUS", "RAMP_DURATION", "DURATION"),
    "spike": ("VUS", "SPIKE_VUS", "RAMP_DURATION", "DURATION"),
}
OPEN_KEYS: dict[str, tuple[str, ...]] = {
    "smoke": ("RATE",),
    "ramp": ("RATE", "MAX_VUS"),
    "soak": ("RATE", "MAX_VUS"),
    "stress": ("RATE", "STRESS_RATE", "MAX_VUS"),
    "spike": ("RATE", "SPIKE_RATE", "MAX_VUS"),
}


def load_shape(profile: str, k6_env: dict[str, str]) -> dict[str, str]:
    """The settings that decide this profile's load, from the environment k6 gets."""
    model = k6_env.get("LOAD_MODEL", "closed")
    keys = SHAPE_KEYS.get(profile, ()) + (OPEN_KEYS.get(profile, ()) if model == "open" else ())
    shape = {"model": model}
    shape.update({k.lower(): k6_env[k] for k in keys if k6_env.get(k)})
    return shape


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return psutil.cpu_count() or 1


class GeneratorWatch:
    """Samples one process's CPU (in cores) and the machine's CPU (0..1) on a thread."""

    def __init__(self, pid: int, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.k6: list[float] = []
        self.wait: list[float] = []
        self.machine: list[float] = []
        self._stop = threading.Event()
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._proc = None
        psutil.cpu_percent(interval=None)  # primes the machine-wide counter
        self._thread = threading.Thread(target=self._run, name="luna-generator-watch", daemon=True)
        self._thread.start()

    def _cpu_seconds(self) -> float | None:
        if self._proc is None:
            return None
        try:
            times = self._proc.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def _wait_seconds(self) -> float | None:
        """Seconds k6's threads have spent runnable but not running (None where not exposed)."""
        if self._proc is None:
            return None
        total = 0.0
        try:
            for stat in Path(f"/proc/{self._proc.pid}/task").glob("*/schedstat"):
                total += int(stat.read_text().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return None
        return total

    def _run(self) -> None:
        last_cpu, last_wait, last_at = self._cpu_seconds(), self._wait_seconds(), time.monotonic()
        while not self._stop.wait(self.interval_s):
            cpu, wait, now = self._cpu_seconds(), self._wait_seconds(), time.monotonic()
            if cpu is None or last_cpu is None:
                return  # k6 has exited
            elapsed = max(1e-6, now - last_at)
            self.k6.append(max(0.0, (cpu - last_cpu) / elapsed))
            if wait is not None and last_wait is not None:
                self.wait.append(max(0.0, (wait - last_wait) / elapsed))
            self.machine.append(psutil.cpu_percent(interval=None) / 100.0)
            if len(self.k6) > MAX_SAMPLES:
                self.k6, self.wait, self.machine = self.k6[::2], self.wait[::2], self.machine[::2]
            last_cpu, last_wait, last_at = cpu, wait, now

    def saturated_now(self) -> str:
        """Why k6 is saturated over the last few seconds ("" when it is not): the breach watch asks."""
        k6, machine, wait = self.k6[-RECENT_SAMPLES:], self.machine[-RECENT_SAMPLES:], self.wait[-RECENT_SAMPLES:]
        return judge(k6, machine, cpu_count(), wait).reason if len(k6) >= RECENT_SAMPLES else ""

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def judge(k6: list[float], machine: list[float], cpus: int, wait: list[float] | None = None) -> GeneratorLoad:
    """Saturation from the samples (the first is start-up and is left out when there are more)."""
    wait = wait or []
    if len(k6) > WARMUP_SAMPLES + 1:
        k6, machine, wait = k6[WARMUP_SAMPLES:], machine[WARMUP_SAMPLES:], wait[WARMUP_SAMPLES:]
    k6_mean, machine_mean, wait_mean = _mean(k6), _mean(machine), _mean(wait)
    reason = ""
    if k6_mean is not None and k6_mean >= K6_SHARE_SATURATED * cpus:
        reason = f"k6 kept {k6_mean:.2f} of {cpus} CPU cores busy on its own"
    elif wait_mean is not None and wait_mean >= K6_WAIT_SATURATED:
        reason = f"k6's threads waited for a CPU {wait_mean:.2f} cores' worth on average (it used {k6_mean or 0:.2f})"
    elif machine_mean is not None and k6_mean is not None and machine_mean >= MACHINE_BUSY and k6_mean >= K6_BUSY_CORES:
        reason = f"the machine was {machine_mean:.0%} busy while k6 needed {k6_mean:.2f} cores: k6 waited for CPU"
    return GeneratorLoad(
        cpu_count=cpus,
        samples=len(k6),
        k6_cores_mean=round(k6_mean, 3) if k6_mean is not None else None,
        k6_cores_p90=round(v, 3) if (v := _p90(k6)) is not None else None,
        k6_wait_cores_mean=round(wait_mean, 3) if wait_mean is not None else None,
        machine_cpu_mean=round(machine_mean, 3) if machine_mean is not None else None,
        machine_cpu_p90=round(v, 3) if (v := _p90(machine)) is not None else None,
        load_average=round(os.getloadavg()[0], 2),
        saturated=bool(reason),
        reason=reason,
    )


def open_model_rate(summary: dict[str, Any]) -> tuple[float | None, float | None, int | None]:
    """(target it/s, achieved it/s, dropped iterations) from k6's end-of-test data."""
    metrics = summary.get("metrics") or {}
    duration_ms = (summary.get("state") or {}).get("testRunDurationMs")
    started = int(((metrics.get("iterations") or {}).get("values") or {}).get("count", 0))
    dropped = int(((metrics.get("dropped_iterations") or {}).get("values") or {}).get("count", 0))
    if not duration_ms:
        return None, None, dropped
    seconds = duration_ms / 1000
    return (started + dropped) / seconds, started / seconds, dropped


def finish(
    watch: GeneratorWatch | None, profile: str, model: str, k6_env: dict[str, str], run_dir: Path
) -> tuple[GeneratorLoad | None, dict[str, str]]:
    """Stop sampling; the generator's load and the run's load shape (k6.py's hook)."""
    shape = load_shape(profile, k6_env)
    if watch is None:
        return None, shape
    watch.stop()
    load = judge(watch.k6, watch.machine, cpu_count(), watch.wait)
    summary_path = run_dir / "k6-summary.json"
    if model == "open" and summary_path.is_file():
        try:
            data = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            data = {}
        load.target_rate, load.achieved_rate, load.dropped_iterations = open_model_rate(data)
    return load, shape
