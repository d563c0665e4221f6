"""What Prefect and Luna add around a k6 run: `luna smoke` wall time minus k6's own test time.

For each mode, with the bundled demo API (`python -m app.demo`, error rate 0) as target:

  server     a private Prefect server (`prefect server start --host 127.0.0.1 --port <free>`,
             its own PREFECT_HOME in a temp dir, analytics off), PREFECT_API_URL pointing at it
  no-server  PREFECT_API_URL unset, so Prefect starts a temporary server inside each process
             (LUNA_PREFECT_PORT points at a closed port, so `luna` cannot find `luna up`'s server)

each repeat measures, one after the other (order alternating per repeat):

  luna       wall time of `luna smoke --smoke-duration <d> --target <demo>`, minus k6's test
             duration (`duration_s` of summary.json in the run folder it prints as `results: <dir>`)
  floor      wall time of `python -c` running a trivial @flow against the same API: Prefect's floor

and once per repeat, outside any mode, `k6 run k6/main.js` with the same endpoints file and
smoke settings (no Prefect, no Luna, no web dashboard) minus its test duration: k6's own floor.

Luna's own share = (luna wall - k6 duration) - Prefect floor. It still holds k6's floor
(process start, `k6 inspect`, summary), which the table shows apart. Medians over --repeats.
Writes bench/results/orchestration_overhead-<date>.json.

    .venv/bin/python bench/orchestration_overhead.py                     # 3 repeats, 3 s smoke
    .venv/bin/python bench/orchestration_overhead.py --repeats 5 --modes server
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    K6,
    PYTHON,
    ROOT,
    VENV_BIN,
    CpuWatch,
    free_port,
    machine,
    median,
    start_demo,
    stop,
    stop_group,
    table,
    wait_http,
    write_results,
)

FLOW_SNIPPET = """
from prefect import flow

@flow
def trivial():
    return 1

