"""The distributed stage as Prefect tasks: plan the shards, run one shard, collect and
merge. The logic is in coordinate.py, shard.py and merge.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.futures import PrefectFuture, as_completed

from luna.results import RunResult
from tasks.distributed.barrier import BarrierSpec
from tasks.distributed.coordinate import (
    barrier_spec,
    check_capacity,
    collect,
    finish,
    shard_jobs,
    stop_run_shards,
)
from tasks.distributed.model import ShardOutcome
from tasks.distributed.settings import load_distributed_settings
from tasks.distributed.shard import ShardJob, run_shard
from tasks.execution.plan import RunPlan
from tasks.execution.tasks import LEVELS, run_settings


@task(name="plan-shards")
def plan_shards(plan: RunPlan, shards: int) -> list[ShardJob]:
    """One job per execution segment, meeting at a barrier on the Dask scheduler. Runs on
    the cluster, so it also checks that every shard can run at once."""
    from distributed import get_client

    client = get_client()
    check_capacity(sum(client.nthreads().values()), shards, f"the Dask cluster at {client.scheduler.address}")
    settings = load_distributed_settings()
    barrier = barrier_spec(plan, shards, "dask", client.scheduler.address)
    get_run_logger().info("run %s: %d shards on the Dask cluster at %s", plan.run_id, shards, client.scheduler.address)
    return shard_jobs(plan, shards, barrier, settings.shard_ready_timeout_s)


@task(name="k6-shard", task_run_name="k6-shard-{job.segment.index}")
def run_shard_task(job: ShardJob) -> ShardOutcome:
    """Run one shard on this worker, streaming k6's lines into its task log."""
    logger = get_run_logger()

    def line(level: str, text: str) -> None:
        logger.log(LEVELS.get(level, logging.INFO), text, extra={"luna_k6_line": True})

    outcome = run_shard(job, run_settings(job.plan.auth_block), on_line=line)
    logger.log(
        logging.INFO if outcome.completed else logging.WARNING,
        "%s on %s: %s: %s",
        outcome.label,
        outcome.host,
        outcome.status.upper(),
        outcome.message,
    )
    return outcome


def collect_shards(futures: Sequence[PrefectFuture[ShardOutcome]], jobs: Sequence[ShardJob]) -> list[ShardOutcome]:
    """Every shard's outcome, as they finish; a shard whose task died stops the others."""
    by_id = {f.task_run_id: job for f, job in zip(futures, jobs, strict=True)}
    barrier = jobs[0].barrier.open()
    return collect(((by_id[f.task_run_id], f.result) for f in as_completed(list(futures))), barrier.abort)


@task(name="merge-shards")
def merge_shards(plan: RunPlan, outcomes: list[ShardOutcome], barrier: BarrierSpec | None = None) -> RunResult:
    """One RunResult from every shard (exact counts, merged HDR percentiles), written to the
    run folder; a failed shard makes it an error/aborted result that says which and why."""
    logger = get_run_logger()
    result = finish(plan, outcomes, run_settings(plan.auth_block))
    if barrier is not None:
        barrier.open().clear()
    logger.log(
        logging.INFO if result.status == "passed" else logging.WARNING, "%s: %s", result.status.upper(), result.message
    )
    return result


def stop_shards(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook (`on_cancellation`, `on_crashed`, `on_failure`) of distributed_load: shards
    on a long-lived cluster (DASK_ADDRESS) outlive the flow's process, so tell them to stop.
    A per-run local cluster closes with the flow, and its workers' k6 die with them."""
    address = load_distributed_settings().dask_address
    params = dict(getattr(flow_run, "parameters", {}) or {})
    plan = params.get("plan")
    run_id = plan.get("run_id") if isinstance(plan, dict) else getattr(plan, "run_id", None)
    if address and run_id:
        reason = f"the flow run ended {state.name}: {' '.join(str(state.message or '').split())[:200]}"
        stop_run_shards(str(run_id), int(params.get("shards") or 1), address, reason)


STARTED = "started"  # barrier key: the work-pool coordinator has begun starting shard runs


@task(name="plan-pool-shards")
def plan_pool_shards(plan: RunPlan, shards: int) -> list[ShardJob]:
    """One job per execution segment, meeting at a barrier of Prefect Variables."""
    settings = load_distributed_settings()
    barrier = barrier_spec(plan, shards, "prefect")
    get_run_logger().info(
        "run %s: %d shards as flow runs of the deployment %s", plan.run_id, shards, settings.shard_deployment
    )
    return shard_jobs(plan, shards, barrier, settings.shard_ready_timeout_s)


@task(name="run-pool-shards")
def run_pool_shards(jobs: list[ShardJob]) -> list[ShardOutcome]:
    """`run_deployment` once per shard, then every shard's outcome as its flow run ends; a
    shard run that fails, crashes or never starts stops the others through the barrier."""
    from tasks.distributed.work_pool import RUN_GRACE_S, finished_runs, start_shard_runs, stop_runs

    settings = load_distributed_settings()
    barrier = jobs[0].barrier.open()
    planned = jobs[0].plan.planned_s or 3600.0  # k6 inspect, in prepare_run
    runs: list[Any] = []
    try:
        barrier.signals.set(STARTED, "1")  # the flow's failure hooks abort only once shards may run
        runs = start_shard_runs(jobs, settings.shard_deployment)
        start_timeout = settings.shard_ready_timeout_s + 60
        waiting = finished_runs(runs, jobs, start_timeout, start_timeout + planned + RUN_GRACE_S)
        outcomes = collect(waiting, barrier.abort)
        barrier.signals.clear([STARTED])  # every shard run has ended
        return outcomes
    except BaseException as exc:
        if runs:  # started shards stop on the abort (its Variable stays for late starters)
            barrier.abort(f"the coordinator stopped: {type(exc).__name__}: {exc}"[:300])
            stop_runs(runs)
        else:
            barrier.signals.clear([STARTED])
            barrier.clear()
        raise


def stop_pool_shards(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook of distributed_load_pool: shard flow runs outlive the coordinator, so tell
    them to stop through the barrier."""
    params = dict(getattr(flow_run, "parameters", {}) or {})
    plan = params.get("plan")
    if isinstance(plan, dict):
        plan = RunPlan.model_validate(plan)
    if isinstance(plan, RunPlan):
        barrier = barrier_spec(plan, int(params.get("shards") or 1), "prefect").open()
        if barrier.signals.get(STARTED) is not None:  # shard runs may still be going
            reason = f"the flow run ended {state.name}: {' '.join(str(state.message or '').split())[:200]}"
            barrier.abort(reason)
