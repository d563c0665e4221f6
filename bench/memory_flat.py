"""Does the Python side of a k6 run stay flat in memory however long the run is?

Runs Luna's k6 runner in this process through `tasks.execution.k6.run_k6` (as the tests'
`load_run` fixture does: load_settings -> prepare_run -> run_k6, no Prefect) against the
bundled demo API (`python -m app.demo`, error rate 0), smoke profile with SMOKE_VUS VUs, once
per duration (default 10 s and 40 s). A thread samples this process's RSS (psutil) every
0.5 s, and the k6 child's RSS too. Reports start / peak / end RSS per run and the growth of
the peak per extra 30 s of test between the shortest and the longest run. Run folders go to
a temp dir (LUNA_OUT_DIR). Writes bench/results/memory_flat-<date>.json.

    .venv/bin/python bench/memory_flat.py                        # 10 s and 40 s, 5 VUs
    .venv/bin/python bench/memory_flat.py --durations 10,70 --vus 10 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from _common import ROOT, machine, median, start_demo, stop, table, write_results

MIB = 1024 * 1024


class Sampler(threading.Thread):
    """RSS of this process (and of its k6 child) every `period_s`, until stopped."""

    def __init__(self, period_s: float) -> None:
        super().__init__(daemon=True)
        self.period_s = period_s
        self.me = psutil.Process()
        self.samples: list[tuple[float, int, int]] = []  # (t, python rss, k6 rss)
        self.done = threading.Event()

    def k6_rss(self) -> int:
        total = 0
        for child in self.me.children(recursive=True):
            try:
                if "k6" in child.name():
                    total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.done.is_set():
            self.samples.append((time.monotonic() - t0, self.me.memory_info().rss, self.k6_rss()))
            self.done.wait(self.period_s)
        self.samples.append((time.monotonic() - t0, self.me.memory_info().rss, 0))


def one_run(target: str, config: Path, duration_s: int, vus: int, period_s: float) -> dict[str, Any]:
    from luna.settings import load_settings
    from tasks.execution.k6 import run_k6
    from tasks.execution.plan import LoadTestParams, prepare_run

    settings = load_settings(base_url=target, smoke_duration=f"{duration_s}s", smoke_vus=vus)
    plan = prepare_run(LoadTestParams(profile="smoke", config=str(config)), settings)
    counts = {"lines": 0, "progress": 0}

    def on_line(level: str, text: str) -> None:  # count only: keep the sink's memory out of it
        counts["lines"] += 1

    def on_progress(fraction: float, text: str) -> None:
        counts["progress"] += 1

    sampler = Sampler(period_s)
    start_rss = psutil.Process().memory_info().rss
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = run_k6(plan, settings, on_line=on_line, on_progress=on_progress)
    finally:
        sampler.done.set()
        sampler.join(timeout=5)
    wall = time.perf_counter() - t0
    py = [s[1] for s in sampler.samples]
    k6 = [s[2] for s in sampler.samples if s[2]]
    return {
        "duration_s": duration_s,
        "vus": vus,
        "wall_s": wall,
        "status": result.status,
        "message": result.message,
        "k6_duration_s": result.duration_s,
        "requests": result.total.requests if result.total else None,
        "lines": counts["lines"],
        "progress_updates": counts["progress"],
        "start_rss_mib": start_rss / MIB,
        "peak_rss_mib": max(py) / MIB,
        "end_rss_mib": py[-1] / MIB,
        "k6_peak_rss_mib": max(k6) / MIB if k6 else None,
        "samples": [(round(t, 2), round(p / MIB, 2), round(k / MIB, 2)) for t, p, k in sampler.samples],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--durations", default="10,40", help="comma-separated test lengths in seconds (default 10,40)")
    p.add_argument("--vus", type=int, default=5, help="SMOKE_VUS (default 5)")
    p.add_argument("--repeats", type=int, default=1, help="runs per duration, alternating (default 1)")
    p.add_argument("--period", type=float, default=0.5, help="RSS sampling period in seconds (default 0.5)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    durations = [int(d) for d in args.durations.split(",") if d.strip()]
    if len(durations) < 1 or any(not 1 <= d <= 600 for d in durations) or not 1 <= args.repeats <= 10:
        p.error("durations 1-600 s each; repeats 1-10")

    # Nothing from the machine's Luna/auth/k6 settings may leak in; run folders go to a temp dir.
    for key in list(os.environ):
        if key.startswith(("AUTH_", "LUNA_", "INFLUXDB_", "K6_")) or key in ("BASE_URL", "VUS", "DURATION"):
            del os.environ[key]
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-mem-"))
    os.environ["LUNA_OUT_DIR"] = str(tmp / "out")
    os.chdir(tmp)  # no stray .env is read
    sys.path.insert(0, str(ROOT))
    import tasks.execution.k6  # noqa: F401  - import cost before the first sample, not inside it
    import tasks.execution.plan  # noqa: F401

    info = machine()
    runs: list[dict[str, Any]] = []
    demo = None
    try:
        demo, target = start_demo("--error-rate", "0")
        config = ROOT / "k6" / "config" / "endpoints.json"
        print(f"demo API on {target}; durations {durations} s x {args.vus} VUs, {args.repeats} repeat(s)", flush=True)
        for rep in range(1, args.repeats + 1):
            for d in durations if rep % 2 else list(reversed(durations)):
                r = one_run(target, config, d, args.vus, args.period)
                r["repeat"] = rep
                runs.append(r)
                print(
                    f"  {d:>4} s: RSS start {r['start_rss_mib']:.1f} MiB, peak {r['peak_rss_mib']:.1f}, end "
                    f"{r['end_rss_mib']:.1f}; k6 peak {r['k6_peak_rss_mib'] or 0:.1f} MiB; {r['requests']} requests, "
                    f"{r['lines']} output lines, status {r['status']}",
                    flush=True,
                )
    finally:
        stop(demo, 10)
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    per_d: dict[int, dict[str, float | None]] = {}
    for d in durations:
        mine = [r for r in runs if r["duration_s"] == d]
        per_d[d] = {
            k: median([r[k] for r in mine])
            for k in ("start_rss_mib", "peak_rss_mib", "end_rss_mib", "k6_peak_rss_mib", "wall_s")
        }
        v = per_d[d]
        rows.append(
            [
                f"{d} s",
                v["start_rss_mib"],
                v["peak_rss_mib"],
                v["end_rss_mib"],
                (v["peak_rss_mib"] or 0) - (v["start_rss_mib"] or 0),
                v["k6_peak_rss_mib"],
            ]
        )
    print()
    print(table(["run", "start MiB", "peak MiB", "end MiB", "peak-start MiB", "k6 peak MiB"], rows))
    growth = None
    if len(durations) >= 2:
        lo, hi = min(durations), max(durations)
        growth = ((per_d[hi]["peak_rss_mib"] or 0) - (per_d[lo]["peak_rss_mib"] or 0)) / (hi - lo) * 30
        k6_growth = ((per_d[hi]["k6_peak_rss_mib"] or 0) - (per_d[lo]["k6_peak_rss_mib"] or 0)) / (hi - lo) * 30
        print(f"\nPython peak RSS growth per extra 30 s of test: {growth:+.2f} MiB (k6 child: {k6_growth:+.2f} MiB)")
        if per_d[lo]["k6_peak_rss_mib"]:
            ratio = (per_d[hi]["k6_peak_rss_mib"] or 0) / per_d[lo]["k6_peak_rss_mib"]
            print(f"k6 peak RSS, {hi} s run / {lo} s run: {ratio:.3f} (issue 15 goal: <= 1.2 for 600 s / 60 s)")
    path = write_results(
        "memory_flat",
        {
            "machine": info,
            "options": {"durations_s": durations, "vus": args.vus, "repeats": args.repeats, "period_s": args.period},
            "medians": {str(d): v for d, v in per_d.items()},
            "peak_growth_mib_per_30s": growth,
            "runs": runs,
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