assert trivial() == 1
"""


def base_env() -> dict[str, str]:
    """Our environment without Luna/auth/k6/Prefect settings that could change the runs."""
    drop = ("AUTH_", "K6_", "LUNA_", "INFLUXDB_", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for k in ("BASE_URL", "VUS", "DURATION", "SMOKE_VUS", "SMOKE_DURATION", "PROFILE", "LOAD_MODEL"):
        env.pop(k, None)
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "400", "NO_COLOR": "1"})
    return env


def timed(
    cmd: list[str], env: dict[str, str], cwd: Path, limit_s: float
) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=limit_s)
    return time.perf_counter() - t0, done


def luna_run(
    env: dict[str, str], cwd: Path, target: str, smoke: str, vus: int, limit_s: float, own: list[int]
) -> dict[str, Any]:
    cmd = [
        str(VENV_BIN / "luna"),
        "smoke",
        "--smoke-duration",
        smoke,
        "--smoke-vus",
        str(vus),
        "--target",
        target,
        "--config",
        str(ROOT / "k6" / "config" / "endpoints.json"),
    ]
    with CpuWatch(own) as cpu:
        wall, done = timed(cmd, env, cwd, limit_s)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"luna smoke exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    match = re.search(r"^results:\s*(\S.*)$", done.stdout, flags=re.M)
    if not match:
        raise RuntimeError(f"no 'results: <dir>' line in luna's output:\n{done.stdout[-1500:]}")
    run_dir = Path(match.group(1).strip())
    if not run_dir.is_absolute():
        run_dir = cwd / run_dir
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    k6_s = float(summary["duration_s"])
    return {
        "wall_s": wall,
        "k6_duration_s": k6_s,
        "overhead_s": wall - k6_s,
        "exit_code": done.returncode,
        "status": summary.get("status"),
        **cpu.as_dict(),
    }


def floor_run(env: dict[str, str], cwd: Path, limit_s: float, own: list[int]) -> dict[str, Any]:
    with CpuWatch(own) as cpu:
        wall, done = timed([PYTHON, "-c", FLOW_SNIPPET], env, cwd, limit_s)
    if done.returncode != 0:
        raise RuntimeError(f"trivial flow failed:\n{done.stderr[-1500:]}")
    return {"wall_s": wall, **cpu.as_dict()}


def k6_floor(env: dict[str, str], cwd: Path, target: str, smoke: str, vus: int, limit_s: float) -> dict[str, Any]:
    summary = cwd / "k6-floor-summary.json"
    env = {
        **env,
        "ENDPOINTS_FILE": str(ROOT / "k6" / "config" / "endpoints.json"),
        "BASE_URL": target,
        "PROFILE": "smoke",
        "SMOKE_VUS": str(vus),
        "SMOKE_DURATION": smoke,
        "LUNA_SUMMARY_FILE": str(summary),
    }
    cmd = [K6, "run", "--no-usage-report", "--address", "", "--no-color", "--quiet", str(ROOT / "k6" / "main.js")]
    wall, done = timed(cmd, env, cwd, limit_s)
    if done.returncode not in (0, 99):
        raise RuntimeError(f"k6 exited {done.returncode}:\n{done.stderr[-1500:]}")
    k6_s = json.loads(summary.read_text(encoding="utf-8"))["state"]["testRunDurationMs"] / 1000
    return {"wall_s": wall, "k6_duration_s": k6_s, "overhead_s": wall - k6_s}


def start_prefect(home: Path, env: dict[str, str], log: Path, timeout_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "PREFECT_HOME": str(home)},
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_http(f"{api}/health", timeout_s, proc)
    except Exception:
        stop_group(proc)
        raise RuntimeError(f"Prefect server did not start; log:\n{log.read_text(errors='replace')[-2000:]}") from None
    return proc, api


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", default="3s", help="k6 smoke duration, k6 syntax (default 3s)")
    p.add_argument("--vus", type=int, default=2, help="smoke VUs (default 2, Luna's default)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per mode (default 3)")
    p.add_argument("--modes", default="server,no-server", help="comma-separated: server, no-server")
    p.add_argument("--no-k6-floor", action="store_true", help="skip the bare k6 runs")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(modes) <= {"server", "no-server"} or not modes or not 1 <= args.repeats <= 20 or not 1 <= args.vus <= 50:
        p.error("modes: server and/or no-server; repeats 1-20; vus 1-50")
    limit_s = 300.0

    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-orch-"))
    env0 = base_env()
    env0["LUNA_OUT_DIR"] = str(tmp / "out")
    env0["LUNA_PREFECT_PORT"] = str(free_port())  # nothing listens there: no `luna up` server is found
    runs: list[dict[str, Any]] = []
    demo = server = None
    try:
        demo, target = start_demo("--error-rate", "0", env=env0)
        print(
            f"demo API on {target}; modes {modes}; {args.repeats} repeats; smoke {args.duration} x {args.vus} VUs",
            flush=True,
        )
        if not args.no_k6_floor:
            for rep in range(1, args.repeats + 1):
                r = k6_floor(env0, tmp, target, args.duration, args.vus, limit_s)
                runs.append({"mode": "-", "what": "k6", "repeat": rep, **r})
                print(
                    f"  k6 bare        repeat {rep}: wall {r['wall_s']:.2f} s, k6 {r['k6_duration_s']:.2f} s, "
                    f"overhead {r['overhead_s']:.2f} s",
                    flush=True,
                )
        for mode in modes:
            env = dict(env0)
            home = tmp / f"prefect-home-{mode}"
            home.mkdir(parents=True, exist_ok=True)
            env["PREFECT_HOME"] = str(home)
            if mode == "server":
                t0 = time.perf_counter()
                server, api = start_prefect(home, env0, tmp / "prefect-server.log", 120)
                print(f"  prefect server on {api} (ready in {time.perf_counter() - t0:.1f} s)", flush=True)
                env["PREFECT_API_URL"] = api
            own = [demo.pid] + ([server.pid] if server is not None else [])  # ours, not "others"
            for rep in range(1, args.repeats + 1):
                order = ("luna", "floor") if rep % 2 else ("floor", "luna")
                for what in order:
                    if what == "luna":
                        r = luna_run(env, tmp, target, args.duration, args.vus, limit_s, own)
                        msg = (
                            f"wall {r['wall_s']:.2f} s, k6 {r['k6_duration_s']:.2f} s, overhead {r['overhead_s']:.2f} s"
                        )
                    else:
                        r = floor_run(env, tmp, limit_s, own)
                        msg = f"wall {r['wall_s']:.2f} s"
                    runs.append({"mode": mode, "what": what, "repeat": rep, **r})
                    print(
                        f"  {mode:<9} {what:<5} repeat {rep}: {msg}  (other work on the machine: {r['foreign_cores']:.2f} cores)",
                        flush=True,
                    )
            if server is not None:
                stop_group(server, 20)
                server = None
    finally:
        stop_group(server, 20)
        stop(demo, 10)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode: str, what: str, key: str) -> float | None:
        return median([r[key] for r in runs if r["mode"] == mode and r["what"] == what])

    k6_floor_s = med("-", "k6", "overhead_s")
    results: dict[str, Any] = {}
    rows = []
    for mode in modes:
        luna_wall, k6_dur, over = (
            med(mode, "luna", "wall_s"),
            med(mode, "luna", "k6_duration_s"),
            med(mode, "luna", "overhead_s"),
        )
        floor = med(mode, "floor", "wall_s")
        share = over - floor if over is not None and floor is not None else None
        results[mode] = {
            "luna_wall_s": luna_wall,
            "k6_duration_s": k6_dur,
            "luna_overhead_s": over,
            "prefect_floor_s": floor,
            "luna_own_share_s": share,
            "luna_own_share_minus_k6_floor_s": share - k6_floor_s if share is not None and k6_floor_s else None,
            "foreign_cores_luna": med(mode, "luna", "foreign_cores"),
        }
        rows.append(
            [
                mode,
                luna_wall,
                k6_dur,
                over,
                floor,
                share,
                k6_floor_s,
                share - k6_floor_s if share is not None and k6_floor_s is not None else None,
            ]
        )
    print()
    print(
        table(
            [
                "mode",
                "luna wall s",
                "k6 test s",
                "luna - k6 s",
                "prefect floor s",
                "luna own s",
                "k6 floor s",
                "own - k6 floor s",
            ],
            rows,
        )
    )
    print("\nluna own = (luna wall - k6 test) - prefect floor; k6 floor = bare `k6 run` wall - its test time")
    path = write_results(
        "orchestration_overhead",
        {
            "machine": info,
            "options": {"duration": args.duration, "vus": args.vus, "repeats": args.repeats, "modes": modes},
            "k6_floor_s": k6_floor_s,
            "medians": results,
            "runs": runs,
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
