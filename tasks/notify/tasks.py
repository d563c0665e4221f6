"""The notify stage as Prefect tasks: webhooks and plugin hooks, one log line per delivery
or hook. The logic is in webhooks.py and hooks.py.

A webhook that keeps failing and a hook that raises are logged as warnings and do not
fail the run. What does raise: a bad setting (ConfigError) and, with LUNA_HOOKS_STRICT
or ``strict=True``, a failed hook (HookError).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.runtime import flow_run
from prefect.utilities.urls import url_for

from luna.errors import ConfigError, LunaError
from luna.settings import LunaSettings
from tasks.notify.hooks import HookContext, HookOutcome, Phase, call_hooks, check_outcomes, discover_hooks
from tasks.notify.payloads import RunEvent, run_event
from tasks.notify.settings import NotifySettings, webhook_settings
from tasks.notify.webhooks import DeliveryResult, deliver_all


def _prefect_link() -> str | None:
    """The flow run's page in the Prefect UI (the engine's "View at" URL), if any."""
    run_id = flow_run.id
    return url_for("flow-run", obj_id=run_id) if run_id else None


@task(name="notify-webhooks")
def notify_webhooks(run: RunEvent, settings: LunaSettings) -> list[DeliveryResult]:
    """POST the run outcome to every LUNA_WEBHOOK_URLS target (retries inside; never fails
    on a delivery failure, which is logged as a warning)."""
    logger = get_run_logger()
    notify = NotifySettings(settings)
    targets = notify.targets()
    if not targets:
        logger.info("webhooks: none configured (LUNA_WEBHOOK_URLS)")
        return []
    links = dict(run.links)
    if "prefect" not in links and (url := _prefect_link()):
        links["prefect"] = url
    secret = notify.secret()
    if secret is None:
        logger.info("webhooks: LUNA_WEBHOOK_SECRET is unset; deliveries are not signed")
    results = deliver_all(targets, run.model_copy(update={"links": links}), secret)
    for r in results:
        if r.ok:
            logger.info("webhook %s: delivered (HTTP %s, %d attempt(s))", r.url, r.status, r.attempts)
        else:
            logger.warning("webhook %s: failed after %d attempt(s): %s", r.url, r.attempts, r.error)
    return results


@task(name="run-hooks")
def run_hooks(
    phase: Phase,
    context: HookContext,
    settings: LunaSettings,
    folder: str | Path | None = None,
    strict: bool | None = None,
    timeout_s: float = 30.0,
) -> list[HookOutcome]:
    """Call the plugin hooks of ``phase``. ``folder``/``strict`` default to LUNA_HOOKS_DIR
    and LUNA_HOOKS_STRICT. A failed hook is a warning, or a HookError when strict."""
    logger = get_run_logger()
    notify = NotifySettings(settings)
    where = Path(folder) if folder is not None else notify.luna_hooks_dir
    is_strict = notify.luna_hooks_strict if strict is None else strict
    if not where.is_dir():
        if folder is None and notify.hooks_dir_is_explicit:
            raise ConfigError(f"LUNA_HOOKS_DIR: no folder at {where}", tip="create it, or unset LUNA_HOOKS_DIR")
        logger.debug("hooks: no folder at %s", where)
        return []
    outcomes = call_hooks(discover_hooks(where, timeout_s=timeout_s), phase, context, timeout_s=timeout_s)
    for o in outcomes:
        level = logging.INFO if o.ok else logging.WARNING
        logger.log(level, "hook %s (%s): %s in %.2f s", o.name, o.phase, "ok" if o.ok else o.error, o.duration_s)
    if is_strict:
        check_outcomes(outcomes)
    return outcomes


def notify_unfinished_run(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow `on_failure`/`on_crashed` hook: a run that ended before its verdict (bad input,
    unreachable target, k6 error, crash) still reaches the webhooks, once. A failed verdict
    was already sent by `notify_webhooks` and is skipped here, and so is a run started
    with notify=False (test-service notifies once for the whole pipeline)."""
    from luna.errors import RunFailed

    try:
        error = state.result(raise_on_failure=False)
    except Exception as exc:  # a crashed run may hold no readable result
        error = exc
    parameters = dict(getattr(flow_run, "parameters", {}) or {})
    if isinstance(error, RunFailed) or parameters.get("notify") is False:
        return
    settings = webhook_settings()
    targets = settings.targets()
    if not targets:
        return
    params = parameters.get("params") or parameters  # load_test(params=...) or test-service(target=...)
    message = error.one_line() if isinstance(error, LunaError) else (state.message or type(error).__name__)
    result = {
        "run_id": params.get("run_id"),
        "profile": params.get("profile"),
        "target": params.get("target"),
        "status": "error" if state.is_failed() else "crashed",
        "message": message,
    }
    links = {"prefect": url} if (url := url_for("flow-run", obj_id=flow_run.id)) else {}
    for r in deliver_all(targets, run_event(result, "fail", links), settings.secret()):
        logging.getLogger("luna.notify").log(
            logging.INFO if r.ok else logging.WARNING, "webhook %s: %s", r.url, "delivered" if r.ok else r.error
        )
