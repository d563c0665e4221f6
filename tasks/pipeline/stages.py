"""The pipeline's stages as Prefect tasks that return a StageOutcome instead of raising,
and the plain functions that turn a stage's own result into that outcome.

A stage that raises (a LunaError, or anything else) becomes an `error` outcome with one
line; the pipeline goes on with the stages that do not depend on it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from luna.catalog import Catalog
from luna.errors import LunaError, RunFailed
from luna.keys import artifact_key
from luna.results import RunResult
from luna.settings import LunaSettings
from luna.verdict import Verdict
from tasks.audit.model import LighthouseResult
from tasks.discovery.model import Discovery, no_api_warning
from tasks.pipeline.model import Figure, PipelineResult, StageName, StageOutcome, slo_failures
from tasks.visual_qa.model import VisualQAResult

T = TypeVar("T")
MAX_AUDITED_PAGES = 3  # Lighthouse takes ~20 s a page here; the rest of the pages are listed, not audited


def new_pipeline_id(profile: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-pipeline-{profile}-{secrets.token_hex(2)}"


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


def discovery_outcome(discoveries: list[Discovery], catalog: Catalog, endpoints_file: Path) -> StageOutcome:
    """`passed` with what was found; `warning` when a probed URL gave no API (only pages)."""
    warnings = [w if len(discoveries) == 1 else f"{d.source}: {w}" for d in discoveries for w in d.warnings]
    kinds = sorted({d.kind for d in discoveries})
    no_api = no_api_warning(discoveries)
    reason = f"{len(catalog.endpoints)} endpoints from {', '.join(kinds)}" + (
        f"; {len(warnings)} warnings" if warnings else ""
    )
    return StageOutcome(
        name="discover",
        status="warning" if no_api else "passed",
        reason=no_api or reason,
        details={
            "endpoints": len(catalog.endpoints),
            "kinds": kinds,
            "api_found": no_api is None,
            "target": catalog.target,
            "warnings": warnings[:50],
        },
        links={"endpoints_file": str(endpoints_file)},
    )


def no_api_load(outcome: StageOutcome, discoveries: list[Discovery]) -> StageOutcome:
    """A load stage that passed on pages alone, when discovery found no API: a warning."""
    if outcome.status == "passed" and no_api_warning(discoveries):
        outcome.status = "warning"
        outcome.reason = f"no API exercised: only pages were load tested; {outcome.reason}"
    return outcome


def load_outcome(result: RunResult, verdict: Verdict, links: dict[str, str] | None) -> StageOutcome:
    total = result.total
    details: dict[str, Figure] = {
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
    crossed = slo_failures(verdict)
    reason = verdict.reason
    if status == "failed" and crossed:
        # the report's verdict box in one line: how many, the worst three (with failing checks)
        from tasks.reporting.summary import summarize

        box = summarize(result, verdict)
        worst = "; ".join(f"{o.endpoint}: {o.misses[0].text}" for o in box.worst[:3])
        more = len(box.worst) + sum(g.count for g in box.rest) - min(3, len(box.worst))
        reason = f"{len(crossed)} SLO checks crossed, {verdict.headline}. {box.lead}"
        reason += f" Worst: {worst}" + (f"; and {more} more" if more > 0 else "") if worst else ""
    return StageOutcome(
        name="load",
        status=status,
        reason=reason,
        details=details,
        links={k: v for k, v in (links or {}).items() if v} or {"run_dir": result.run_dir},
    )


def attach_load(pipeline: PipelineResult, run_dir: Path) -> None:
    """The judged load run (when it got that far) becomes the pipeline's run and verdict."""
    if not (run_dir / "verdict.json").is_file() or not (run_dir / "summary.json").is_file():
        return
    result, verdict = RunResult.read(run_dir), Verdict.read(run_dir)
    pipeline.run_id = result.run_id
    pipeline.service = pipeline.service or result.service
    pipeline.verdict = verdict
    pipeline.slo_failures = slo_failures(pipeline.verdict)


@task(name="pipeline-discover")
def discover_stage(
    sources: list[str],
    out: str,
    service: str | None,
    include_destructive: bool,
    target: str | None,
    settings: LunaSettings,
) -> tuple[StageOutcome, list[Discovery]]:
    """Discover every source and write the endpoints file the load stage runs."""
    from tasks.discovery.model import DiscoveryLimits
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import publish_discovery, write_endpoints_file

    started = time.monotonic()
    limits = DiscoveryLimits(max_bytes=settings.luna_discovery_max_bytes)
    discoveries = [load_source(source, limits=limits) for source in sources]
    name = service or next((d.title for d in discoveries if d.title), None) or urlsplit(sources[0]).netloc or "service"
    catalog = write_endpoints_file(
        discoveries, Path(out), service=name, include_destructive=include_destructive, overwrite=True, target=target
    )
    outcome = discovery_outcome(discoveries, catalog, Path(out))
    outcome.details["service"] = name
    outcome.seconds = round(time.monotonic() - started, 2)
    publish_discovery(discoveries, catalog, out)
    return outcome, discoveries


