"""The load-run stage as Prefect tasks. The logic is in plan.py and k6.py; this file adds
the run log, the progress artifact, the terminal progress bar and the result artifacts."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from luna.results import RunResult
from luna.settings import load_settings
from luna.verdict import Verdict
from tasks.execution.k6 import run_k6
from tasks.execution.plan import LoadTestParams, RunPlan, prepare_run

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    text = "-".join(parts).lower()
    return "-".join("".join(c if c.isalnum() and c.isascii() else "-" for c in text).split("-")).strip("-")[:100]


class Progress:
    """Feeds one fraction to the Prefect progress artifact (throttled) and, in a terminal,
    to a rich progress bar on stderr."""

    def __init__(self, plan: RunPlan) -> None:
        self.artifact = cast(
            UUID,
            create_progress_artifact(
                progress=0.0,
                key=artifact_key("progress", plan.catalog.service, plan.profile),
                description=f"k6 {plan.profile} against {plan.target} (run {plan.run_id})",
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


@task(name="prepare-run")
def prepare(params: LoadTestParams) -> RunPlan:
    """Validate the input and create the run folder (raises LunaError on bad input)."""
    plan = prepare_run(params)
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
    progress = Progress(plan)

    def line(level: str, text: str) -> None:
        logger.log(LEVELS.get(level, logging.INFO), text, extra={"luna_k6_line": True})

    try:
        result = run_k6(plan, load_settings(), on_line=line, on_progress=progress)
    finally:
        progress.close()
    logger.log(
        logging.INFO if result.status == "passed" else logging.WARNING, "%s: %s", result.status.upper(), result.message
    )
    return result


@task(name="publish-run")
def publish(result: RunResult, verdict: Verdict, metrics_stored: bool = True) -> None:
    """A markdown artifact with the outcome and per-endpoint table."""
    rows = "\n".join(
        f"| {e.name} | {e.group} | {e.method} {e.path} | {e.requests} | {e.rps:.1f} | {_ms(e.latency_ms.p50)} | "
        f"{_ms(e.latency_ms.p95)} | {_ms(e.latency_ms.p99)} | {_pct(e.error_rate)} | {_pct(e.check_pass_rate)} |"
        for e in result.endpoints
    )
    total = result.total
    markdown = (
        f"# {result.service} · {result.profile} · {verdict.status.upper()}\n\n{verdict.reason}\n\n"
        f"Run `{result.run_id}` against `{result.target}`; folder `{result.run_dir}`.\n\n"
        + (
            f"**{total.requests} requests, {total.rps:.1f} req/s, p95 {_ms(total.latency_ms.p95)} ms, "
            f"errors {_pct(total.error_rate)}**\n\n"
            if total
            else ""
        )
        + "| endpoint | group | request | reqs | rps | p50 ms | p95 ms | p99 ms | errors | checks |\n"
        + "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        + rows
        + "\n"
    )
    create_markdown_artifact(
        markdown=markdown,
        key=artifact_key("load-test", result.service or "", result.profile),
        description=f"{result.status}: {result.message}"[:500],
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"
