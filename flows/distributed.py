"""Flows of sharded runs: one run's k6 execution segments, started together, merged into
one RunResult. `load_test` calls `execute_sharded` when `shards > 1`; everything after
execution (verdict, history, reports, webhooks) is the same as for one k6 process.

Two engines (SHARD_ENGINE): `dask` runs the shards as tasks of `distributed_load` on a
Dask cluster; `work-pool` runs each shard as a flow run of the `load_shard` deployment
(SHARD_DEPLOYMENT) on a Prefect work pool, from `distributed_load_pool`."""

from typing import Any

from prefect import flow

from luna.results import RunResult
from tasks.distributed.engine import dask_task_runner
from tasks.distributed.model import ShardOutcome
from tasks.distributed.settings import load_distributed_settings
from tasks.distributed.shard import ShardJob
from tasks.distributed.tasks import (
    collect_shards,
    merge_shards,
    plan_pool_shards,
    plan_shards,
    run_pool_shards,
    run_shard_task,
    stop_pool_shards,
    stop_shards,
)
from tasks.execution.plan import RunPlan


@flow(name="distributed_load", on_cancellation=[stop_shards], on_crashed=[stop_shards], on_failure=[stop_shards])
def distributed_load(plan: RunPlan, shards: int) -> RunResult:
    """Run `plan` as `shards` k6 execution segments on the flow's Dask task runner."""
    jobs = plan_shards.submit(plan, shards).result()  # on the cluster: it checks its capacity
    futures = run_shard_task.map(jobs)
    outcomes = collect_shards(futures, jobs)
    return merge_shards(plan, outcomes, jobs[0].barrier)


@flow(name="load-shard", persist_result=True)
def load_shard(job: ShardJob) -> ShardOutcome:
    """One shard of a sharded run, as its own flow run on a work pool. Its result (the
    ShardOutcome) is persisted: the coordinator reads it back from the result storage."""
    return run_shard_task(job)


@flow(
    name="distributed_load_pool",
    on_cancellation=[stop_pool_shards],
    on_crashed=[stop_pool_shards],
    on_failure=[stop_pool_shards],
)
def distributed_load_pool(plan: RunPlan, shards: int) -> RunResult:
    """Run `plan` as `shards` flow runs of the `load_shard` deployment (SHARD_DEPLOYMENT)."""
    jobs = plan_pool_shards(plan, shards)
    outcomes = run_pool_shards(jobs)
    return merge_shards(plan, outcomes, jobs[0].barrier)


def sharded_load_flow(shards: int) -> Any:
    """The flow that runs `shards` segments on the configured engine. SHARD_ENGINE=work-pool:
    `distributed_load_pool`. Otherwise `distributed_load` on DASK_ADDRESS's cluster, or on a
    local cluster sized for the shards. Call it as `(plan, shards)`, with `return_state=True`
    to get the State."""
    settings = load_distributed_settings()
    if settings.shard_engine == "work-pool":
        return distributed_load_pool
    return distributed_load.with_options(task_runner=dask_task_runner(settings, shards))


def execute_sharded(plan: RunPlan, shards: int) -> RunResult:
    """Run `plan` as `shards` segments on the configured engine; the merged RunResult."""
    result: RunResult = sharded_load_flow(shards)(plan, shards)
    return result
