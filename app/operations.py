"""The application layer: Luna's public operations, one function each.

Every front end (the `luna` CLI, `LunaClient`, the MCP tools, the REPL) is a thin adapter over
these functions. Each one does its pre-checks (bad input fails here, before Prefect starts:
app/prechecks.py), picks the Prefect server, runs the flow and returns a typed result or raises.

Prefect, the flows and the stages are imported inside the functions, so importing this
module stays instant (`luna env`, `luna doctor`, `--help`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app import prechecks, unfinished
from app.flowruns import DEFAULT_PREFECT, Prefect, unwrap
from app.flowruns import prefect_api as prefect_api  # re-exported: the front ends ask which server is up
from app.prechecks import field_error  # re-exported: the front ends name their flags with it
from luna.errors import ConfigError, LunaError, RunFailed
from luna.settings import load_settings

if TYPE_CHECKING:
    from app.runs import Report, RunInfo
    from luna.catalog import Catalog
    from luna.results import RunResult
    from luna.verdict import Comparison, Verdict
    from tasks.audit.model import LighthouseResult
    from tasks.audit.params import LighthouseParams
    from tasks.discovery.model import Discovery
    from tasks.evaluation.compare import RunRecord
    from tasks.execution.plan import LoadTestParams
    from tasks.generation.params import RunSuiteParams
    from tasks.generation.results import SuiteRun
    from tasks.generation.suites import GenerateParams
    from tasks.generation.write import GeneratedSuite
    from tasks.pipeline.model import PipelineResult
    from tasks.visual_qa.model import VisualQAResult

# The public operations. The CLI, LunaClient and the MCP server each expose exactly these
# (tests/unit/test_operations.py checks it).
PUBLIC_OPERATIONS = (
    "load_test",
    "test_service",
    "discover",
    "generate",
    "run_suite",
    "lighthouse",
    "visual_qa",
    "history",
    "diff",
    "list_runs",
    "get_report",
)


# ---- load runs and the pipeline ------------------------------------------------------


@dataclass(frozen=True)
class LoadRun:
    """A finished load run: its RunResult, its Verdict (None when k6 ended in error) and the
    CLI exit code (0 pass, 1 a threshold or SLO crossed, 2 k6 ended in error, 130 interrupted)."""

    result: RunResult
    verdict: Verdict | None
    exit_code: int

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def load_test(
    params: LoadTestParams, *, prefect: Prefect = DEFAULT_PREFECT, before_run: Callable[[], None] | None = None
) -> LoadRun:
    """Run one load profile (flow `load_test`). The endpoints file, data files, k6, its script
    and the target are checked first (prepare_run); `before_run` is called once Prefect is set up."""
    from tasks.execution.plan import prepare_run

    plan = prepare_run(params)  # fails fast on bad input (k6 and its script too), before Prefect starts
    params = params.model_copy(update={"run_id": plan.run_id})
    prefect.use()
    prechecks.check_auth_block(params.auth_block)
    from flows.load_test import load_test as flow
    from luna.results import RunResult
    from luna.verdict import Verdict

    if before_run is not None:
        before_run()
    with unfinished.started(plan.run_dir, run_id=plan.run_id, profile=plan.profile, target=plan.target):
        state = flow(params, return_state=True)
    failed: Any = state.result(raise_on_failure=False)
    if isinstance(failed, RunFailed):  # the run finished but did not pass: a result, not an error
        return LoadRun(failed.result, failed.verdict, int(failed.exit_code))
    result = unwrap(state, "load_test", RunResult)
    return LoadRun(result, Verdict.read(result.run_dir_path), 0)


def test_service(
    target: str, profile: str = "smoke", *, prefect: Prefect = DEFAULT_PREFECT, **options: Any
) -> PipelineResult:
    """Run the whole pipeline (flow `test-service`) against `target`; returns its PipelineResult
    whether it passed or not. `options` are the flow's other parameters; the target, the load
    settings, k6 and the auth block are checked before the flow starts (app/prechecks.py)."""
    from tasks.execution.plan import LoadTestParams
    from tasks.pipeline.model import PipelineFailed, PipelineResult, check_target

    target = check_target(target)
    load_fields = set(LoadTestParams.model_fields) - {"profile", "target"}
    try:
        load = LoadTestParams(profile=profile, target=target, **{k: v for k, v in options.items() if k in load_fields})
    except ValidationError as exc:
        raise field_error(exc, tip="see the test-service parameters") from None
    if options.get("load", True):
        prechecks.check_k6_for_pipeline(load)
    prefect.use()
    prechecks.check_auth_block(options.get("auth_block"))
    from flows.test_service import test_service as flow

    def carried(exc: BaseException) -> PipelineResult | None:
        return exc.result if isinstance(exc, PipelineFailed) else None

    with unfinished.started():
        state = flow(target, profile=profile, return_state=True, **options)
    return unwrap(state, "test-service", PipelineResult, carried)


# ---- discovery and suites ------------------------------------------------------------


@dataclass(frozen=True)
class Discovered:
    """What discovery found per source, and the endpoints file written (when asked)."""

    found: list[Discovery]
    catalog: Catalog | None = None  # what was written to `out`, when asked
    out: str | None = None


def discover(
    sources: Sequence[str],
    *,
    out: str | Path | None = None,
    service: str = "My API",
    include_destructive: bool = False,
    overwrite: bool = False,
    postman_environment: str | None = None,
    target: str | None = None,
) -> Discovered:
    """Discover endpoints from specs, collections, HARs, WSDLs, GraphQL or a live URL and,
    with `out`, write one endpoints file. Plain functions, no Prefect (the `discover`
    flow runs the same steps). `target` (the service's URL, default BASE_URL when set) is
    recorded in the file; without one, the first URL source's origin is."""
    from tasks.discovery.model import DiscoveryLimits
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import write_endpoints_file
    from tasks.pipeline.model import check_target

    if not sources:
        raise ConfigError("no source to discover from", tip="name a spec, collection, HAR, WSDL, GraphQL file or URL")
    settings = load_settings()
    limits = DiscoveryLimits(max_bytes=settings.luna_discovery_max_bytes)
    found = [load_source(source, postman_environment=postman_environment, limits=limits) for source in sources]
    if out is None:
        return Discovered(found)
    target = target or (settings.base_url if "base_url" in settings.model_fields_set else None)
    catalog = write_endpoints_file(
        found,
        Path(out),
        service=service,
        include_destructive=include_destructive,
        overwrite=overwrite,
        target=check_target(target) if target else None,
    )
    return Discovered(found, catalog, str(out))


def generate(params: GenerateParams) -> GeneratedSuite:
    """Generate the pytest API, Playwright UI, k6 and Lighthouse suites (no Prefect)."""
    from tasks.generation.suites import generate_suite

    return generate_suite(params, load_settings())


def run_suite(params: RunSuiteParams, *, use_flow: bool = True, prefect: Prefect = DEFAULT_PREFECT) -> SuiteRun:
    """Run a generated suite: through the `run_suite` flow (artifacts in Prefect), or with
    `use_flow=False` as plain functions (no artifacts, instant start)."""
    from tasks.generation.results import SuiteFailed, SuiteRun
    from tasks.generation.runner import find_suite

    settings = load_settings()
    suite_dir = find_suite(params.name, Path(params.suites_dir))  # a wrong name fails before Prefect starts
    if not use_flow:
        from datetime import UTC, datetime

        from tasks.generation.runner import run_suite_dir

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(params.out_dir) if params.out_dir else settings.luna_out_dir / "suites" / f"{suite_dir.name}-{stamp}"
        return run_suite_dir(
            suite_dir,
            params.kinds,
            settings=settings,
            out_dir=out,
            base_url=params.base_url,
            k6_duration=params.k6_duration,
            k6_vus=params.k6_vus,
            lighthouse_presets=tuple(params.lighthouse_presets),
        )
    prefect.use()
    from flows.run_suite import run_suite as flow

    def carried(exc: BaseException) -> SuiteRun | None:
        return exc.run if isinstance(exc, SuiteFailed) else None

    return unwrap(flow(params, return_state=True), "run_suite", SuiteRun, carried)


# ---- audits --------------------------------------------------------------------------


def lighthouse(params: LighthouseParams, *, prefect: Prefect = DEFAULT_PREFECT) -> LighthouseResult:
    """Lighthouse audit of the pages, judged against the budgets (flow `lighthouse_audit`)."""
    from tasks.audit.lighthouse import check_url, presets_for
    from tasks.audit.model import LighthouseResult

    for url in params.urls:
        check_url(url)  # bad input fails before Prefect starts
    presets_for(params.preset)
    prefect.use()
    from flows.lighthouse_audit import lighthouse_audit

    return unwrap(lighthouse_audit(params, return_state=True), "lighthouse_audit", LighthouseResult)


def visual_qa(
    url: str, agents: Sequence[str] = (), run_id: str | None = None, *, prefect: Prefect = DEFAULT_PREFECT
) -> VisualQAResult:
    """Visual QA of a page (flow `visual_qa`): probes, plus AI personas when
    VISUAL_QA_AI_KEY is set. A page that did not load is a result, not an error."""
    from tasks.audit.lighthouse import check_url
    from tasks.visual_qa.model import VisualQAResult
    from tasks.visual_qa.personas import load_personas, select

    check_url(url)
    personas = select(load_personas(), list(agents) if agents else None)  # unknown ids fail here
    prefect.use()
    from flows.visual_qa import VisualQAParams
    from flows.visual_qa import visual_qa as flow

    params = VisualQAParams(url=url, agents=[p.id for p in personas] if agents else [], run_id=run_id)

    return unwrap(flow(params, return_state=True), "visual_qa", VisualQAResult)


# ---- history and results -------------------------------------------------------------


def history(
    service: str, profile: str | None = None, limit: int = 50, *, prefect: Prefect = DEFAULT_PREFECT
) -> list[RunRecord]:
    """Past runs of a service with their verdicts, newest first (Prefect's history artifacts),
    each with the change points that start at it (Apache Otava, within comparable runs)."""
    prefect.use()
    from tasks.evaluation.changes import mark_change_points
    from tasks.evaluation.history import read_history

    return mark_change_points(read_history(service, profile, limit=limit))


def diff(run_a: str, run_b: str, *, prefect: Prefect = DEFAULT_PREFECT) -> Comparison:
    """run_b against run_a (the baseline) with the regression model: the change per endpoint
    and metric, its noise from the spread of the comparable runs in Prefect's history, and
    ok / regressed / inconclusive. Two runs that are not comparable (different endpoints,
    profile, VUs or rate) come back with `comparable=False` and the reason, not compared."""
    from luna.results import RunResult
    from luna.verdict import Verdict
    from tasks.evaluation.baseline import compare, not_comparable, select_window
    from tasks.evaluation.compare import RunRecord

    out_dir = load_settings().luna_out_dir
    records: dict[str, RunRecord] = {}
    for run_id in (run_a, run_b):
        folder = out_dir / "runs" / run_id
        if (folder / "summary.json").is_file() and (folder / "verdict.json").is_file():
            records[run_id] = RunRecord.from_result(RunResult.read(folder), Verdict.read(folder).status)
        elif (folder / "summary.json").is_file():
            unfinished = RunResult.read(folder)
            raise LunaError(
                f"run {run_id} ended {unfinished.status} with no verdict ({unfinished.message}): "
                "there is nothing to compare",
                location=str(folder),
                tip="compare two runs that finished; `luna history SERVICE` lists them",
            )
    prefect.use()
    from tasks.evaluation.history import read_history

    known = {r.run_id: r for r in read_history(None, limit=200)}
    for run_id in (run_a, run_b):
        if run_id not in records and run_id in known:
            records[run_id] = known[run_id]
        if run_id not in records:
            raise LunaError(
                f"run {run_id} not found in {out_dir}/runs nor in Prefect history",
                tip="`luna history SERVICE` lists the run ids",
            )
    base, current = records[run_a], records[run_b]
    refused = not_comparable(current, base)
    if refused is not None:
        return refused
    history = read_history(current.service, current.profile)  # the window's spread
    window = select_window([r for r in history if r.run_id != base.run_id] + [base], current, pinned=base.run_id)
    window.pinned = base
    return compare(current, window, pinned=True)


def list_runs(
    service: str | None = None, profile: str | None = None, limit: int = 20, out_dir: Path | None = None
) -> list[RunInfo]:
    """Load runs and pipelines in the results folder, newest first (no Prefect)."""
    from app.runs import list_local_runs

    return list_local_runs(service, profile, limit, out_dir or load_settings().luna_out_dir)


def get_report(run_id: str, out_dir: Path | None = None) -> Report:
    """One run's or pipeline's report from its folder: status, markdown, data, files."""
    from app.runs import read_report

    return read_report(run_id, out_dir or load_settings().luna_out_dir)
