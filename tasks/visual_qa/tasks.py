"""The visual-QA stage as Prefect tasks: capture and probe, ask the personas, publish."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel

from luna.markdown import md
from luna.settings import LunaSettings
from tasks.audit.browser import new_run_dir
from tasks.audit.lighthouse import check_url
from tasks.visual_qa.model import Capture, PageProbe, PersonaOutcome, VisualQAResult
from tasks.visual_qa.personas import Persona, load_personas, select
from tasks.visual_qa.report import markdown_report, persona_rows
from tasks.visual_qa.run import capture_step, finish, personas_step

REPORT_KEY = "luna-vqa-report"
TABLE_KEY = "luna-vqa-personas"


class Prepared(BaseModel):
    url: str
    personas: list[Persona]
    run_dir: str
    started_at: datetime


class Captured(BaseModel):
    captures: list[Capture]
    probe: PageProbe


@task(name="vqa-prepare")
def prepare(url: str, agents: list[str], run_id: str | None, settings: LunaSettings) -> Prepared:
    """Check the URL and the persona names, create the run folder."""
    from datetime import UTC

    personas = select(load_personas(), agents or None)
    run_dir = new_run_dir(settings.luna_out_dir, "vqa", run_id)
    return Prepared(url=check_url(url), personas=personas, run_dir=str(run_dir), started_at=datetime.now(UTC))


@task(name="vqa-capture-and-probe")
def capture(prep: Prepared, settings: LunaSettings) -> Captured:
    """One page load per viewport: screenshots and the deterministic probes."""
    captures, probe = capture_step(prep.url, prep.personas, Path(prep.run_dir), settings)
    get_run_logger().info(
        "captured %s; probes: %d findings%s",
        ", ".join(c.viewport for c in captures) or "nothing",
        len(probe.findings),
        f"; page did not load: {probe.load_error}" if probe.load_error else "",
    )
    return Captured(captures=captures, probe=probe)


@task(name="vqa-ask-personas")
def ask(prep: Prepared, captured: Captured, settings: LunaSettings) -> tuple[list[PersonaOutcome], str]:
    """Each persona's model call (bounded concurrency); skipped with one line without a key."""
    logger = get_run_logger()
    outcomes, note = personas_step(
        prep.personas, prep.url, captured.captures, Path(prep.run_dir), settings, logger.info
    )
    if note:
        logger.warning(note)
    return outcomes, note


@task(name="vqa-publish")
def publish(
    prep: Prepared, captured: Captured, asked: tuple[list[PersonaOutcome], str], settings: LunaSettings
) -> VisualQAResult:
    """vqa.json and report.md in the run folder; markdown and table artifacts."""
    outcomes, note = asked
    result = finish(
        Path(prep.run_dir),
        prep.url,
        settings,
        prep.started_at,
        captured.captures,
        captured.probe,
        outcomes,
        note,
    )
    create_markdown_artifact(
        markdown=markdown_report(result), key=REPORT_KEY, description=md(result.summary_line())[:500]
    )
    create_table_artifact(table=persona_rows(result), key=TABLE_KEY, description=md(f"Visual QA run {result.run_id}"))
    get_run_logger().info("visual QA: %s (%s)", result.summary_line(), result.run_dir)
    return result
