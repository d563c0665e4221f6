"""The MCP tools as plain functions with typed results; app/mcp/server.py exposes them.

Tools that run flows use the Prefect API of the CLI (PREFECT_API_URL, else ``luna up``'s
server, else a temporary one). Bad input raises LunaError, which the server turns into a
one-line tool error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from app import operations
from app.runs import Report, RunInfo
from luna.errors import ConfigError
from luna.settings import Profile, load_settings
from luna.text import printable
from luna.urls import require_allowed
from luna.verdict import Comparison, EndpointState, Judgement
from tasks.audit.model import LighthouseResult
from tasks.evaluation.compare import RunRecord
from tasks.generation.results import SuiteRun
from tasks.pipeline.model import PipelineResult
from tasks.visual_qa.model import VisualQAResult

__all__ = ["Profile", "Comparison", "LighthouseResult", "Report", "RunInfo", "RunRecord", "SuiteRun", "VisualQAResult"]

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
    state: EndpointState | None = Field(
        None, description="not_exercised: no requests reached it (named in the reason, fails only if asked)."
    )


class LoadTestOutcome(BaseModel):
    run_id: str
    service: str | None
    profile: str
    target: str
    verdict: Judgement  # VerdictStatus, or error when no verdict was reached
    reason: str
    requests: int | None
    rps: float | None
    p95_ms: float | None
    error_rate: float | None
    endpoints: list[EndpointNumbers]
    run_dir: str


class TestServiceOutcome(BaseModel):
    passed: bool = Field(description="True when no stage failed or errored.")
    problems: list[str] = Field(description="One line per failed/errored stage, then one per crossed SLO.")
    result: PipelineResult = Field(description="Every stage's outcome, the load verdict, the report folder.")


class GenerateOutcome(BaseModel):
    suite: str = Field(description="The suite's name, for run_suite.")
    suite_dir: str
    kinds: list[str]
    tests: dict[str, int] = Field(description="Generated tests (api) or pages (ui, lighthouse) per part.")
    written: list[str]
    unchanged: list[str]
    warnings: list[str]


# ---- what an agent may touch ------------------------------------------------------------
# An agent is a less careful caller than a person at a terminal: every URL a tool would
# contact must be on LUNA_ALLOWED_TARGETS (unset = loopback only), and `discover` writes
# only inside the project's output folders. See docs/SECURITY.md.


def _allowed(url: str | None, what: str) -> str | None:
    if url is None or not ("://" in url or url.startswith(("http:", "https:"))):
        return url  # a local file (discover, specs) or nothing
    return require_allowed(url, load_settings().allowed_targets(), what)


def _confined(out: str) -> Path:
    """`out` resolved inside out/, suites/ or the endpoints file's folder, else ConfigError."""
    settings = load_settings()
    roots = [settings.luna_out_dir, settings.luna_suites_dir, settings.luna_endpoints_file.parent]
    path = Path(out).expanduser()
    resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
    for root in roots:
        if resolved.is_relative_to((Path.cwd() / root).resolve()):
            return resolved
    names = ", ".join(f"{r}/" for r in roots)
    raise ConfigError(
        f"out {printable(out)[:100]!r} is outside the project's output folders ({names})",
        location="out",
        tip=f"write the endpoints file under one of {names}",
    )


# ---- the tools as plain functions (testable without MCP) -------------------------------


def discover_endpoints(
    source: str, service: str = "My API", out: str | None = None, overwrite: bool = False
) -> DiscoverResult:
    source = _allowed(source, "source") or source
    written = _confined(out) if out is not None else None
    found = operations.discover([source], out=written, service=service, overwrite=overwrite)
    d = found.found[0]
    return DiscoverResult(
        source=d.source,
        kind=d.kind,
        base_url=d.base_url,
        endpoints=[
            DiscoveredEndpointInfo(method=e.method, path=e.path, name=e.name, destructive=e.destructive)
            for e in d.endpoints
        ],
        warnings=list(d.warnings),
        written_to=found.out,
    )


def run_load_test(
    target: str,
    profile: str = "smoke",
    config: str | None = None,
    vus: int | None = None,
    duration: str | None = None,
) -> LoadTestOutcome:
    from tasks.execution.plan import LoadTestParams

    target = _allowed(target, "target") or target
    params = LoadTestParams(
        profile=profile,
        target=target,
        config=config or str(load_settings().luna_endpoints_file),
        vus=vus,
        duration=duration,
        smoke_duration=duration if profile == "smoke" else None,
    )
    run = operations.load_test(params)
    result, verdict = run.result, run.verdict
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
    """The whole pipeline (flow `test-service`); unset options keep the flow's defaults."""
    target = _allowed(target, "target") or target
    _allowed(options.get("source"), "source")
    result = operations.test_service(target, profile, **{k: v for k, v in options.items() if v is not None})
    return TestServiceOutcome(passed=result.passed, problems=result.problems(), result=result)


def list_local_runs(
    service: str | None = None, profile: str | None = None, limit: int = 20, out_dir: Path | None = None
) -> list[RunInfo]:
    return operations.list_runs(service, profile, limit, out_dir)


def read_report(run_id: str, out_dir: Path | None = None) -> Report:
    return operations.get_report(run_id, out_dir)


def generate_suites(
    url: str | None = None,
    config: str | None = None,
    specs: list[str] | None = None,
    service: str | None = None,
    kinds: list[str] | None = None,
    out_dir: str | None = None,
) -> GenerateOutcome:
    from tasks.generation.suites import GenerateParams

    url = _allowed(url, "url")
    for spec in specs or []:
        _allowed(spec, "spec")
    params = GenerateParams(
        url=url,
        config=config,
        specs=specs or [],
        service=service,
        **({"kinds": kinds} if kinds else {}),
        out_dir=out_dir or str(load_settings().luna_suites_dir),
    )
    made = operations.generate(params)
    manifest = made.manifest
    return GenerateOutcome(
        suite=manifest.slug if manifest else made.suite_dir.name,
        suite_dir=str(made.suite_dir),
        kinds=list(manifest.kinds) if manifest else [],
        tests=dict(manifest.tests) if manifest else {},
        written=made.written,
        unchanged=made.unchanged,
        warnings=made.warnings,
    )


def run_generated_suite(name: str, kinds: list[str] | None = None, base_url: str | None = None) -> SuiteRun:
    from tasks.generation.model import MANIFEST
    from tasks.generation.params import RunSuiteParams
    from tasks.generation.runner import find_suite

    if base_url is None:  # the suite's own default target must be allowed too
        suite_dir = find_suite(name, load_settings().luna_suites_dir)
        base_url = json.loads((suite_dir / MANIFEST).read_text(encoding="utf-8")).get("base_url")
    base_url = _allowed(base_url, "base_url")
    params = RunSuiteParams(
        name=name,
        kinds=kinds,
        base_url=base_url,
        suites_dir=str(load_settings().luna_suites_dir),
    )
    return operations.run_suite(params)


def run_lighthouse(urls: list[str], preset: str = "desktop") -> LighthouseResult:
    from tasks.audit.params import LighthouseParams

    urls = [_allowed(u, "url") or u for u in urls]
    return operations.lighthouse(LighthouseParams(urls=urls, preset=preset))


def run_visual_qa(url: str, agents: list[str] | None = None) -> VisualQAResult:
    url = _allowed(url, "url") or url
    return operations.visual_qa(url, agents or [])


def read_history(service: str, profile: str | None = None, limit: int = 50) -> list[RunRecord]:
    return operations.history(service, profile, limit)


def diff_runs(run_a: str, run_b: str) -> Comparison:
    return operations.diff(run_a, run_b)
