"""The MCP tools as plain functions with typed results; luna/mcp/server.py exposes them.

Tools that run flows use the Prefect API of the CLI (PREFECT_API_URL, else ``luna up``'s
server, else a temporary one). Bad input raises LunaError, which the server turns into a
one-line tool error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from luna.errors import LunaError, RunFailed
from luna.settings import load_settings
from tasks.pipeline.model import PipelineResult

Profile = Literal["smoke", "ramp", "soak", "stress", "spike"]
INSTRUCTIONS = (
    "Luna tests the performance of HTTP services. Start with `discover` on an OpenAPI/Postman/HAR source to "
    "see the endpoints, run `test_service` for the whole pipeline (load test with SLO verdict, Lighthouse, "
    "visual QA) or `load_test` for one k6 profile, then `list_runs` and `get_report` to read results. "
    "Only test services you are allowed to load."
)


# ---- typed results -------------------------------------------------------------------


class DiscoveredEndpointInfo(BaseModel):
    method: str
    path: str
    name: str
    destructive: bool = Field(description="DELETE-like: left out of load profiles unless asked.")


class DiscoverResult(BaseModel):
    source: str
    kind: str = Field(description="openapi, swagger, postman or har.")
    base_url: str | None
    endpoints: list[DiscoveredEndpointInfo]
    warnings: list[str]
    written_to: str | None = Field(None, description="Endpoints file written, when `out` was given.")


class EndpointNumbers(BaseModel):
    name: str
    requests: int
    p95_ms: float | None
    error_rate: float | None
    slo_ok: bool | None = Field(None, description="The endpoint's SLOs held; None when it was not judged.")
    state: Literal["ok", "fail", "not_exercised"] | None = Field(
        None, description="not_exercised: no requests reached it (named in the reason, fails only if asked)."
    )


class LoadTestOutcome(BaseModel):
    run_id: str
    service: str | None
    profile: str
    target: str
    verdict: Literal["pass", "fail", "error"]
    reason: str
    requests: int | None
    rps: float | None
    p95_ms: float | None
    error_rate: float | None
    endpoints: list[EndpointNumbers]
    run_dir: str


class RunInfo(BaseModel):
    id: str
    kind: Literal["load", "pipeline"]
    service: str | None
    profile: str | None
    target: str | None
    status: str = Field(description="pass, fail or error; 'unjudged' when no verdict was written.")
    started_at: str | None
    folder: str


class TestServiceOutcome(BaseModel):
    passed: bool = Field(description="True when no stage failed or errored.")
    problems: list[str] = Field(description="One line per failed/errored stage, then one per crossed SLO.")
    result: PipelineResult = Field(description="Every stage's outcome, the load verdict, the report folder.")


class Report(BaseModel):
    id: str
    kind: Literal["load", "pipeline"]
    status: str
    markdown: str = Field(description="The report as markdown (what the Prefect artifact shows).")
    data: dict[str, Any] = Field(description="The run's summary and verdict, or the pipeline result, as JSON.")
    files: dict[str, str] = Field(description="Report files on disk, by kind.")


# ---- the tools as plain functions (testable without MCP) -------------------------------


def discover_endpoints(
    source: str, service: str = "My API", out: str | None = None, overwrite: bool = False
) -> DiscoverResult:
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import write_endpoints_file

    found = load_source(source)
    written = None
    if out:
        write_endpoints_file([found], Path(out), service=service, include_destructive=False, overwrite=overwrite)
        written = out
    return DiscoverResult(
        source=found.source,
        kind=found.kind,
        base_url=found.base_url,
        endpoints=[
            DiscoveredEndpointInfo(method=e.method, path=e.path, name=e.name, destructive=e.destructive)
            for e in found.endpoints
        ],
        warnings=list(found.warnings),
        written_to=written,
    )


def _use_prefect() -> None:
    from luna.cli import use_prefect

    use_prefect(load_settings().luna_prefect_port)


def run_load_test(
    target: str,
    profile: str = "smoke",
    config: str | None = None,
    vus: int | None = None,
    duration: str | None = None,
) -> LoadTestOutcome:
    from luna.verdict import Verdict
    from tasks.execution.plan import LoadTestParams, prepare_run

    settings = load_settings()
    params = LoadTestParams(
        profile=profile,
        target=target,
        config=config or str(settings.luna_endpoints_file),
        vus=vus,
        duration=duration,
        smoke_duration=duration if profile == "smoke" else None,
    )
    plan = prepare_run(params)  # bad input fails here, before Prefect starts
    params = params.model_copy(update={"run_id": plan.run_id})
    _use_prefect()
    from flows.load_test import load_test

    outcome: Any = load_test(params, return_state=True).result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        result, verdict = outcome.result, outcome.verdict
    elif isinstance(outcome, BaseException):
        raise outcome
    else:
        result, verdict = outcome, Verdict.read(outcome.run_dir_path)
    judged = {e.name: e for e in verdict.endpoints} if verdict else {}
    total = result.total
    return LoadTestOutcome(
        run_id=result.run_id,
        service=result.service,
        profile=result.profile,
        target=result.target,
        verdict=verdict.status if verdict else "error",
        reason=verdict.reason if verdict else result.message,
        requests=total.requests if total else None,
        rps=total.rps if total else None,
        p95_ms=total.latency_ms.p95 if total else None,
        error_rate=total.error_rate if total else None,
        endpoints=[
            EndpointNumbers(
                name=e.name,
                requests=e.requests,
                p95_ms=e.latency_ms.p95,
                error_rate=e.error_rate,
                slo_ok=judged[e.name].ok if e.name in judged and judged[e.name].state != "not_exercised" else None,
                state=judged[e.name].state if e.name in judged else None,
            )
            for e in result.endpoints
        ],
        run_dir=result.run_dir,
    )


def run_test_service(target: str, profile: str = "smoke", **options: Any) -> TestServiceOutcome:
    """The whole pipeline through LunaClient (flow `test-service`); unset options keep the flow's defaults."""
    from luna.client import LunaClient

    result = LunaClient().test_service(target, profile, **{k: v for k, v in options.items() if v is not None})
    return TestServiceOutcome(passed=result.passed, problems=result.problems(), result=result)


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
            status="fail" if failed else "pass",
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


def list_local_runs(
    service: str | None = None, profile: str | None = None, limit: int = 20, out_dir: Path | None = None
) -> list[RunInfo]:
    out = out_dir or load_settings().luna_out_dir
    runs = [info for kind, folder in _run_folders(out) if (info := _info(kind, folder)) is not None]
    runs = [r for r in runs if (service is None or r.service == service) and (profile is None or r.profile == profile)]
    runs.sort(key=lambda r: r.started_at or "", reverse=True)
    return runs[:limit]


def read_report(run_id: str, out_dir: Path | None = None) -> Report:
    out = out_dir or load_settings().luna_out_dir
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
