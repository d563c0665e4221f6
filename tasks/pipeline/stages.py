"""The pipeline's stages as Prefect tasks that return a StageOutcome instead of raising,
and the plain functions that turn a stage's own result into that outcome.

A stage that raises (a LunaError, or anything else) becomes an `error` outcome with one
line; the pipeline goes on with the stages that do not depend on it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import State

from luna.errors import ConfigError, LunaError
from luna.keys import artifact_key
from luna.results import RunResult
from luna.verdict import Verdict
from tasks.discovery.model import Discovery
from tasks.pipeline.model import PipelineResult, StageName, StageOutcome, slo_failures

T = TypeVar("T")


def new_pipeline_id(profile: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-pipeline-{profile}-{secrets.token_hex(2)}"


def check_target(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"target {target!r} is not an http(s) URL", location="target", tip="pass e.g. http://127.0.0.1:8787"
        )
    return target.rstrip("/")


def one_line(exc: BaseException) -> str:
    if isinstance(exc, LunaError):
        return exc.one_line()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def skipped(name: StageName, reason: str) -> StageOutcome:
    return StageOutcome(name=name, status="skipped", reason=reason)


def settle(name: StageName, state: State[Any], started: float) -> tuple[Any, StageOutcome | None]:
    """(value, None) for a completed task; (None, error outcome) for a failed or crashed one."""
    if state.is_completed():
        return state.result(), None
    try:
        state.result(raise_on_failure=True)
        reason = state.message or state.name or "did not complete"
    except BaseException as exc:  # the task's own exception, re-raised by Prefect
        reason = one_line(exc)
    return None, StageOutcome(name=name, status="error", reason=reason, seconds=round(time.monotonic() - started, 2))


def timed(name: StageName, fn: Callable[[], StageOutcome]) -> StageOutcome:
    """Run a stage body; any exception becomes an `error` outcome with one line."""
    started = time.monotonic()
    try:
        outcome = fn()
    except Exception as exc:  # a stage's failure is a result of the pipeline, not a crash
        get_run_logger().warning("stage %s: %s", name, one_line(exc))
        outcome = StageOutcome(name=name, status="error", reason=one_line(exc))
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


def pages_of(discoveries: list[Discovery], target: str) -> list[str]:
    """Page URLs for the browser stages: GET endpoints that serve HTML, else the target's root."""
    pages = [
        target + e.path
        for d in discoveries
        for e in d.endpoints
        if e.method == "GET" and (e.response_type or "").startswith("text/html") and "{" not in e.path
    ]
    return list(dict.fromkeys(pages)) or [target + "/"]


def discovery_outcome(discoveries: list[Discovery], data: dict[str, Any], endpoints_file: Path) -> StageOutcome:
    warnings = [f"{d.source}: {w}" for d in discoveries for w in d.warnings]
    kinds = sorted({d.kind for d in discoveries})
    return StageOutcome(
        name="discover",
        status="passed",
        reason=f"{len(data['endpoints'])} endpoints from {', '.join(kinds)}"
        + (f"; {len(warnings)} warnings" if warnings else ""),
        details={"endpoints": len(data["endpoints"]), "kinds": kinds, "warnings": warnings[:50]},
        links={"endpoints_file": str(endpoints_file)},
    )


def load_outcome(result: RunResult, verdict: Verdict, links: dict[str, str] | None) -> StageOutcome:
    total = result.total
    details: dict[str, Any] = {
        "run_id": result.run_id,
        "status": result.status,
        "verdict": verdict.status,
        "headline": verdict.headline,
        "requests": total.requests if total else None,
        "rps": total.rps if total else None,
        "p95_ms": total.latency_ms.p95 if total else None,
        "error_rate": total.error_rate if total else None,
        "apdex": verdict.apdex,
        "regressions": verdict.comparison.regressions if verdict.comparison else [],
    }
    status = "passed" if verdict.passed else ("error" if result.status == "error" else "failed")
    crossed = slo_failures(verdict.model_dump(mode="json"))
    reason = verdict.reason
    if status == "failed" and crossed:
        where = sorted({f.endpoint for f in crossed})
        reason = f"{len(crossed)} SLO checks crossed ({', '.join(where[:5])}{', ...' if len(where) > 5 else ''}); {verdict.headline}"
    return StageOutcome(
        name="load",
        status=status,
        reason=reason,
        details=details,
        links={k: v for k, v in (links or {}).items() if v} or {"run_dir": result.run_dir},
    )


def attach_load(pipeline: PipelineResult, result: RunResult, verdict: Verdict) -> None:
    pipeline.run_id = result.run_id
    pipeline.service = pipeline.service or result.service
    pipeline.verdict = verdict.model_dump(mode="json")
    pipeline.slo_failures = slo_failures(pipeline.verdict)


@task(name="pipeline-discover")
def discover_stage(
    sources: list[str], out: str, service: str | None, include_destructive: bool
) -> tuple[StageOutcome, list[Discovery]]:
    """Discover every source and write the endpoints file the load stage runs."""
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import write_endpoints_file

    started = time.monotonic()
    discoveries = [load_source(source) for source in sources]
    name = service or next((d.title for d in discoveries if d.title), None) or urlsplit(sources[0]).netloc or "service"
    data = write_endpoints_file(
        discoveries, Path(out), service=name, include_destructive=include_destructive, overwrite=True
    )
    outcome = discovery_outcome(discoveries, data, Path(out))
    outcome.details["service"] = name
    outcome.seconds = round(time.monotonic() - started, 2)
    create_table_artifact(
        key=artifact_key("luna-discovery", name, "endpoints"),
        table=[{k: e.get(k) for k in ("name", "group", "type", "method", "path", "weight")} for e in data["endpoints"]],
        description=f"{len(data['endpoints'])} endpoints written to {out}",
    )
    return outcome, discoveries


@task(name="pipeline-report")
def publish_pipeline_report(pipeline: PipelineResult) -> StageOutcome:
    """report.md and report.html in the pipeline folder, and one markdown artifact."""
    from tasks.pipeline.report import html_report, markdown_report

    out = Path(pipeline.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = markdown_report(pipeline)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.html").write_text(html_report(pipeline), encoding="utf-8")
    pipeline.write()
    create_markdown_artifact(
        key=artifact_key("luna-pipeline", pipeline.service, pipeline.profile),
        markdown=markdown,
        description=f"{pipeline.status.upper()}: test-service {pipeline.service or pipeline.target} "
        f"({pipeline.pipeline_id})",
    )
    return StageOutcome(
        name="report",
        status="passed",
        reason=f"report written to {out / 'report.html'}",
        links={"report_md": str(out / "report.md"), "report_html": str(out / "report.html")},
    )
