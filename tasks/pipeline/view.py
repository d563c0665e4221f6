"""What the pipeline report shows beyond the stage table, read back from each stage's run
folder: a URL for every stage's report, the load run's charts, the Lighthouse scores per
page, and the visual-QA findings with the screenshots they were found on. A stage whose
files are missing simply has nothing here (its row in the stage table says why)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from luna.results import RunResult
from luna.served import report_url
from luna.settings import LunaSettings
from luna.verdict import Verdict
from tasks.audit.model import LighthouseResult
from tasks.pipeline.model import PipelineResult, StageOutcome
from tasks.reporting.charts import LineChart
from tasks.reporting.render import line_charts
from tasks.reporting.timeseries import run_series
from tasks.visual_qa.model import SEVERITIES, Finding, VisualQAResult

FINDINGS_SHOWN = 12
SCORES = ("performance", "accessibility", "best_practices", "seo")


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class AuditRow:
    url: str
    preset: str
    scores: list[str]
    verdict: str
    report: str | None


@dataclass(frozen=True)
class Shot:
    viewport: str
    width: int
    data_uri: str
    url: str


@dataclass
class PipelineView:
    links: dict[str, list[Link]] = field(default_factory=dict)
    charts: list[LineChart] = field(default_factory=list)
    audits: list[AuditRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0
    shots: list[Shot] = field(default_factory=list)


def _url(path: Path, settings: LunaSettings) -> str:
    return report_url(path, settings.luna_reports_url, settings.luna_out_dir)


def _files(stage: StageOutcome, names: list[tuple[str, str]], settings: LunaSettings) -> list[Link]:
    folder = Path(stage.links.get("run_dir", ""))
    return [Link(label, _url(folder / name, settings)) for label, name in names if (folder / name).is_file()]


def _load(view: PipelineView, stage: StageOutcome, settings: LunaSettings) -> None:
    run_dir = Path(stage.links.get("run_dir", ""))
    view.links["load"] = _files(
        stage, [("HTML report", "report.html"), ("k6 web dashboard", "k6-report.html")], settings
    )
    if stage.links.get("grafana"):
        view.links["load"].append(Link("Grafana", stage.links["grafana"]))
    if (run_dir / "summary.json").is_file() and (run_dir / "verdict.json").is_file():
        result = RunResult.read(run_dir)
        series = run_series(run_dir, result.files)
        if series is not None and len(series):
            view.charts = line_charts(series, Verdict.read(run_dir))[:2]  # throughput and latency


def _lighthouse(view: PipelineView, stage: StageOutcome, settings: LunaSettings) -> None:
    run_dir = Path(stage.links.get("run_dir", ""))
    if not (run_dir / "lighthouse.json").is_file():
        return
    from tasks.audit.report import verdict_text

    result = LighthouseResult.read(run_dir)
    for page in result.pages:
        scores = [("–" if page.scores.get(k) is None else f"{page.scores[k]:.0f}") for k in SCORES]
        html = Path(page.report_html) if page.report_html else None
        html = run_dir / html if html is not None and not html.is_absolute() else html
        report = _url(html, settings) if html is not None and html.is_file() else None
        view.audits.append(AuditRow(page.url, page.preset, scores, verdict_text(page), report))
    view.links["lighthouse"] = [Link(f"Lighthouse: {a.url} ({a.preset})", a.report) for a in view.audits if a.report]


def _visual_qa(view: PipelineView, stage: StageOutcome, settings: LunaSettings) -> None:
    run_dir = Path(stage.links.get("run_dir", ""))
    if not (run_dir / "vqa.json").is_file():
        return
    result = VisualQAResult.read(run_dir)
    ranked = sorted(result.findings, key=lambda f: SEVERITIES.index(f.severity))
    view.findings, view.more_findings = ranked[:FINDINGS_SHOWN], max(0, len(ranked) - FINDINGS_SHOWN)
    for capture in result.captures:
        shot = run_dir / capture.fold
        if shot.is_file():
            data = base64.b64encode(shot.read_bytes()).decode("ascii")
            url = _url(shot, settings)
            view.shots.append(Shot(capture.viewport, capture.width, f"data:image/png;base64,{data}", url))
    view.links["visual_qa"] = _files(stage, [("Visual-QA report", "report.md")], settings)


def build_view(pipeline: PipelineResult, settings: LunaSettings) -> PipelineView:
    view = PipelineView()
    for stage in pipeline.stages:
        if stage.name == "load" and stage.status != "skipped":
            _load(view, stage, settings)
        elif stage.name == "lighthouse" and stage.status != "skipped":
            _lighthouse(view, stage, settings)
        elif stage.name == "visual_qa" and stage.status != "skipped":
            _visual_qa(view, stage, settings)
    return view
