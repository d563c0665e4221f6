"""The audit stage as Prefect tasks: run Lighthouse, store points, publish reports."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from luna.influx import Influx
from luna.markdown import md
from luna.settings import LunaSettings
from tasks.audit.lighthouse import run_lighthouse
from tasks.audit.model import LighthouseResult
from tasks.audit.params import LighthouseParams
from tasks.audit.points import write_lighthouse_points
from tasks.audit.report import markdown_report, page_rows

REPORT_KEY = "luna-lighthouse-report"
TABLE_KEY = "luna-lighthouse-pages"


@task(name="lighthouse-audit")
def audit(params: LighthouseParams, settings: LunaSettings) -> LighthouseResult:
    """Every URL under the preset(s); a page that fails to load is a result with its reason."""
    logger = get_run_logger()
    result = run_lighthouse(params.urls, params.preset, settings, params.budgets, params.run_id, logger.info)
    logger.info("lighthouse %s: %s (%s)", result.status.upper(), result.reason, result.run_dir)
    return result


@task(name="write-lighthouse-points", retries=2, retry_delay_seconds=2)
def store_lighthouse_points(result: LighthouseResult, settings: LunaSettings) -> int:
    """Score points in InfluxDB when INFLUXDB_URL is set (idempotent; raises so retries fire)."""
    if not settings.influxdb_url:
        return 0
    client = Influx.from_settings(settings)
    try:
        return write_lighthouse_points(client, result)
    finally:
        client.close()


@task(name="publish-lighthouse-report")
def publish_lighthouse_report(result: LighthouseResult) -> str:
    """report.md in the run folder, plus markdown and table artifacts with stable keys."""
    text = markdown_report(result)
    path = Path(result.run_dir) / "report.md"
    path.write_text(text, encoding="utf-8")
    create_markdown_artifact(
        markdown=text, key=REPORT_KEY, description=md(f"{result.status.upper()}: {result.reason}")[:500]
    )
    create_table_artifact(table=page_rows(result), key=TABLE_KEY, description=md(f"Lighthouse run {result.run_id}"))
    return str(path)
