"""The work-pool engine: one `run_deployment` of the `load_shard` deployment per shard.

Each shard is its own flow run, picked up by any worker of the deployment's pool (its own
infrastructure and logs). The shards meet at a barrier of Prefect Variables on the server;
each shard flow persists its ShardOutcome as its result, which the coordinator reads back
(the result storage must be readable by the coordinator: the default local storage on one
machine, a shared block such as S3 across machines). A shard run that fails, crashes or
never starts becomes the same error outcome as a lost Dask task, and sets the barrier's
abort so the others stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from luna.errors import ShardRunFailed
from tasks.distributed.model import ShardError, ShardOutcome
from tasks.distributed.shard import ShardJob

POLL_S = 0.5
RUN_GRACE_S = 300.0  # process start, sample parsing and result upload after k6's planned time


def start_shard_runs(jobs: Sequence[ShardJob], deployment: str) -> list[Any]:
    """One flow run of `deployment` per job, not waited for (`timeout=0`)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    runs = []
    for job in jobs:
        try:
            run = run_deployment(
                deployment,
                parameters={"job": job.model_dump(mode="json")},
                timeout=0,
                flow_run_name=f"{job.plan.run_id}-shard-{job.segment.index + 1}of{job.segment.count}",
                tags=["luna", "shard"],
            )
        except ObjectNotFound:
            raise ShardError(
                f"there is no deployment {deployment!r} on the Prefect server",
                location="SHARD_DEPLOYMENT",
                tip="deploy it (`prefect deploy --name load-shard` with prefect.yaml), or set SHARD_DEPLOYMENT "
                "to your load_shard deployment",
            ) from None
        runs.append(run)
    return runs


def outcome_of(state: Any, name: str) -> ShardOutcome:
    """The shard flow's persisted ShardOutcome; ShardRunFailed when it did not complete."""
    if not state.is_completed():
        message = " ".join(str(state.message or "").split())[:200]
        raise ShardRunFailed(f"flow run {name} ended {state.name}" + (f": {message}" if message else ""))
    value = state.result()
    return value if isinstance(value, ShardOutcome) else ShardOutcome.model_validate(value)


def failed(reason: str) -> ShardOutcome:
    raise ShardRunFailed(reason)


def cancel_runs(client: Any, run_ids: Sequence[UUID]) -> None:
    """Cancel flow runs that have not ended (best effort: a shard also stops on `abort`)."""
    from prefect.states import Cancelled, Cancelling

    for run_id in run_ids:
        try:
            state = client.read_flow_run(run_id).state
            if state is None or state.is_final():
                continue
            new: Any = Cancelling() if state.is_running() else Cancelled(message="the sharded run ended")
            client.set_flow_run_state(run_id, new, force=True)
        except Exception:  # noqa: BLE001, S112 - best effort; the barrier's abort stops running shards too
            continue


def finished_runs(
    runs: Sequence[Any], jobs: Sequence[ShardJob], start_timeout_s: float, run_timeout_s: float
) -> Iterator[tuple[ShardJob, Callable[[], ShardOutcome]]]:
    """(job, get outcome) as the shards' flow runs end, for `coordinate.collect`. A run no
    worker picked up within `start_timeout_s`, or one still going after `run_timeout_s`,
    ends as a failure, and is cancelled."""
    from prefect.client.orchestration import get_client

    pending = {run.id: (run, job) for run, job in zip(runs, jobs, strict=True)}
    began = time.monotonic()
    with get_client(sync_client=True) as client:
        while pending:
            for run_id, (run, job) in list(pending.items()):
                current = client.read_flow_run(run_id)
                state = current.state
                waited = time.monotonic() - began
                if state is not None and state.is_final():
                    del pending[run_id]
                    yield job, partial(outcome_of, state, run.name)
                    continue
                started = state is not None and (state.is_running() or current.start_time is not None)
                reason = None
                if not started and waited > start_timeout_s:
                    reason = (
                        f"no worker started flow run {run.name} within {start_timeout_s:g} s "
                        f"(is a worker polling the deployment's work pool?)"
                    )
                elif waited > run_timeout_s:
                    reason = (
                        f"flow run {run.name} was still {state.name if state else 'pending'} after {run_timeout_s:g} s"
                    )
                if reason is not None:
                    del pending[run_id]
                    cancel_runs(client, [run_id])

                    yield job, partial(failed, reason)
            if pending:
                time.sleep(POLL_S)


def stop_runs(runs: Sequence[Any]) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        cancel_runs(client, [run.id for run in runs])
