"""Flow `distributed_load`: one run's k6 execution segments as tasks on a Dask cluster,
started together, merged into one RunResult. `load_test` calls `execute_sharded` when
`shards > 1`; everything after execution (verdict, history, reports, webhooks) is the
same as for one k6 process."""

from prefect import flow

from luna.results import RunResult
from tasks.distributed.engine import dask_task_runner
from tasks.distributed.settings import load_distributed_settings
from tasks.distributed.tasks import collect_shards, merge_shards, plan_shards, run_shard_task, stop_shards
from tasks.execution.plan import RunPlan


@flow(name="distributed_load", on_cancellation=[stop_shards], on_crashed=[stop_shards], on_failure=[stop_shards])
def distributed_load(plan: RunPlan, shards: int) -> RunResult:
    """Run `plan` as `shards` k6 execution segments on the flow's Dask task runner."""
    jobs = plan_shards.submit(plan, shards).result()  # on the cluster: it checks its capacity
    futures = run_shard_task.map(jobs)
    outcomes = collect_shards(futures, jobs)
    return merge_shards(plan, outcomes, jobs[0].barrier)


def execute_sharded(plan: RunPlan, shards: int) -> RunResult:
    """`distributed_load` on DASK_ADDRESS's cluster, or on a local cluster sized for the shards."""
    runner = dask_task_runner(load_distributed_settings(), shards)
    return distributed_load.with_options(task_runner=runner)(plan, shards)
