"""Runs whose luna process was killed (`kill -9`, a crash, a power loss) before it could say so.

Nothing in a process survives SIGKILL: Prefect's own crash handling (a Crashed state on
SIGTERM or an exception escaping the engine) never runs, so the flow run would stay Running
for ever and the run folder would hold no summary. What Luna marks, and when:

- **before the flow starts** (:func:`started`): a load run's ``summary.json`` says
  ``aborted``, "unfinished", with this process's pid; the real summary replaces it when the run
  ends (k6's result is written even on Ctrl-C or a cancel). The flow runs of the operation
  carry a tag naming this process (``luna-pid:<host>:<pid>:<start time>``);
- **the next time an operation on this host talks to Prefect** (:func:`sweep`, from
  ``Prefect.use()``): a flow run still Running or Pending whose tag names a process of this
  host that is gone is set to Crashed, with a message saying so.

What cannot be marked: a run whose process was killed on another machine (its tag names
another host) stays Running until a luna on that host runs again, or is cancelled by hand in
the Prefect UI; results after the kill (the verdict, the reports) are not written. The
pipeline writes ``pipeline.json`` when it starts (``finished_at`` unset until it ends).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil

from luna.settings import Profile

TAG_PREFIX = "luna-pid:"


def process_tag(pid: int | None = None) -> str:
    """This process as a Prefect tag: host, pid and start time (pids are reused)."""
    pid = pid or os.getpid()
    return f"{TAG_PREFIX}{socket.gethostname()}:{pid}:{int(psutil.Process(pid).create_time())}"


def is_gone(tag: str) -> bool:
    """True when the tag names a process of this host that no longer runs."""
    try:
        host, pid, created = tag.removeprefix(TAG_PREFIX).rsplit(":", 2)
        if host != socket.gethostname():
            return False
        return int(psutil.Process(int(pid)).create_time()) != int(created)
    except psutil.NoSuchProcess:
        return True
    except (ValueError, psutil.Error):
        return False


@contextlib.contextmanager
def started(
    run_dir: Path | None = None, *, run_id: str = "", profile: Profile = "smoke", target: str = ""
) -> Iterator[None]:
    """Around a flow call: the placeholder summary (load runs) and this process's tag."""
    from prefect import tags

    if run_dir is not None and not (run_dir / "summary.json").exists():
        from luna.results import RunResult

        now = datetime.now(UTC)
        RunResult(
            run_id=run_id,
            profile=profile,
            target=target,
            status="aborted",
            message=f"unfinished: luna (pid {os.getpid()}) started this run at {now:%H:%M:%S} UTC and has not "
            "recorded its end; if that process is gone it was killed (kill -9) or crashed",
            started_at=now,
            run_dir=str(run_dir),
        ).write()
    with tags(process_tag()):
        yield


def sweep(limit: int = 200) -> list[str]:
    """Set to Crashed the Running/Pending flow runs whose luna process is gone; their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    marked = []
    live = FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=live)), limit=limit
        ):
            tag = next((t for t in run.tags if t.startswith(TAG_PREFIX)), None)
            if tag is None or not is_gone(tag):
                continue
            pid = tag.rsplit(":", 2)[1]
            message = f"the luna process (pid {pid}) ended before this run did: killed (kill -9) or crashed"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            marked.append(run.name)
    return marked
