"""Coordination overhead of a sharded run: the `load_test` flow with `--shards N` on a local
Dask cluster (worker processes), against the demo API on loopback.

For each N in --shards and each repeat, under Prefect's test harness (its start-up is not
counted), from the run's shards.json and file times:

  start -> first request of the last shard   flow call to the latest shard's first http_reqs
                                             sample, split into: Dask cluster + shard tasks
                                             started (k6 launched paused), all shards ready,
                                             unpaused (barrier), first request
  start skew                                 spread of the shards' resume instants and of
                                             their first requests
  last shard end -> merged report            the latest shard's last request to report.html
                                             written, split into: shard tasks done (k6 stop,
                                             summary, CSV parsed into histograms), merged
                                             summary.json written, report.html written

--cluster local    each run starts (and closes) its own LocalCluster, as `luna run --shards N`
                   does without DASK_ADDRESS
--cluster address  one LocalCluster (2 worker processes) started before the runs and
                   passed as DASK_ADDRESS, as with a long-lived cluster

Medians over --repeats. Writes bench/results/distributed_coordination-<cluster>-<date>.json.

    .venv/bin/python bench/distributed_coordination.py                 # shards 2 and 3, 2 repeats
    .venv/bin/python bench/distributed_coordination.py --shards 3 --repeats 3 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, median, start_demo, stop, table, write_results  # noqa: E402

ENDPOINTS = {
    "service": "bench-distributed",
    "slos": {"p95_ms": 1000, "error_rate": 0.5},
    "endpoints": [
        {"name": "Health", "group": "g", "path": "/api/health", "weight": 3, "checks": {"status": 200}},
        {"name": "Users", "group": "g", "path": "/api/users", "weight": 1, "checks": {"status": 200}},
    ],
}


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def one_run(target: str, catalog: Path, shards: int, seconds: int) -> dict[str, float]:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    params = LoadTestParams(
        profile="smoke",
        target=target,
        config=str(catalog),
        load_model="open",
        rate=1250,
        smoke_duration=f"{seconds}s",
        shards=shards,
    )
    t0 = time.time()
    state = load_test(params, return_state=True)
    t_end = time.time()
    result: Any = state.result(raise_on_failure=False)
    result = getattr(result, "result", result)
    run_dir = Path(result.run_dir)
    shard_rows = json.loads((run_dir / "shards.json").read_text())
    first = [s["samples"]["first_request_us"] / 1e6 for s in shard_rows]
    last = [s["samples"]["last_request_us"] / 1e6 for s in shard_rows]
    started = [ts(s["started_at"]) or 0.0 for s in shard_rows]
    ready = [ts(s["ready_at"]) or 0.0 for s in shard_rows]
    resumed = [ts(s["resumed_at"]) or 0.0 for s in shard_rows]
    finished = [ts(s["finished_at"]) or 0.0 for s in shard_rows]
    parse = [s["samples_parse_s"] or 0.0 for s in shard_rows]
    return {
        "requests": result.total.requests,
        "start_to_last_first_request_s": max(first) - t0,
        "start_to_shards_launched_s": max(started) - t0,
        "start_to_all_ready_s": max(ready) - t0,
        "start_to_resumed_s": max(resumed) - t0,
        "resume_skew_ms": (max(resumed) - min(resumed)) * 1000,
        "first_request_skew_ms": (max(first) - min(first)) * 1000,
        "last_end_to_report_s": (run_dir / "report.html").stat().st_mtime - max(last),
        "last_end_to_shards_done_s": max(finished) - max(last),
        "slowest_parse_s": max(parse),
        "last_end_to_merged_summary_s": (run_dir / "summary.json").stat().st_mtime - max(last),
        "last_end_to_flow_end_s": t_end - max(last),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--cluster", choices=("local", "address"), default="local")
    args = ap.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    demo, target = start_demo("--error-rate", "0")
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=180):
            os.environ["LUNA_OUT_DIR"] = str(Path(tmp) / "out")
            os.environ.update({"SMOKE_VUS": "30", "VUS": "30", "MAX_VUS": "90"})
            catalog = Path(tmp) / "endpoints.json"
            catalog.write_text(json.dumps(ENDPOINTS), encoding="utf-8")
            cluster = None
            if args.cluster == "address":
                from distributed import LocalCluster
                from prefect.settings import PREFECT_API_URL

                cluster = LocalCluster(
                    n_workers=2,
                    threads_per_worker=max(args.shards) // 2 + 1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",
                    env={"PREFECT_API_URL": str(PREFECT_API_URL.value())},
                )
                os.environ["DASK_ADDRESS"] = cluster.scheduler_address
            for shards in args.shards:
                runs = []
                for repeat in range(args.repeats):
                    run = one_run(target, catalog, shards, args.seconds)
                    print(f"shards={shards} repeat={repeat}: " + ", ".join(f"{k}={v:.3f}" for k, v in run.items()))
                    runs.append(run)
                rows.append({"shards": shards, **{k: median([r[k] for r in runs]) for k in runs[0]}, "runs": runs})
            if cluster is not None:
                cluster.close()
    finally:
        stop(demo)
    keys = [k for k in rows[0] if k not in ("runs",)]
    print(table(keys, [[r[k] for k in keys] for r in rows]))
    path = write_results(
        f"distributed_coordination-{args.cluster}",
        {
            "machine": machine(),
            "cluster": args.cluster,
            "seconds": args.seconds,
            "repeats": args.repeats,
            "results": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
