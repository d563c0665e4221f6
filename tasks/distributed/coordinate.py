"""The coordinator's side of a sharded run, as plain functions: the shards' jobs, the
local Dask cluster's shape, collecting the shards (stopping the others when one dies),
and writing the merged result."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from luna.results import RunResult
from luna.settings import LunaSettings
from tasks.distributed.barrier import BarrierSpec, signal_prefix
from tasks.distributed.merge import merge_outcomes
from tasks.distributed.model import ShardError, ShardOutcome
from tasks.distributed.segments import segments
from tasks.distributed.shard import ShardJob
from tasks.execution.k6 import check_completeness, influx_output
from tasks.execution.plan import RunPlan
from tasks.execution.series import merged_series, write_series


def job_files(plan: RunPlan) -> dict[str, str]:
    """The resolved endpoints file and its data files, so a shard on another machine has them."""
    files = {"endpoints.json": plan.endpoints_file.read_text(encoding="utf-8")}
    catalog = json.loads(files["endpoints.json"])
    for ep in catalog["endpoints"]:
        if ep.get("data_file"):
            files[f"data/{ep['name']}.json"] = Path(ep["data_file"]).read_text(encoding="utf-8")
    return files


def shard_jobs(plan: RunPlan, count: int, barrier: BarrierSpec, ready_timeout_s: float) -> list[ShardJob]:
    files = job_files(plan)
    return [
        ShardJob(plan=plan, segment=seg, barrier=barrier, files=files, ready_timeout_s=ready_timeout_s)
        for seg in segments(count)
    ]


def barrier_spec(
    plan: RunPlan, count: int, kind: Literal["file", "dask", "prefect"], address: str | None = None
) -> BarrierSpec:
    folder = str(plan.run_dir / "shards" / "signals") if kind == "file" else None
    prefix = signal_prefix(plan.run_id)
    if kind == "prefect":  # Prefect Variables: luna-shard-<run id>-<key>
        prefix = "luna-shard-" + prefix.removeprefix("luna-")
    return BarrierSpec(kind=kind, prefix=prefix, folder=folder, address=address, count=count)


def local_cluster_kwargs(shards: int, workers: int | None = None) -> dict[str, Any]:
    """A small LocalCluster with worker processes and a thread per shard: every shard must
    run at once (they wait for each other), and k6 does the work in its own process."""
    n = workers or max(1, min(shards, os.cpu_count() or 1))
    return {
        "n_workers": n,
        "threads_per_worker": math.ceil(shards / n),
        "processes": True,
        "dashboard_address": "127.0.0.1:0",  # not :8787, the demo API's port; loopback only
    }


def check_capacity(threads: int, shards: int, where: str) -> None:
    if threads < shards:
        raise ShardError(
            f"{where} has {threads} worker threads for {shards} shards; every shard must run at once",
            location="shards",
            tip="add Dask workers (or threads per worker), or run fewer shards",
        )


def stop_run_shards(run_id: str, count: int, address: str, reason: str) -> None:
    """Tell every shard of a run on the Dask cluster at `address` to stop its k6."""
    BarrierSpec(kind="dask", prefix=signal_prefix(run_id), address=address, count=count).open().abort(reason)


def collect(
    completed: Iterable[tuple[ShardJob, Callable[[], ShardOutcome]]], abort: Callable[[str], None]
) -> list[ShardOutcome]:
    """The shards' outcomes, taken in the order they finish. A shard whose task died
    (worker lost, exception) becomes an error outcome and stops the others at once
    through the barrier's abort."""
    outcomes: list[ShardOutcome] = []
    for job, get in completed:
        try:
            outcomes.append(get())
        except Exception as exc:  # noqa: BLE001 - a lost shard is the run's failure, not a crash
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            abort(f"{job.segment.label}: {type(exc).__name__}: {reason}")
            now = datetime.now(UTC)
            outcomes.append(
                ShardOutcome(
                    index=job.segment.index,
                    count=job.segment.count,
                    host="?",
                    status="error",
                    message=f"the shard's task failed: {type(exc).__name__}: {reason}",
                    started_at=now,
                    finished_at=now,
                    run_dir=str(job.plan.run_dir / "shards" / str(job.segment.index)),
                )
            )
    return outcomes


def finish(plan: RunPlan, outcomes: Sequence[ShardOutcome], settings: LunaSettings) -> RunResult:
    """Merge, count InfluxDB's samples for the whole run id, write shards.json and summary.json."""
    outcomes = sorted(outcomes, key=lambda o: o.index)
    result = merge_outcomes(plan, outcomes)
    store, influx_out, _ = influx_output(settings, lambda level, text: None)
    if store is not None and influx_out is not None:
        check_completeness(store, settings, result, sum(s.influx_errors for s in outcomes))
    result.influxdb = store
    run_dir = plan.run_dir
    (run_dir / "shards.json").write_text(
        json.dumps([o.model_dump(mode="json", exclude={"series"}) for o in outcomes], indent=1), encoding="utf-8"
    )
    series = merged_series([o.series for o in outcomes if o.series is not None], result.duration_s)
    write_series(series, run_dir, result.duration_s)  # the report's charts, all shards added up
    kinds = (
        ("summary", "summary.json"),
        ("shards", "shards.json"),
        ("series", "series.json"),
        ("endpoints", "endpoints.json"),
    )
    result.files = {kind: name for kind, name in kinds if kind == "summary" or (run_dir / name).is_file()}
    result.write()
    return result
