"""The combined `test_service` report: what ran, what was skipped and why, each stage's
figures and links. Markdown for the Prefect artifact (user strings through the `md`
filter), and a self-contained, autoescaped HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from luna.settings import LunaSettings
from tasks.pipeline.model import Figure, PipelineResult
from tasks.pipeline.view import build_view
from tasks.reporting.render import TEMPLATES as REPORT_TEMPLATES
from tasks.reporting.render import md, md_url

TEMPLATES = Path(__file__).parent / "templates"
MARK = {"passed": "✅", "warning": "🔶", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _env(autoescape: bool) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(REPORT_TEMPLATES)]),  # the chart macros
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]) if autoescape else False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md
    env.filters["md_url"] = md_url
    env.filters["value"] = _value
    env.globals["mark"] = MARK
    return env


def _scalars(details: dict[str, Figure]) -> dict[str, Figure]:
    """A stage's figures for its table; its warnings are listed apart."""
    return {k: v for k, v in details.items() if k != "warnings"}


def markdown_report(pipeline: PipelineResult, settings: LunaSettings) -> str:
    view = build_view(pipeline, settings)
    return _env(False).get_template("pipeline.md").render(p=pipeline, scalars=_scalars, v=view)


def html_report(pipeline: PipelineResult, settings: LunaSettings) -> str:
    view = build_view(pipeline, settings)
    return _env(True).get_template("pipeline.html").render(p=pipeline, scalars=_scalars, v=view)
