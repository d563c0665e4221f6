"""Where the time of one `luna smoke` goes, task by task, as the Prefect API recorded it.

Starts the demo API (`python -m app.demo --error-rate 0`) and a private Prefect server (as
bench/orchestration_overhead.py does: own PREFECT_HOME in a temp dir, analytics off), runs
`luna smoke --smoke-duration <d> --smoke-vus <n> --target <demo>` --repeats times, and after
each run reads the flow run and its task runs from the server's API
(`/flow_runs/filter`, `/task_runs/filter`). Reports, per run:

  before flow   process start -> the flow run's start_time (Python start, imports, flow run creation)
  tasks         each task's run time (start_time -> end_time) and the gap before it
  after flow    the flow run's end_time -> process exit (result handling, Prefect shutdown)

and the medians over the runs. Writes bench/results/flow_timings-<date>.json.

    .venv/bin/python bench/flow_timings.py                   # 3 runs, 3 s smoke, 2 VUs
    .venv/bin/python bench/flow_timings.py --repeats 5 --duration 1s
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ROOT,
    VENV_BIN,
    free_port,
    loadavg,
    machine,
    median,
    start_demo,
    stop,
    stop_group,
    table,
    write_results,
)
from orchestration_overhead import base_env, start_prefect


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def task_base(name: str) -> str:
    """prepare-run-c22 -> prepare-run (Prefect appends a short key to task run names)."""
    head, _, tail = name.rpartition("-")
    return head if head and len(tail) == 3 else name


def one_run(api: str, env: dict[str, str], cwd: Path, target: str, duration: str, vus: int) -> dict[str, Any]:
    cmd = [str(VENV_BIN / "luna"), "smoke", "--smoke-duration", duration, "--smoke-vus", str(vus), "--target", target]
    cmd += ["--config", str(ROOT / "k6" / "config" / "endpoints.json")]
    t0 = time.time()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    t1 = time.time()
    if done.returncode not in (0, 1):
        raise RuntimeError(f"luna smoke exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    with httpx.Client(timeout=30) as client:
        fr = client.post(f"{api}/flow_runs/filter", json={"sort": "START_TIME_DESC", "limit": 1}).json()[0]
        trs = client.post(
            f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [fr["id"]]}}, "limit": 100}
        ).json()
    fs, fe = ts(fr["start_time"]), ts(fr["end_time"])
    assert fs is not None and fe is not None
    tasks = []
    prev = fs
    for tr in sorted(trs, key=lambda t: ts(t["start_time"]) or 0.0):
        s, e = ts(tr["start_time"]), ts(tr["end_time"])
        if s is None or e is None:
            continue
        tasks.append({"name": tr["name"], "task": task_base(tr["name"]), "gap_s": s - prev, "run_s": e - s})
        prev = e
    return {
        "exit_code": done.returncode,
        "wall_s": t1 - t0,
        "before_flow_s": fs - t0,
        "flow_s": fe - fs,
        "after_last_task_s": fe - prev,
        "after_flow_s": t1 - fe,
        "tasks": tasks,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", default="3s", help="k6 smoke duration, k6 syntax (default 3s)")
    p.add_argument("--vus", type=int, default=2, help="smoke VUs (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="runs (default 3)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    if not 1 <= args.repeats <= 20 or not 1 <= args.vus <= 50:
        p.error("repeats 1-20; vus 1-50")

    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-flow-"))
    env0 = base_env()
    env0["LUNA_OUT_DIR"] = str(tmp / "out")
    env0["LUNA_PREFECT_PORT"] = str(free_port())  # no `luna up` server is found
    runs: list[dict[str, Any]] = []
    demo = server = None
    try:
        demo, target = start_demo("--error-rate", "0", env=env0)
        home = tmp / "prefect-home"
        server, api = start_prefect(home, env0, tmp / "prefect-server.log", 120)
        env = {**env0, "PREFECT_HOME": str(home), "PREFECT_API_URL": api}
        for i in range(1, args.repeats + 1):
            r = one_run(api, env, tmp, target, args.duration, args.vus)
            r["repeat"] = i
            runs.append(r)
            print(
                f"  run {i}: wall {r['wall_s']:.2f} s = before flow {r['before_flow_s']:.2f} + flow "
                f"{r['flow_s']:.2f} + after flow {r['after_flow_s']:.2f}",
                flush=True,
            )
    finally:
        stop_group(server, 20)
        stop(demo, 10)
        shutil.rmtree(tmp, ignore_errors=True)

    names = list(dict.fromkeys(t["task"] + f"#{n}" for r in runs[:1] for n, t in enumerate(r["tasks"])))
    rows = []
    medians: dict[str, Any] = {}
    for n, key in enumerate(names):
        task = key.split("#")[0]
        gaps = [r["tasks"][n]["gap_s"] for r in runs if len(r["tasks"]) > n]
        durs = [r["tasks"][n]["run_s"] for r in runs if len(r["tasks"]) > n]
        medians[key] = {"gap_s": median(gaps), "run_s": median(durs)}
        rows.append([task, medians[key]["gap_s"], medians[key]["run_s"]])
    for what in ("before_flow_s", "flow_s", "after_last_task_s", "after_flow_s", "wall_s"):
        medians[what] = median([r[what] for r in runs])
    k6_key = next((k for k in names if k.startswith("k6-run")), None)
    other = [(medians[k]["gap_s"] or 0) + (medians[k]["run_s"] or 0) for k in names if k != k6_key] + [
        medians["after_last_task_s"] or 0
    ]
    medians["non_k6_tasks_and_gaps_s"] = sum(other)
    print()
    print(table(["task (in order)", "median gap before s", "median run s"], rows))
    print(
        f"\nmedian: before flow {medians['before_flow_s']:.2f} s, flow {medians['flow_s']:.2f} s "
        f"(tasks other than k6-run incl. gaps: {medians['non_k6_tasks_and_gaps_s']:.2f} s), after flow "
        f"{medians['after_flow_s']:.2f} s, wall {medians['wall_s']:.2f} s"
    )
    path = write_results(
        "flow_timings",
        {
            "machine": info,
            "loadavg_at_end": loadavg(),
            "options": {"duration": args.duration, "vus": args.vus, "repeats": args.repeats},
            "medians": medians,
            "runs": runs,
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
