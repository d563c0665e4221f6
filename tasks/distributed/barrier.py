"""The start barrier and the abort signal that the shards of one run share.

Each shard starts k6 paused, says `ready` once k6's REST API answers, and unpauses its
own k6 when every shard is ready, so the shards start within one poll interval of each
other without anyone reaching into another machine (k6's REST API stays on 127.0.0.1).
Any shard that fails, and the coordinator when a shard task dies, sets `abort` with a
one-line reason; every other shard watches it and stops its k6.

The signals live where the engine already has shared state:
- `dask`: Dask Variables on the cluster's scheduler (any Dask cluster);
- `prefect`: Prefect Variables on the Prefect server (work-pool shards, which share
  nothing but the server);
- `file`: files in a shared folder (one machine, tests).
"""

from __future__ import annotations

import contextlib
import re
import time
import weakref
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

POLL_S = 0.02


class Signals(Protocol):
    def set(self, key: str, value: str) -> None: ...
    def get(self, key: str) -> str | None: ...
    def clear(self, keys: list[str]) -> None: ...


class FileSignals:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def set(self, key: str, value: str) -> None:
        tmp = self.folder / f".{key}.tmp"
        tmp.write_text(value, encoding="utf-8")
        tmp.replace(self.folder / key)  # atomic: a reader never sees half a value

    def get(self, key: str) -> str | None:
        try:
            return (self.folder / key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def clear(self, keys: list[str]) -> None:
        for key in keys:
            (self.folder / key).unlink(missing_ok=True)


class DaskSignals:
    """A Dask Event (is it set?) and Variable (its value) named `<prefix>-<key>`, through
    the worker's client (or a new one). Polling an Event costs one scheduler round trip and,
    unlike reading an unset Variable, logs no error on the scheduler."""

    def __init__(self, prefix: str, address: str | None) -> None:
        from distributed import Client, get_client

        try:
            self.client = get_client()
        except ValueError:
            self.client = Client(address, set_as_default=False, timeout=10)
        self.prefix = prefix

    def _var(self, key: str) -> Any:
        from distributed import Variable

        return Variable(f"{self.prefix}-{key}", client=self.client)

    def _event(self, key: str) -> Any:
        from distributed import Event

        return Event(f"{self.prefix}-{key}", client=self.client)

    def set(self, key: str, value: str) -> None:
        self._var(key).set(value)
        self._event(key).set()

    def get(self, key: str) -> str | None:
        if not self._event(key).is_set():
            return None
        return str(self._var(key).get(timeout=5))

    def clear(self, keys: list[str]) -> None:
        for key in keys:
            if self._event(key).is_set():
                self._var(key).delete()
                self._event(key).clear()


class PrefectVariableSignals:
    """Prefect Variables named `<prefix>-<key>` (prefix `luna-shard-<run id>`), through one
    sync client of the Prefect API this process uses. A read is one GET; an unset key is a
    404, read as None."""

    def __init__(self, prefix: str) -> None:
        from prefect.client.orchestration import get_client

        self.prefix = prefix
        self.client = get_client(sync_client=True)
        self.client.__enter__()
        weakref.finalize(self, self.client.__exit__, None, None, None)  # close its connections with it

    def _name(self, key: str) -> str:
        return f"{self.prefix}-{key}"[:255]

    def set(self, key: str, value: str) -> None:
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate
        from prefect.exceptions import ObjectAlreadyExists

        try:
            self.client.create_variable(VariableCreate(name=self._name(key), value=value))
        except ObjectAlreadyExists:
            self.client.update_variable(VariableUpdate(name=self._name(key), value=value))

    def get(self, key: str) -> str | None:
        found = self.client.read_variable_by_name(self._name(key))
        return None if found is None else str(found.value)

    def clear(self, keys: list[str]) -> None:
        from prefect.exceptions import ObjectNotFound

        for key in keys:
            with contextlib.suppress(ObjectNotFound):
                self.client.delete_variable_by_name(self._name(key))


def signal_prefix(run_id: str) -> str:
    """A name for the run's signals: lowercase letters, digits, dashes and underscores."""
    return "luna-" + re.sub(r"[^a-z0-9_-]", "-", run_id.lower())[:200]


class BarrierSpec(BaseModel):
    """Where a run's shards meet; serialisable, so it travels with each shard's job."""

    kind: Literal["file", "dask", "prefect"]
    prefix: str
    folder: str | None = Field(None, description="file: the shared folder.")
    address: str | None = Field(None, description="dask: scheduler address when not inside a Dask worker.")
    count: int = Field(ge=1, description="Shards that must be ready before any starts.")

    def open(self) -> Barrier:
        signals: Signals
        if self.kind == "file":
            signals = FileSignals(Path(self.folder or "."))
        elif self.kind == "prefect":
            # One HTTP round trip per read: poll 10/s, not 50/s, to spare the API.
            return Barrier(PrefectVariableSignals(self.prefix), self.count, poll_s=0.1)
        else:
            signals = DaskSignals(self.prefix, self.address)
        return Barrier(signals, self.count)


class Barrier:
    def __init__(self, signals: Signals, count: int, poll_s: float = POLL_S) -> None:
        self.signals, self.count, self.poll_s = signals, count, poll_s

    def ready(self, index: int) -> None:
        self.signals.set(f"ready-{index}", "1")

    def abort(self, reason: str) -> None:
        if self.signals.get("abort") is None:  # keep the first reason: it is the cause
            self.signals.set("abort", reason)

    def aborted(self) -> str | None:
        return self.signals.get("abort")

    def ready_count(self) -> int:
        return sum(self.signals.get(f"ready-{i}") is not None for i in range(self.count))

    def wait_all(self, timeout_s: float, alive: object = None) -> Literal["go", "abort", "timeout", "dead"]:
        """Block until every shard is ready ("go"), an abort, the timeout, or `alive()` is false."""
        deadline = time.monotonic() + timeout_s
        # One flag read per poll, not N: the lowest shard not yet seen ready. Every shard must
        # be ready anyway, so this costs N/POLL_S reads/s on the scheduler, not N²/POLL_S.
        next_up = 0
        while True:
            if self.aborted() is not None:
                return "abort"
            while next_up < self.count and self.signals.get(f"ready-{next_up}") is not None:
                next_up += 1
            if next_up == self.count:
                return "go"
            if callable(alive) and not alive():
                return "dead"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(self.poll_s)

    def clear(self) -> None:
        self.signals.clear(["abort", *(f"ready-{i}" for i in range(self.count))])
