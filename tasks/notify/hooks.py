"""Plugin hooks: Python files in a folder that define ``on_run_start(context)`` and/or
``on_run_finish(context)``.

Plain functions, no Prefect: `tasks.py` wraps them. Each hook runs in its own thread
with a timeout and gets its own deep copy of the :class:`HookContext`, so it cannot
change Luna's state. A hook that fails to import, raises, or overruns is reported as a
failed :class:`HookOutcome`; only ``strict=True`` turns failures into a
:class:`HookError`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import importlib.util
import inspect
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from luna.errors import HookError

if TYPE_CHECKING:
    from luna.results import RunResult
    from luna.verdict import Verdict
    from tasks.execution.plan import RunPlan

Phase = Literal["start", "finish"]
FUNCTIONS: dict[Phase, str] = {"start": "on_run_start", "finish": "on_run_finish"}
STRICT_TIP = "fix the hook, or set LUNA_HOOKS_STRICT=false to report hook failures without failing the run"

log = logging.getLogger("luna.hooks")


class HookContext(BaseModel):
    """What a hook receives. Each hook gets its own deep copy; changing it changes nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(description="The run's id.")
    service: str | None = Field(None, description="Service name from the endpoints file.")
    profile: str = Field("", description="Load profile: smoke, ramp, soak, stress or spike.")
    target: str = Field("", description="Base URL under test.")
    run_dir: str = Field(description="The run folder; a hook may write its own files here.")
    phase: Phase = Field(description="start (before k6) or finish (after the result is written).")
    result: dict[str, Any] | None = Field(None, description="finish only: the RunResult as JSON-ready data.")
    verdict: dict[str, Any] | None = Field(None, description="finish only: the SLO verdict, when there is one.")

    @classmethod
    def at_start(cls, plan: RunPlan) -> HookContext:
        """The context for ``on_run_start`` from a prepared run plan."""
        return cls(
            run_id=plan.run_id,
            service=plan.catalog.service,
            profile=plan.profile,
            target=plan.target,
            run_dir=str(plan.run_dir),
            phase="start",
        )

    @classmethod
    def at_finish(cls, result: RunResult, verdict: Verdict | None = None) -> HookContext:
        """The context for ``on_run_finish`` from a RunResult and its verdict (hooks get them as JSON)."""
        return cls(
            run_id=result.run_id,
            service=result.service,
            profile=result.profile,
            target=result.target,
            run_dir=result.run_dir,
            phase="finish",
            result=result.model_dump(mode="json"),
            verdict=verdict.model_dump(mode="json") if verdict else None,
        )


@dataclass(frozen=True)
class Hook:
    """One discovered hook file. `error` is set when the file could not be loaded."""

    name: str
    path: Path
    on_run_start: Callable[..., Any] | None = None
    on_run_finish: Callable[..., Any] | None = None
    error: str | None = None

    def function(self, phase: Phase) -> Callable[..., Any] | None:
        return self.on_run_start if phase == "start" else self.on_run_finish


class HookOutcome(BaseModel):
    """How one hook call went."""

    name: str = Field(description="The hook's file stem.")
    phase: Phase
    ok: bool
    error: str | None = Field(None, description="Exception type and message in one line; no traceback.")
    duration_s: float = 0.0


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())[:300]


def _run_bounded(fn: Callable[[], Any], name: str, timeout_s: float) -> tuple[BaseException | None, bool]:
    """Run ``fn`` in a daemon thread (with the caller's context variables, so Prefect's
    run logger works inside hooks); return (exception, timed_out). A coroutine result is
    awaited. An overrunning thread is left behind: Python cannot stop a thread."""
    failure: list[BaseException] = []
    context = contextvars.copy_context()

    def body() -> None:
        try:
            value = context.run(fn)
            if inspect.iscoroutine(value):
                asyncio.run(value)
        except BaseException as exc:  # the thread boundary: hand everything back to the caller
            failure.append(exc)

    thread = threading.Thread(target=body, name=f"luna-hook-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return None, True
    return (failure[0] if failure else None), False


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"luna_hook_{digest}_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"


def load_hook(path: Path, *, timeout_s: float = 30.0) -> Hook:
    """Import one hook file under a unique module name; a failure becomes ``Hook.error``."""
    name = path.stem
    module_name = _module_name(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return Hook(name, path, error="import failed: not loadable as a Python module")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    loader = spec.loader
    exc, timed_out = _run_bounded(lambda: loader.exec_module(module), name, timeout_s)
    if timed_out or exc is not None:
        sys.modules.pop(module_name, None)
        if exc is not None:
            log.debug("hook %s failed to import", path, exc_info=exc)
        reason = f"timed out after {timeout_s:g} s" if timed_out else _describe(exc or Exception())
        return Hook(name, path, error=f"import failed: {reason}")
    found: dict[str, Callable[..., Any] | None] = {}
    for phase_name in FUNCTIONS.values():
        fn = getattr(module, phase_name, None)
        if fn is not None and not callable(fn):
            return Hook(name, path, error=f"{phase_name} is not a function")
        found[phase_name] = fn
    return Hook(name, path, on_run_start=found["on_run_start"], on_run_finish=found["on_run_finish"])


def discover_hooks(folder: Path, *, timeout_s: float = 30.0) -> list[Hook]:
    """Every ``*.py`` in ``folder`` not starting with ``_``, sorted by name. A missing
    folder means no hooks. Files that define neither function are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    hooks = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or not path.is_file():
            continue
        hook = load_hook(path, timeout_s=timeout_s)
        if hook.error or hook.on_run_start or hook.on_run_finish:
            hooks.append(hook)
        else:
            log.debug("%s defines neither on_run_start nor on_run_finish; skipped", path)
    return hooks


def check_outcomes(outcomes: Sequence[HookOutcome]) -> None:
    """Raise HookError naming every failed hook, if any failed."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        details = "; ".join(f"{o.name} ({o.phase}): {o.error}" for o in failed)
        raise HookError(f"{len(failed)} hook(s) failed: {details}", tip=STRICT_TIP)


def call_hooks(
    hooks: Sequence[Hook],
    phase: Phase,
    context: HookContext,
    *,
    strict: bool = False,
    timeout_s: float = 30.0,
) -> list[HookOutcome]:
    """Call every hook's function for ``phase`` with its own copy of ``context``.

    Returns one outcome per hook that has the function (or failed to load). With
    ``strict=True`` raises HookError after all hooks ran if any failed.
    """
    if phase not in FUNCTIONS:
        raise ValueError(f"phase must be one of {', '.join(FUNCTIONS)}, not {phase!r}")
    base = context if context.phase == phase else context.model_copy(update={"phase": phase})
    outcomes: list[HookOutcome] = []
    for hook in hooks:
        if hook.error:
            outcomes.append(HookOutcome(name=hook.name, phase=phase, ok=False, error=hook.error))
            continue
        fn = hook.function(phase)
        if fn is None:
            continue
        own = base.model_copy(deep=True)
        started = time.monotonic()
        exc, timed_out = _run_bounded(functools.partial(fn, own), hook.name, timeout_s)
        duration = round(time.monotonic() - started, 3)
        if timed_out:
            error: str | None = f"timed out after {timeout_s:g} s"
        elif exc is not None:
            log.debug("hook %s raised in %s", hook.name, phase, exc_info=exc)
            error = _describe(exc)
        else:
            error = None
        outcomes.append(HookOutcome(name=hook.name, phase=phase, ok=error is None, error=error, duration_s=duration))
    if strict:
        check_outcomes(outcomes)
    return outcomes
