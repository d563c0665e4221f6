"""Run one shard: k6 on its execution segment, started paused, unpaused when every shard
is ready, stopped when any other shard fails or breaches, its VUs' measure (k6/lib/measure.js) added
up to tallies and HDR histograms on the machine that ran it, as a single run's is.

The k6 process is handled exactly like a single run (tasks/execution/k6.py): its own
process group, PR_SET_PDEATHSIG, every line to the run log, SIGINT then SIGKILL in
`finally`. Only the command differs: `--paused`, a REST API on a free loopback port,
the segment flags, and `--out csv=samples.csv` (k6's raw samples, an audit trail) only with
SHARD_RAW_SAMPLES=true or for a script of the user's own, whose figures come from them.

With `slos.abort_on_breach` each shard runs the single run's breach watch on its own
calls: a shard's calls are an even 1/N slice of the run's (execution segments), so when
its p95 or error rate crosses the run's SLO it stops its k6 and, through the barrier,
every other shard; the merged run is then judged exactly on what all shards measured.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from luna.masking import Masker
from luna.results import Status
from luna.settings import LunaSettings
from tasks.distributed.barrier import Barrier, BarrierSpec
from tasks.distributed.model import ShardOutcome
from tasks.distributed.samples import CSV_TIME_FORMAT, parse_file
from tasks.distributed.segments import Segment
from tasks.execution.k6 import (
    SAMPLES_ENV,
    collect_result,
    dashboard_period_ms,
    influx_output,
    k6_command,
    k6_process_env,
    measured_in_vus,
)
from tasks.execution.k6_check import inspect_plan
from tasks.execution.launcher import interrupt, output_lines, start_k6, stop_process
from tasks.execution.output import LineSink, OutputHandler, OutputState
from tasks.execution.plan import K6_DIR, RunPlan
from tasks.execution.series import series_period_s

REST_PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and k6 binding it


class ShardJob(BaseModel):
    """Everything a shard needs, with no secrets (the worker has its own settings)."""

    plan: RunPlan
    segment: Segment
    barrier: BarrierSpec
    files: dict[str, str] = Field(description="endpoints.json and data/<endpoint>.json, by name, as text.")
    ready_timeout_s: float = Field(120.0, description="How long a ready shard waits for the others.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shard_dir(plan: RunPlan, index: int, out_dir: Path) -> Path:
    """`<run>/shards/<i>` on the coordinator's path when this machine can write there
    (same machine, shared disk), else under this worker's own out dir."""
    for base in (plan.run_dir, out_dir.resolve() / "runs" / plan.run_id):
        folder = base / "shards" / str(index)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return folder
        except OSError:
            continue
    raise OSError(f"cannot create a shard folder for run {plan.run_id}")


def shard_plan(job: ShardJob, folder: Path, settings: LunaSettings) -> RunPlan:
    """The run's plan, re-rooted in the shard's folder on this machine: its own endpoints
    and data files, this machine's k6 and script when the coordinator's paths are absent."""
    catalog = json.loads(job.files["endpoints.json"])
    for ep in catalog["endpoints"]:
        name = f"data/{ep['name']}.json"
        if name in job.files:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(job.files[name], encoding="utf-8")
            ep["data_file"] = str(path)
    endpoints = folder / "endpoints.json"
    endpoints.write_text(json.dumps(catalog, indent=2), encoding="utf-8")
    plan = job.plan
    script = plan.script if plan.script.is_file() else (K6_DIR / plan.script.name).resolve()
    k6 = plan.k6_binary if Path(plan.k6_binary).is_file() else settings.k6_path()
    return plan.model_copy(
        update={
            "run_dir": folder,
            "endpoints_file": endpoints,
            "script": script,
            "k6_binary": k6,
            "k6_env": {**plan.k6_env, "ENDPOINTS_FILE": str(endpoints)},
        }
    )


def shard_command(
    plan: RunPlan, segment: Segment, port: int, samples: Path, influx_out: str | None, raw_samples: bool = False
) -> list[str]:
    cmd = k6_command(plan, influx_out)
    cmd[cmd.index("--address") + 1] = f"127.0.0.1:{port}"
    run_at = cmd.index("run") + 1
    # Raw samples cost k6 a quarter of its throughput: only when asked (SHARD_RAW_SAMPLES), or
    # for a user's script (LUNA_K6_SCRIPT), whose figures come from them.
    raw = ["--out", f"csv={samples}"] if raw_samples or not measured_in_vus(plan) else []
    cmd[run_at:run_at] = ["--paused", *segment.k6_args(), *raw]
    return cmd


