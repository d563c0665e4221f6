"""Luna's results folder read back: the load runs (`runs/<id>/summary.json`) and pipelines
(`pipelines/<id>/pipeline.json`) it holds, and one run's report. Plain files, no Prefect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from luna.errors import LunaError


class RunInfo(BaseModel):
    id: str
    kind: Literal["load", "pipeline"]
    service: str | None
    profile: str | None
    target: str | None
    status: str = Field(
        description="pass, fail or error; 'unjudged' when no verdict was written; 'unfinished' for a pipeline that never ended."
    )
    started_at: str | None
    folder: str


class Report(BaseModel):
    id: str
    kind: Literal["load", "pipeline"]
    status: str
    markdown: str = Field(description="The report as markdown (what the Prefect artifact shows).")
    data: dict[str, Any] = Field(description="The run's summary and verdict, or the pipeline result, as JSON.")
    files: dict[str, str] = Field(description="Report files on disk, by kind.")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _run_folders(out_dir: Path) -> list[tuple[Literal["load", "pipeline"], Path]]:
    folders: list[tuple[Literal["load", "pipeline"], Path]] = []
    for marker in sorted(out_dir.glob("*/*/pipeline.json")):
        folders.append(("pipeline", marker.parent))
    for marker in sorted((out_dir / "runs").glob("*/summary.json")):
        folders.append(("load", marker.parent))
    return folders


def _info(kind: Literal["load", "pipeline"], folder: Path) -> RunInfo | None:
    if kind == "pipeline":
        data = _read_json(folder / "pipeline.json")
        if data is None:
            return None
        stages = data.get("stages") or []
        failed = any(s.get("status") in ("failed", "error") for s in stages)
        return RunInfo(
            id=str(data.get("pipeline_id") or folder.name),
            kind="pipeline",
            service=data.get("service"),
            profile=data.get("profile"),
            target=data.get("target"),
            status="unfinished" if not data.get("finished_at") else "fail" if failed else "pass",
            started_at=data.get("started_at"),
            folder=str(folder),
        )
    summary = _read_json(folder / "summary.json")
    if summary is None:
        return None
    verdict = _read_json(folder / "verdict.json")
    status = verdict["status"] if verdict else ("error" if summary.get("status") == "error" else "unjudged")
    return RunInfo(
        id=str(summary.get("run_id") or folder.name),
        kind="load",
        service=summary.get("service"),
        profile=summary.get("profile"),
        target=summary.get("target"),
        status=status,
        started_at=summary.get("started_at"),
        folder=str(folder),
    )


def list_local_runs(service: str | None, profile: str | None, limit: int, out: Path) -> list[RunInfo]:
    runs = [info for kind, folder in _run_folders(out) if (info := _info(kind, folder)) is not None]
    runs = [r for r in runs if (service is None or r.service == service) and (profile is None or r.profile == profile)]
    runs.sort(key=lambda r: r.started_at or "", reverse=True)
    return runs[:limit]


def read_report(run_id: str, out: Path) -> Report:
    for kind, folder in _run_folders(out):
        info = _info(kind, folder)
        if info is None or run_id not in (info.id, folder.name):
            continue
        files = {
            p.stem.replace("-", "_") + "_" + p.suffix.lstrip("."): str(p)
            for p in sorted(folder.iterdir())
            if p.suffix in (".md", ".html", ".svg", ".json")
        }
        if kind == "pipeline":
            data = _read_json(folder / "pipeline.json") or {}
            report = folder / "report.md"
            markdown = report.read_text(encoding="utf-8") if report.is_file() else _pipeline_markdown(data)
            return Report(id=info.id, kind=kind, status=info.status, markdown=markdown, data=data, files=files)
        return _load_report(info, folder, files)
    raise LunaError(f"no run or pipeline {run_id!r} in {out}", tip="`list_runs` shows the ids")


def _load_report(info: RunInfo, folder: Path, files: dict[str, str]) -> Report:
    from luna.results import RunResult
    from luna.verdict import Verdict
    from tasks.reporting.render import markdown_report
    from tasks.reporting.view import ReportLinks

    result = RunResult.read(folder)
    data: dict[str, Any] = {"summary": result.model_dump(mode="json")}
    if (folder / "verdict.json").is_file():
        verdict = Verdict.read(folder)
        data["verdict"] = verdict.model_dump(mode="json")
        links = ReportLinks(run_dir=str(folder), report_html=files.get("report_html"), badge_svg=files.get("badge_svg"))
        markdown = markdown_report(result, verdict, links)
    else:
        total = result.total
        markdown = (
            f"# {result.service or 'service'} · {result.profile} · run {result.run_id}\n\n"
            f"{result.status}: {result.message or 'no verdict was written for this run'}\n\n"
            + (
                f"{total.requests} requests, p95 {total.latency_ms.p95} ms, errors {total.error_rate}\n"
                if total
                else ""
            )
        )
    return Report(id=info.id, kind="load", status=info.status, markdown=markdown, data=data, files=files)


def _pipeline_markdown(data: dict[str, Any]) -> str:
    lines = [f"# Pipeline {data.get('pipeline_id')} · {data.get('target')} · {data.get('profile')}", ""]
    lines += [
        f"- **{s.get('name')}**: {s.get('status')} {s.get('reason') or ''}".rstrip() for s in data.get("stages", [])
    ]
    return "\n".join(lines) + "\n"
