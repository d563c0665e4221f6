"""The load-run stage as Prefect tasks. The logic is in plan.py and k6.py; this file adds
the run log, the progress artifact, the terminal progress bar and the result artifacts."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from luna.errors import ConfigError
from luna.keys import artifact_key
from luna.results import RunResult
from luna.settings import LunaSettings, apply_overrides, load_settings
from tasks.execution.k6 import run_k6
from tasks.execution.live import live_dashboard
from tasks.execution.plan import LoadTestParams, RunPlan, prepare_run

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


class Progress:
    """Feeds one fraction to the Prefect progress artifact (throttled) and, in a terminal,
    to a rich progress bar on stderr."""

    def __init__(self, plan: RunPlan, live_url: str | None = None) -> None:
        live = f"; live dashboard while it runs: {live_url}" if live_url else ""
        self.artifact = cast(
            UUID,
            create_progress_artifact(
                progress=0.0,
                key=artifact_key("luna-progress", plan.catalog.service, plan.profile),
                description=f"k6 {plan.profile} against {plan.target} (run {plan.run_id}){live}",
            ),
        )
        self.sent = 0.0
        self.sent_at = 0.0
        self.bar: Any = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn(f"k6 {plan.profile}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=True,
            )
            self.bar_task = self.bar.add_task("starting", total=1.0)
            self.bar.start()

    def __call__(self, fraction: float, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.bar_task, completed=fraction, description=text[-60:])
        now = time.monotonic()
        if fraction >= 1.0 or fraction - self.sent >= 0.05 or now - self.sent_at >= 5:
            update_progress_artifact(self.artifact, progress=round(fraction * 100, 1))
            self.sent, self.sent_at = fraction, now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_settings(auth_block: str | None) -> LunaSettings:
    """The settings of this run: environment and .env, with a ServiceAuth block's credentials."""
    settings = load_settings()
    if auth_block is None:
        return settings
    from blocks.auth import ServiceAuth

    try:
        block = cast(ServiceAuth, ServiceAuth.load(auth_block))
    except ValueError:
        raise ConfigError(
            f"auth block {auth_block!r} not found",
            tip="create it in the Prefect UI (Blocks) or with ServiceAuth(...).save(name)",
        ) from None
    return apply_overrides(settings, block.settings_overrides())


@task(name="prepare-run")
def prepare(params: LoadTestParams) -> RunPlan:
    """Validate the input and create the run folder (raises LunaError on bad input)."""
    plan = prepare_run(params, run_settings(params.auth_block))
    get_run_logger().info(
        "run %s: %s %s model against %s, %d endpoints, folder %s",
        plan.run_id,
        plan.profile,
        plan.load_model,
        plan.target,
        len(plan.catalog.endpoints),
        plan.run_dir,
    )
    return plan


@task(name="k6-run")
def execute(plan: RunPlan) -> RunResult:
    """Run k6, streaming each output line into the run log."""
    logger = get_run_logger()
    settings = run_settings(plan.auth_block)

    def line(level: str, text: str) -> None:
        logger.log(LEVELS.get(level, logging.INFO), text, extra={"luna_k6_line": True})

    with live_dashboard(settings) as live:
        if live is not None:
            logger.info("live dashboard: %s (while k6 runs; LUNA_LIVE_DASHBOARD=false turns it off)", live.url)
        progress = Progress(plan, live.url if live else None)
        try:
            extra = live.k6_env if live else None
            result = run_k6(plan, settings, on_line=line, on_progress=progress, extra_env=extra)
        finally:
            progress.close()
    logger.log(
        logging.INFO if result.status == "passed" else logging.WARNING, "%s: %s", result.status.upper(), result.message
    )
    return result