@dataclass
class Control:
    """What the control thread saw; read by the shard after k6 has ended."""

    ready_at: datetime | None = None
    resumed_at: datetime | None = None
    stopped_by_peer: bool = False
    peer_reason: str | None = None
    error: str | None = None
    rest_failed: bool = False
    breached: bool = False  # this shard's breach watch stopped k6 (and told the others)


def _status(client: httpx.Client, base: str) -> bool:
    try:
        return client.get(f"{base}/v1/status", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def control(
    proc: subprocess.Popen[str], port: int, job: ShardJob, barrier: Barrier, state: Control, on_line: LineSink
) -> None:
    """Ready -> wait for all -> unpause -> watch for an abort until k6 ends."""
    base = f"http://127.0.0.1:{port}"
    label = job.segment.label
    with httpx.Client() as client:
        deadline = time.monotonic() + 60
        while not _status(client, base):
            if proc.poll() is not None:
                state.rest_failed = True
                return
            if time.monotonic() > deadline:
                state.error = f"{label}: k6's REST API on {base} did not answer within 60 s"
                stop_process(proc)
                return
            time.sleep(0.05)
        state.ready_at = datetime.now(UTC)
        barrier.ready(job.segment.index)
        on_line("info", f"{label} ready (k6 paused); waiting for the other shards")
        outcome = barrier.wait_all(job.ready_timeout_s, alive=lambda: proc.poll() is None)
        if outcome == "abort":
            state.stopped_by_peer, state.peer_reason = True, barrier.aborted()
            stop_process(proc)
            return
        if outcome == "timeout":
            state.error = (
                f"{label}: only {barrier.ready_count()} of {barrier.count} shards were ready after "
                f"{job.ready_timeout_s:g} s"
            )
            stop_process(proc)
            return
        if outcome == "dead":
            return
        resumed = client.patch(
            f"{base}/v1/status", json={"data": {"type": "status", "id": "default", "attributes": {"paused": False}}}
        )
        resumed.raise_for_status()
        state.resumed_at = datetime.now(UTC)
        on_line("info", f"{label} started ({job.segment.segment} of the test)")
        while proc.poll() is None:
            if state.breached:  # k6 is stopping already; its own abort is on the barrier
                return
            if (reason := barrier.aborted()) is not None:
                state.stopped_by_peer, state.peer_reason = True, reason
                on_line("warning", f"{label}: stopping: {reason}")
                stop_process(proc)
                return
            time.sleep(0.1)


def _stop_on_breach(
    proc: subprocess.Popen[str], job: ShardJob, barrier: Barrier, ctl: Control, state: OutputState, on_line: LineSink
) -> None:
    """This shard's calls crossed the run's SLO: stop its k6 (one SIGINT, as a single run's
    breach does) and every other shard through the barrier. A shard another shard already
    stopped is left to that stop: a second SIGINT would make k6 drop its last samples."""
    if ctl.stopped_by_peer:
        return
    ctl.breached = True  # first: the control thread must not send k6 a second SIGINT
    reason = f"{job.segment.label}: {state.breach}"
    on_line("warning", reason)
    interrupt(proc)
    barrier.abort(reason[:300])


def _drain(relay: queue.Queue[tuple[str, str]], on_line: LineSink) -> None:
    while not relay.empty():
        on_line(*relay.get_nowait())


def _control_thread(*args: object) -> None:
    state = args[3]
    try:
        control(*args)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - reported as the shard's error, k6 stopped
        assert isinstance(state, Control)
        state.error = f"shard control failed: {type(exc).__name__}: {exc}"
        stop_process(args[0])  # type: ignore[arg-type]


def _shard_status(status: Status, message: str, ctl: Control) -> tuple[Status, str]:
    """k6's outcome, unless the control thread failed or another shard stopped this one."""
    if ctl.error is not None:
        return "error", ctl.error
    if ctl.stopped_by_peer and not ctl.breached:
        return "aborted", f"stopped: {ctl.peer_reason or 'another shard failed'}"
    return status, message


def run_shard(job: ShardJob, settings: LunaSettings, on_line: LineSink) -> ShardOutcome:
    """Run the shard to its end (or until stopped) and reduce its samples; never raises for
    a k6 failure (the outcome says it, and the barrier's abort tells the other shards)."""
    barrier = job.barrier.open()
    label = job.segment.label
    started = datetime.now(UTC)
    folder = shard_dir(job.plan, job.segment.index, settings.luna_out_dir)
    plan = shard_plan(job, folder, settings)
    try:
        total_s = inspect_plan(plan)  # this host's k6 works and accepts the shard's script
        store, influx_out, influx_env = influx_output(settings, on_line)
        del store  # completeness is counted once, for the whole run id, after the merge
        period_ms = dashboard_period_ms(total_s)
        samples = folder / "samples.csv"
        mask = Masker.from_settings(settings)
        for _attempt in range(REST_PORT_ATTEMPTS):
            state = OutputState(
                failure_cap=max(3, settings.luna_failure_samples // job.segment.count),
                series_period_s=series_period_s(total_s),
                series_buckets=True,
            )
            ctl = Control()
            code = _run_k6(
                plan, job, barrier, settings, period_ms, samples, influx_out, influx_env, mask, state, ctl, on_line
            )
            if not (ctl.rest_failed and code == 106):
                break
    except BaseException as exc:
        barrier.abort(f"{label}: {type(exc).__name__}: {exc}"[:300])
        raise
    result = collect_result(plan, code, state, None)
    status, message = _shard_status(result.status, result.message, ctl)
    outcome = ShardOutcome(
        index=job.segment.index,
        count=job.segment.count,
        host=socket.gethostname(),
        status=status,
        message=message,
        k6_exit_code=code,
        stopped_by_peer=ctl.stopped_by_peer and ctl.error is None and not ctl.breached,
        stopped_early=state.breach if status == "failed" else None,
        started_at=started,
        ready_at=ctl.ready_at,
        resumed_at=ctl.resumed_at,
        finished_at=datetime.now(UTC),
        duration_s=result.duration_s,
        thresholds=result.thresholds,
        failure_samples=state.failures_kept,
        influx_errors=state.influx_errors,
        run_dir=str(folder),
    )
    if not outcome.completed and not outcome.stopped_by_peer:
        barrier.abort(f"{label} on {outcome.host}: {message}")
    _add_samples(outcome, state, samples)
    (folder / "outcome.json").write_text(outcome.model_dump_json(indent=2), encoding="utf-8")
    return outcome


def _add_samples(outcome: ShardOutcome, state: OutputState, samples: Path) -> None:
    """The shard's tallies (and periods, for the merged run's charts) from the VUs' own
    measure, the same reduction as a single run's; from k6's raw samples for a script
    without Luna's measure."""
    if state.measure is not None:
        outcome.samples = state.measure.result(state.iterations, state.vus_max)
        if state.measure.series is not None and state.measure.series.done is not None:
            outcome.series = state.measure.series.counts
    elif samples.is_file():
        began = time.perf_counter()
        outcome.samples = parse_file(samples)
        outcome.samples_parse_s = time.perf_counter() - began


def _run_k6(
    plan: RunPlan,
    job: ShardJob,
    barrier: Barrier,
    settings: LunaSettings,
    period_ms: int,
    samples: Path,
    influx_out: str | None,
    influx_env: dict[str, str],
    mask: Masker,
    state: OutputState,
    ctl: Control,
    on_line: LineSink,
) -> int | None:
    port = free_port()
    with (
        (plan.run_dir / "k6.log").open("w", encoding="utf-8") as log,
        (plan.run_dir / "failures.jsonl").open("w", encoding="utf-8") as failures,
    ):
        handler = OutputHandler(plan, mask, state, log, failures, on_line, lambda fraction, text: None)
        env = {**k6_process_env(plan, settings, period_ms), **influx_env, "K6_CSV_TIME_FORMAT": CSV_TIME_FORMAT}
        command = shard_command(plan, job.segment, port, samples, influx_out, settings.shard_raw_samples)
        if "--out" in command:  # raw samples in the CSV carry each endpoint's name tag
            env |= SAMPLES_ENV
        proc = start_k6(command, plan.script.parent, env)
        (plan.run_dir / "k6.pid").write_text(str(proc.pid), encoding="utf-8")
        watcher = threading.Thread(
            target=_control_thread,
            args=(proc, port, job, barrier, ctl, on_line),
            daemon=True,
            name="luna-shard-control",
        )
        watcher.start()
        handler.watch_breaches(lambda: _stop_on_breach(proc, job, barrier, ctl, state, on_line))
        try:
            for stream, line in output_lines(proc):
                handler.handle(stream, line)
            proc.wait()
        finally:
            stop_process(proc)
            watcher.join(timeout=30)
            if os.path.exists(plan.run_dir / "k6.pid"):
                (plan.run_dir / "k6.pid").unlink()
    return proc.returncode
