"""How the application layer reaches Prefect: which server (PREFECT_API_URL, a `luna up`
server on the local port, or a temporary one, announced), and the one way a flow's final
state becomes a value or a classified error (`unwrap`). Used by app/operations.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from app import unfinished
from luna.errors import FlowFailed, LunaError
from luna.settings import load_settings

T = TypeVar("T")


def prefect_api(port: int) -> str | None:
    """The Prefect API to use: PREFECT_API_URL, else a server on the local port, else None."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return configured
    os.environ.pop("PREFECT_API_URL", None)  # an empty value would confuse Prefect
    url = f"http://127.0.0.1:{port}/api"
    try:
        if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
            return url
    except httpx.HTTPError:
        pass
    return None


def use_prefect(api_url: str | None = None, *, announce: bool = True) -> str | None:
    """Point Prefect at `api_url`, else at the server prefect_api() finds; with neither,
    Prefect starts a temporary local server (announced on stderr unless told not to)."""
    api = api_url or prefect_api(load_settings().luna_prefect_port)
    if api:
        os.environ["PREFECT_API_URL"] = api
        return api
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect waits 20 s for its temporary server by default; on a busy 2-core machine (a
    # shared CI runner) its start takes longer, and the run would fail before any load.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if announce:
        print(
            "luna: no Prefect server running: using a temporary one (adds ~15 s; `luna up` starts a lasting one)",
            file=sys.stderr,
        )
    return None


@dataclass(frozen=True)
class Prefect:
    """How an operation reaches Prefect: a given API URL, or the usual search (announced)."""

    api_url: str | None = None
    announce: bool = True

    def use(self) -> None:
        use_prefect(self.api_url, announce=self.announce)
        unfinished.sweep()  # flow runs a killed luna left Running become Crashed (app/unfinished.py)


DEFAULT_PREFECT = Prefect()


def unwrap(
    state: Any, flow_name: str, expected: type[T], carried: Callable[[BaseException], T | None] | None = None
) -> T:
    """The one way a flow's final state becomes a value: the result, the result a failure
    carries (RunFailed, PipelineFailed, SuiteFailed), or a raised LunaError."""
    outcome: Any = state.result(raise_on_failure=False)
    if isinstance(outcome, expected):
        return outcome
    if isinstance(outcome, BaseException):
        value = carried(outcome) if carried else None
        if value is not None:
            return value
        if isinstance(outcome, LunaError):
            raise outcome
        text = str(outcome).strip().splitlines()
        raise FlowFailed(
            f"the {flow_name} flow failed: {type(outcome).__name__}: {text[0] if text else ''}".rstrip(": "),
            tip="LUNA_DEBUG=1 and the Prefect logs say more",
        )
    raise FlowFailed(f"the {flow_name} flow returned {type(outcome).__name__}, not a {expected.__name__}")
