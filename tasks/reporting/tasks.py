"""The reporting stage as a Prefect task: report.html and badge.svg in the run folder,
plus markdown, table and link artifacts with stable keys (one history per service and
profile in the Prefect UI)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from luna.keys import artifact_key
from luna.results import RunResult
from luna.settings import LunaSettings
from luna.verdict import Verdict
from tasks.execution.plan import RunPlan
from tasks.reporting.links import publish_files
from tasks.reporting.render import badge_svg, endpoint_table, grafana_link, html_report, markdown_report, md, md_url
from tasks.reporting.timeseries import run_series
from tasks.reporting.view import ReportLinks, run_files


def report_keys(service: str | None, profile: str) -> dict[str, str]:
    """Artifact keys: lowercase letters, digits and dashes only."""
    kinds = ("report", "endpoints", "grafana", "html")
    return {kind: artifact_key(f"luna-{kind}", service, profile) for kind in kinds}


@task(name="publish-live-links")
def publish_live_links(plan: RunPlan, settings: LunaSettings, grafana_url: str | None = None) -> str | None:
    """At the start of a run, with InfluxDB and Grafana configured: the Grafana link for
    this run id (a live time window), as the `luna-grafana-...` link artifact (the final
    report publishes the closed window under the same key). Returns the link."""
    grafana_url = grafana_url or settings.grafana_url
    if not grafana_url or not settings.influxdb_url:
        return None
    service = plan.catalog.service
    link = grafana_link(grafana_url, service, plan.run_id, plan.started_at, None, live=True)
    what = f"{service or 'service'} · {plan.profile}"
    create_link_artifact(
        link=md_url(link),
        link_text=md(f"Grafana, live: {what}, run {plan.run_id}"),
        key=report_keys(service, plan.profile)["grafana"],
        description=md(f"Grafana dashboard luna-k6 for {what}, run {plan.run_id} (live while it runs)"),
    )
    get_run_logger().info("Grafana, live: %s", link)
    return link


@task(name="publish-reports")
def publish_reports(
    result: RunResult, verdict: Verdict, settings: LunaSettings, grafana_url: str | None = None
) -> ReportLinks:
    """Write report.html and badge.svg into the run folder and publish the artifacts.

    Returns where the outputs are (the run folder, report.html, badge.svg, Grafana with a
    Grafana URL, and the URLs that open them). Raises on a write or API failure.
    """
    logger = get_run_logger()
    grafana_url = grafana_url or settings.grafana_url
    run_dir = Path(result.run_dir)
    series = run_series(run_dir, result.files)
    if series is None:
        logger.info("no time series (no call was measured, or a k6 script of your own): the report has no charts")
    grafana = None
    if grafana_url:
        end = result.finished_at or (
            result.started_at + timedelta(seconds=result.duration_s) if result.duration_s else None
        )
        grafana = grafana_link(grafana_url, result.service, result.run_id, result.started_at, end)
    links = ReportLinks(
        run_dir=str(run_dir),
        report_html=str(run_dir / "report.html"),
        badge_svg=str(run_dir / "badge.svg"),
        grafana=grafana,
    )
    (run_dir / "report.html").write_text(html_report(result, verdict, series, links), encoding="utf-8")
    (run_dir / "badge.svg").write_text(badge_svg(verdict), encoding="utf-8")
    k6_report = result.files.get("k6_report", "k6-report.html")
    names = ["report.html", "badge.svg", k6_report, *(name for _, name in run_files(result))]
    urls = publish_files(run_dir, names, settings)
    links = links.model_copy(
        update={
            "report_url": urls.get("report.html"),
            "badge_url": urls.get("badge.svg"),
            "dashboard_url": urls.get(k6_report),
        }
    )
    _publish_artifacts(result, verdict, links)
    logger.info("report: %s", links.report_url or links.report_html)
    return links


def _publish_artifacts(result: RunResult, verdict: Verdict, links: ReportLinks) -> None:
    """The markdown report, the endpoint table and the Grafana and HTML-report links, keyed
    by service and profile (one history each in the Prefect UI)."""
    keys = report_keys(result.service, result.profile)
    what = f"{result.service or 'service'} · {result.profile}"
    create_markdown_artifact(
        markdown=markdown_report(result, verdict, links),
        key=keys["report"],
        description=md(f"{verdict.status.upper()}: {what} (run {result.run_id})"),
    )
    create_table_artifact(
        table=endpoint_table(result, verdict),
        key=keys["endpoints"],
        description=md(f"Per-endpoint results: {what} (run {result.run_id})"),
    )
    if links.grafana is not None:
        # A link artifact is stored as the markdown `[text](link)`: escape both parts.
        create_link_artifact(
            link=md_url(links.grafana),
            link_text=md(f"Grafana: {what}, run {result.run_id}"),
            key=keys["grafana"],
            description=md(f"Grafana dashboard luna-k6 for {what}, run {result.run_id}"),
        )
    if links.report_url:
        create_link_artifact(
            link=md_url(links.report_url),
            link_text=md(f"{verdict.status.upper()}: HTML report, {what}, run {result.run_id}"),
            key=keys["html"],
            description=md(f"The HTML report of {what}, run {result.run_id}"),
        )
