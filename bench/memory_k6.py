"""Does k6 itself stay flat in memory as Luna runs it, however long the run?

k6/main.js is run as tasks/execution/k6.py runs it (`--no-thresholds --no-summary`, JSON
logs), against a private nginx serving a static JSON (bench/runner_efficiency.py's), in the
open model at a fixed rate (`LOAD_MODEL=open`, `RATE`: the smoke profile starts RATE/10
iterations/s), so that a short and a long run have exactly the same request rate. The runs
go at the same time, in pairs of lengths (default 60 s and 600 s), each with k6's web
dashboard on (what LUNA_K6_DASHBOARD=true runs: `K6_WEB_DASHBOARD_PERIOD` from `dashboard_period_ms` in
`tasks/execution/k6.py`: a fixed snapshot count), `dashboard-300` (the earlier period, run
length / 300, at least 0.5 s, for comparison in the same run) and off, plus `--variants k6summary` for k6 with its
end-of-test summary on (what Luna turned off), and `luna`: Luna's whole run
(tasks.execution.k6.run_k6 with its default settings, in a Python process: k6's RSS and the
Python side's). RSS is sampled every --period s.
Writes bench/results/memory_k6-<date>.json with each run's series.

    .venv/bin/python bench/memory_k6.py                              # 60 s and 600 s, 300 it/s
    .venv/bin/python bench/memory_k6.py --durations 30,120 --rate 3000 --endpoints 20
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from _common import K6, ROOT, free_port, loadavg, machine, stop, table, wait_http, write_results
from runner_efficiency import BODY, NGINX_CONF, clean_env, dashboard_env

sys.path.insert(0, str(ROOT))  # tasks.execution.k6's dashboard period
MIB = 1024 * 1024
K6_FLAGS = ("--no-usage-report", "--address", "", "--log-format", "json")  # as tasks/execution/k6.py


def one_run(
    name: str,
    tmp: Path,
    base_url: str,
    duration_s: int,
    rate: int,
    variant: str,
    period_s: float,
    gctrace: bool = False,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    env = clean_env() | {
        "ENDPOINTS_FILE": str(tmp / "endpoints.json"),
        "BASE_URL": base_url,
        "PROFILE": "smoke",
        "LOAD_MODEL": "open",
        "RATE": str(rate),
        "SMOKE_DURATION": f"{duration_s}s",
        "SMOKE_VUS": "10",
        # No VUs added during the run: at a fixed arrival rate k6 starts more VUs (each a JS
        # runtime of a few MB) whenever the machine slows it, and that is not run length.
        # Measured 2026-12-03: with MAX_VUS 50, other load starting mid-run raised k6's live
        # heap from 10 to 28 MB in both variants at once. A slowed k6 now drops iterations.
        "MAX_VUS": "10",
    }
    if variant in ("dashboard", "dashboard-300"):
        earlier = max(500, duration_s * 1000 // 300) if variant == "dashboard-300" else None
        env |= dashboard_env(tmp / f"{name}.html", duration_s, earlier)
    flags = [] if variant == "k6summary" else ["--no-thresholds", "--no-summary"]
    cmd = [K6, "run", *K6_FLAGS, *flags, str(ROOT / "k6" / "main.js")]
    if variant == "luna":  # the whole of Luna's run: tasks.execution.k6.run_k6 in a Python process
        cmd = [
            sys.executable,
            "-c",
            LUNA_RUN,
            base_url,
            str(tmp / name),
            f"{duration_s}s",
            str(rate),
            str(tmp / "endpoints.json"),
        ]
        env["PYTHONPATH"] = str(ROOT)
    trace = tmp / f"{name}.gctrace"
    if gctrace:
        env["GODEBUG"] = "gctrace=1"  # Go's GC log: heap at start -> end -> live, per collection
    with trace.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err if gctrace else subprocess.DEVNULL)
    me = psutil.Process(proc.pid)
    series: list[tuple[float, float]] = []
    python: list[tuple[float, float]] = []  # the luna variant: the Python side's RSS
    t0 = time.monotonic()
    deadline = t0 + duration_s + 120  # bounded: k6's graceful stop is 30 s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            now = round(time.monotonic() - t0, 1)
            k6 = next((c for c in me.children() if c.name() == "k6"), None) if variant == "luna" else me
            if variant == "luna":
                python.append((now, me.memory_info().rss / MIB))
            if k6 is not None:
                series.append((now, k6.memory_info().rss / MIB))
        except psutil.Error:
            break
        time.sleep(period_s)
    stop(proc, 30)
    at_1min = [rss for t, rss in series if t <= 60]
    if python:
        summary = json.loads(next((tmp / name / "runs").glob("*/summary.json")).read_text())
        extra = {
            "luna_status": summary["status"],
            "luna_requests": (summary.get("total") or {}).get("requests"),
            "luna_series_periods": len(
                json.loads(next((tmp / name / "runs").glob("*/series.json")).read_text())["rps"]
            ),
            "python_peak_rss_mib": max(rss for _, rss in python),
            "python_peak_first_60s_mib": max(rss for t, rss in python if t <= 60),
            "python_series": python,
        }
    return extra | {
        "name": name,
        "variant": variant,
        "duration_s": duration_s,
        "rate_per_s": rate // 10,
        "peak_rss_mib": max(rss for _, rss in series) if series else None,
        "peak_first_60s_mib": max(at_1min) if at_1min else None,
        "exit_code": proc.returncode,
        "series": series,
        **(live_heap(trace) if gctrace else {}),
    }


# The luna variant: Luna's own run of k6 (its default settings: k6's web dashboard off, the
# report's series from Luna's measure), the same load as the k6-only variants.
LUNA_RUN = """
import sys
from luna.settings import load_settings
from tasks.execution.k6 import run_k6
from tasks.execution.plan import LoadTestParams, prepare_run
url, out, duration, rate, endpoints = sys.argv[1:6]
settings = load_settings(
    base_url=url, luna_out_dir=out, smoke_duration=duration, smoke_vus=10, load_model="open", rate=int(rate), max_vus=10
)
plan = prepare_run(LoadTestParams(profile="smoke", config=endpoints), settings)
run_k6(plan, settings, lambda *_: None, lambda *_: None)
"""

GC_LINE = re.compile(r"^gc \d+ @([\d.]+)s .*?, (\d+)->(\d+)->(\d+) MB")


def live_heap(trace: Path) -> dict[str, Any]:
    """Go's live heap after each collection (gctrace's third figure), as (s, MB): whether k6
    keeps more as the run goes on, or only its RSS grows (GC slack, memory not yet returned)."""
    points = [(float(m[1]), int(m[4])) for m in map(GC_LINE.match, trace.read_text(errors="replace").splitlines()) if m]
    first = [mb for t, mb in points if t <= 60]
    return {
        "live_heap_mb": points[:: max(1, len(points) // 60)],
        "live_heap_peak_mb": max((mb for _, mb in points), default=None),
        "live_heap_peak_first_60s_mb": max(first, default=None),
        "gc_count": len(points),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--durations", default="60,600", help="run lengths in seconds, run at once (default 60,600)")
    p.add_argument("--rate", type=int, default=3000, help="RATE: the smoke profile runs RATE/10 it/s (default 3000)")
    p.add_argument("--endpoints", type=int, default=20, help="endpoints in the file (default 20)")
    p.add_argument(
        "--variants",
        default="dashboard,no-dashboard,luna",
        help="dashboard, dashboard-300, no-dashboard, k6summary, luna",
    )
    p.add_argument("--period", type=float, default=5.0, help="RSS sampling period in seconds (default 5)")
    p.add_argument("--gctrace", action="store_true", help="also record k6's live heap (GODEBUG=gctrace=1)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    durations = [int(d) for d in args.durations.split(",") if d.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not durations or any(not 5 <= d <= 3600 for d in durations) or not 10 <= args.rate <= 100_000:
        p.error("durations 5-3600 s; rate 10-100000")
    if (
        set(variants) - {"dashboard", "dashboard-300", "no-dashboard", "k6summary", "luna"}
        or not 1 <= args.endpoints <= 500
    ):
        p.error("variants: dashboard, dashboard-300, no-dashboard, k6summary, luna; endpoints 1-500")
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-memk6-"))
    tmp.chmod(0o755)
    nginx = None
    runs: list[dict[str, Any]] = []
    try:
        port = free_port()
        (tmp / "users.json").write_text(json.dumps(BODY), encoding="utf-8")
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port), encoding="utf-8")
        nginx = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{port}/api/users", 15, nginx)
        eps = [
            {"name": f"E{i:03d}", "group": "g", "path": "/api/users", "checks": {"status": 200}}
            for i in range(args.endpoints)
        ]
        (tmp / "endpoints.json").write_text(json.dumps({"service": "bench", "endpoints": eps}), encoding="utf-8")
        jobs = [(f"{v}-{d}s", v, d) for v in variants for d in durations]
        print(f"nginx on {port}; {len(jobs)} k6 runs at once, {args.rate // 10} it/s each: {jobs}", flush=True)
        threads = [
            threading.Thread(
                target=lambda n=n, v=v, d=d: runs.append(
                    one_run(n, tmp, f"http://127.0.0.1:{port}", d, args.rate, v, args.period, args.gctrace)
                )
            )
            for n, v, d in jobs
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop(nginx, 10)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    ratios: dict[str, float | None] = {}
    for v in variants:
        mine = {r["duration_s"]: r for r in runs if r["variant"] == v}
        lo, hi = min(durations), max(durations)
        ratio = mine[hi]["peak_rss_mib"] / mine[lo]["peak_rss_mib"] if mine[lo]["peak_rss_mib"] else None
        ratios[v] = ratio
        rows.append([v, mine[lo]["peak_rss_mib"], mine[hi]["peak_rss_mib"], ratio])
        if "python_peak_rss_mib" in mine[hi]:
            py_lo, py_hi = mine[lo]["python_peak_rss_mib"], mine[hi]["python_peak_rss_mib"]
            ratios[f"{v} (Python)"] = py_hi / py_lo
            rows.append([f"{v} (Python side)", py_lo, py_hi, py_hi / py_lo])
    print()
    print(table(["variant", f"peak RSS MiB, {min(durations)} s", f"{max(durations)} s", "ratio"], rows))
    path = write_results(
        "memory_k6",
        {
            "machine": machine(),
            "loadavg_at_end": loadavg(),
            "options": vars(args) | {"out_dir": str(args.out_dir)},
            "peak_ratio_longest_over_shortest": ratios,
            "runs": sorted(runs, key=lambda r: (r["variant"], r["duration_s"])),
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