@task(name="pipeline-report")
def publish_pipeline_report(pipeline: PipelineResult, settings: LunaSettings) -> StageOutcome:
    """report.md and report.html in the pipeline folder, and one markdown artifact."""
    from tasks.pipeline.report import html_report, markdown_report

    out = Path(pipeline.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = markdown_report(pipeline, settings)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.html").write_text(html_report(pipeline, settings), encoding="utf-8")
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


@task(name="pipeline-generate")
def generate_stage(
    endpoints_file: str,
    sources: list[str],
    target: str,
    service: str | None,
    run_api_suite: bool,
    settings: LunaSettings,
    suites_dir: str = "suites",
) -> StageOutcome:
    """Generate the suites from the endpoints the load stage runs (and the spec, for response
    schemas and pages), then run the generated pytest API suite against the target."""
    started = time.monotonic()
    from tasks.generation.runner import run_suite_dir
    from tasks.generation.suites import GenerateParams, generate_suite

    made = generate_suite(
        GenerateParams(config=endpoints_file, specs=sources, base_url=target, service=service, out_dir=suites_dir),
        settings,
    )
    assert made.manifest is not None
    links = {"suite_dir": str(made.suite_dir)}
    details: dict[str, Figure] = {
        "suite": made.manifest.slug,
        "files_written": len(made.written),
        "tests": ", ".join(f"{kind} {n}" for kind, n in made.manifest.tests.items()),  # "api 12, k6 1"
    }
    if not run_api_suite:
        return StageOutcome(
            seconds=round(time.monotonic() - started, 2),
            name="generate",
            status="passed",
            reason=f"suites written to {made.suite_dir}",
            details=details,
            links=links,
        )
    logger = get_run_logger()
    run = run_suite_dir(
        made.suite_dir,
        ["api"],
        settings=settings,
        out_dir=Path(settings.luna_out_dir) / "suites" / f"{made.manifest.slug}-{datetime.now(UTC):%Y%m%d-%H%M%S}",
        base_url=target,
        on_line=lambda line: logger.info("%s", line),
    )
    failing = [c for c in run.cases if c.outcome in ("failed", "error")]
    details.update({"api_tests": len(run.cases), "api_failed": len(failing)})
    if failing:
        details["failing_tests"] = ", ".join(c.test for c in failing[:10])
    links.update({k: v for k, v in run.files.items()})
    return StageOutcome(
        seconds=round(time.monotonic() - started, 2),
        name="generate",
        status="passed" if run.passed else "failed",
        reason=run.headline(),
        details=details,
        links=links,
    )


def lighthouse_outcome(result: LighthouseResult) -> StageOutcome:
    """The Lighthouse stage from the `lighthouse_audit` subflow's result."""
    scores = {
        f"{p.url} ({p.preset})": " ".join(f"{k} {v:.0f}" for k, v in (p.scores or {}).items() if v is not None)
        for p in result.pages
        if p.status == "ok"
    }
    return StageOutcome(
        name="lighthouse",
        status="passed" if result.passed else ("error" if result.status == "error" else "failed"),
        reason=result.reason,
        details={"pages": len(result.pages), **scores},
        links={"run_dir": result.run_dir},
    )


def visual_qa_outcome(result: VisualQAResult) -> StageOutcome:
    """The visual-QA stage from the `visual_qa` subflow's result: error when the page could
    not be loaded, failed with a finding at LUNA_VQA_FAIL_ON severity or worse, else passed."""
    counts = {f"findings_{k}": v for k, v in result.counts().items() if v}
    asked = [p for p in result.personas if p.status != "skipped"]
    details: dict[str, Figure] = {
        "personas_answered": sum(1 for p in asked if p.status == "ok"),
        "personas_failed": sum(1 for p in asked if p.status == "error"),
        "cost_usd": round(result.usage.cost_usd, 4) if result.usage.cost_usd is not None else None,
        "tokens": result.usage.input_tokens + result.usage.output_tokens,
        **counts,
    }
    if result.ai_note:
        details["ai"] = result.ai_note
    return StageOutcome(
        name="visual_qa",
        status="error" if result.probe.load_error else "passed" if result.passed else "failed",
        reason=result.verdict_line(),
        details=details,
        links={"run_dir": result.run_dir},
    )


def load_links(result: RunResult, grafana_url: str | None) -> dict[str, str]:
    """The load run's outputs as the stage's links: its folder, the reports it has, Grafana."""
    from tasks.reporting.render import grafana_link

    run_dir = Path(result.run_dir)
    links = {"run_dir": str(run_dir)}
    for name, key in (("report.html", "report_html"), ("badge.svg", "badge_svg")):
        if (run_dir / name).is_file():
            links[key] = str(run_dir / name)
    if grafana_url:
        end = result.finished_at or (
            result.started_at + timedelta(seconds=result.duration_s) if result.duration_s else None
        )
        links["grafana"] = grafana_link(grafana_url, result.service, result.run_id, result.started_at, end)
    return links


def load_stage_outcome(value: Any, run_dir: Path, grafana_url: str | None) -> StageOutcome:
    """The load stage from the `load_test` subflow's final value: a RunResult, a RunFailed,
    or the error that stopped it."""
    error = None
    if isinstance(value, RunFailed):
        result, verdict = value.result, value.verdict
    elif isinstance(value, RunResult):
        result, verdict = value, Verdict.read(run_dir)
    elif (run_dir / "verdict.json").is_file():  # judged, then a later step (history, reports) failed
        result, verdict, error = RunResult.read(run_dir), Verdict.read(run_dir), one_line(value)
    else:
        return StageOutcome(name="load", status="error", reason=one_line(value))
    if verdict is None:
        return StageOutcome(name="load", status="error", reason=f"{result.status}: {result.message}")
    outcome = load_outcome(result, verdict, load_links(result, grafana_url))
    if error is not None:
        outcome.details["report_error"] = error
    return outcome
