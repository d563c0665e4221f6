"""Flow `test-service`: the whole pipeline against one service.

discover -> generate (and run the API suite) -> the `load_test` flow -> the
`lighthouse_audit` and `visual_qa` flows (started as soon as k6 is done, so they run while
the load's reports are written) -> combined report -> notify. The load and the audits are
the same flows `luna run`, `luna lighthouse` and `luna vqa` run, as subflows, so every path
runs the same plugin hooks, history and reports. Every stage can be switched off; a stage
that errors is recorded with its reason and the others go on.
"""

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed, State

from flows.lighthouse_audit import lighthouse_audit
from flows.load_test import load_test
from flows.visual_qa import VisualQAParams, visual_qa
from luna.settings import LunaSettings, load_settings
from tasks.audit.params import LighthouseParams
from tasks.execution.k6_check import check_k6_for_params
from tasks.execution.plan import LoadTestParams, Profile, new_run_id
from tasks.execution.signals import announce_k6_finished, expect_k6_finished
from tasks.notify.tasks import notify_unfinished_run, notify_webhooks
from tasks.notify.webhooks import run_event
from tasks.pipeline.model import PipelineFailed, PipelineResult, StageName, StageOutcome, check_target
from tasks.pipeline.stages import (
    MAX_AUDITED_PAGES,
    attach_load,
    discover_stage,
    generate_stage,
    lighthouse_outcome,
    load_stage_outcome,
    new_pipeline_id,
    no_api_load,
    pages_of,
    publish_pipeline_report,
    settle,
    skipped,
    visual_qa_outcome,
)

# ---- the subflows, each in a task so the browser stages can run beside the load's tail ----


@task(name="pipeline-load")
def load_stage(params: LoadTestParams, settings: LunaSettings) -> StageOutcome:
    """The `load_test` flow as a subflow (its own webhook off: the pipeline sends one)."""
    assert params.run_id is not None
    try:
        value: Any = load_test(params, notify=False, return_state=True).result(raise_on_failure=False)
    finally:
        announce_k6_finished(params.run_id)  # also when the load stopped before k6
    run_dir = settings.luna_out_dir / "runs" / params.run_id
    return load_stage_outcome(value, run_dir, params.grafana_url or settings.grafana_url)


@task(name="pipeline-lighthouse")
def lighthouse_stage(pages: list[str]) -> StageOutcome:
    """The `lighthouse_audit` flow (desktop, default budgets) on the first pages."""
    state = lighthouse_audit(LighthouseParams(urls=pages[:MAX_AUDITED_PAGES]), return_state=True)
    value: Any = state.result(raise_on_failure=False)
    if isinstance(value, BaseException):
        raise value
    return lighthouse_outcome(value)


@task(name="pipeline-visual-qa")
def visual_qa_stage(url: str, agents: list[str]) -> StageOutcome:
    """The `visual_qa` flow on the first page: probes always, personas when a key is set."""
    value: Any = visual_qa(VisualQAParams(url=url, agents=agents), return_state=True).result(raise_on_failure=False)
    if isinstance(value, BaseException):
        raise value
    return visual_qa_outcome(value)


def _outcome(name: StageName, future: PrefectFuture[StageOutcome], started: float) -> StageOutcome:
    future.wait()
    value, failed = settle(name, future.state, started)
    outcome: StageOutcome = failed or value
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


# ---- the steps of the body ---------------------------------------------------------------


def _discover(
    pipeline: PipelineResult,
    settings: LunaSettings,
    switched_on: bool,
    source: str | None,
    config: str,
    include_destructive: bool,
) -> tuple[str, list[Any], bool]:
    """(endpoints file, discoveries, whether the file is ready for generate and load)."""
    if not switched_on:
        pipeline.stages.append(skipped("discover", f"switched off; using {config}"))
        return config, [], Path(config).is_file()
    out = Path(pipeline.out_dir) / "endpoints.json"
    started = time.monotonic()
    args = ([source or pipeline.target], str(out), pipeline.service, include_destructive, pipeline.target, settings)
    value, failed = settle("discover", discover_stage(*args, return_state=True), started)
    if failed is not None:
        pipeline.stages.append(failed)
        return config, [], False
    outcome, discoveries = value
    pipeline.service = pipeline.service or outcome.details.get("service")
    pipeline.stages.append(outcome)
    return str(out), discoveries, out.is_file()


def _generate(
    pipeline: PipelineResult,
    settings: LunaSettings,
    switched_on: bool,
    ready: bool,
    endpoints_file: str,
    source: str | None,
    run_api_suite: bool,
    suites_dir: str | None,
) -> None:
    """The generate stage; the suites go under suites_dir (default: the pipeline's own folder)."""
    if not switched_on:
        pipeline.stages.append(skipped("generate", "switched off"))
    elif not ready:
        pipeline.stages.append(skipped("generate", "no endpoints to generate from"))
    else:
        started = time.monotonic()
        sources = [source] if source else []
        suites = suites_dir or str(Path(pipeline.out_dir) / "suites")
        args = (endpoints_file, sources, pipeline.target, pipeline.service, run_api_suite, settings, suites)
        future = generate_stage.submit(*args)
        pipeline.stages.append(_outcome("generate", future, started))


def _load_then_audits(
    pipeline: PipelineResult,
    settings: LunaSettings,
    params: LoadTestParams | None,
    pages: list[str],
    audits: dict[str, bool],
    vqa_agents: list[str],
    discoveries: list[Any],
) -> None:
    """The load subflow; Lighthouse and visual QA start when k6 is done (or at once without a load)."""
    running: dict[StageName, tuple[PrefectFuture[StageOutcome], float]] = {}
    load_future = None
    if params is not None:
        assert params.run_id is not None
        k6_done = expect_k6_finished(params.run_id)
        load_started = time.monotonic()
        load_future = load_stage.submit(params, settings)
        while not k6_done.wait(1.0) and not load_future.state.is_final():
            pass  # bounded by the load subflow: the task announces k6's end even when it fails
    if audits["lighthouse"]:
        running["lighthouse"] = (lighthouse_stage.submit(pages), time.monotonic())
    if audits["visual_qa"]:
        running["visual_qa"] = (visual_qa_stage.submit(pages[0], vqa_agents), time.monotonic())
    if params is not None and load_future is not None:
        pipeline.stages.append(no_api_load(_outcome("load", load_future, load_started), discoveries))
        attach_load(pipeline, settings.luna_out_dir / "runs" / str(params.run_id))
    for name in ("lighthouse", "visual_qa"):
        if name in running:
            pipeline.stages.append(_outcome(name, *running[name]))
        else:
            pipeline.stages.append(skipped(name, "switched off"))


def _report_and_notify(pipeline: PipelineResult, settings: LunaSettings, notify: bool) -> None:
    started = time.monotonic()
    report_state = publish_pipeline_report(pipeline, settings, return_state=True)
    _, report_failed = settle("report", report_state, started)
    pipeline.stages.append(report_failed or report_state.result())
    pipeline.stages[-1].seconds = round(time.monotonic() - started, 2)
    if not notify:
        pipeline.stages.append(skipped("notify", "switched off"))
        return
    event = run_event(pipeline.event_result(), pipeline.status, pipeline.event_links())
    started = time.monotonic()
    delivered, notify_failed = settle("notify", notify_webhooks(event, settings, return_state=True), started)
    if notify_failed is not None:
        pipeline.stages.append(notify_failed)
        return
    bad = [d for d in delivered if not d.ok]
    pipeline.stages.append(
        StageOutcome(
            name="notify",
            status="passed" if not bad else "error",
            reason=f"{len(delivered)} webhook(s), {len(bad)} failed" if delivered else "no webhooks configured",
            seconds=round(time.monotonic() - started, 2),
        )
    )


@flow(name="test-service", log_prints=True, on_crashed=[notify_unfinished_run])
def test_service(
    target: str,
    profile: Profile = "smoke",
    source: str | None = None,
    config: str = "k6/config/endpoints.json",
    service: str | None = None,
    commit: str | None = None,
    environment: str | None = None,
    discover: bool = True,
    generate: bool = True,
    load: bool = True,
    lighthouse: bool = True,
    visual_qa: bool = True,
    notify: bool = True,
    run_api_suite: bool = True,
    suites_dir: str | None = None,
    vqa_agents: list[str] | None = None,
    include_destructive: bool = False,
    shards: int = 1,
    baseline_run_id: str | None = None,
    fail_on_regression: bool = False,
    grafana_url: str | None = None,
    auth_block: str | None = None,
) -> State[PipelineResult]:
    """Test a service end to end and return one PipelineResult.

    target: the service's base URL. source: a spec, collection, HAR, WSDL or GraphQL schema to
    discover from (default: probe the target itself). config: the endpoints file used when
    discovery is off. discover/generate/load/lighthouse/visual_qa/notify switch the stages;
    run_api_suite runs the generated pytest API suite in the generate stage, which writes the
    suites under suites_dir (default: the pipeline's own folder, so a scheduled run never
    rewrites a team's suites/); vqa_agents picks visual-QA personas (empty: all). The run ends
    Failed when a stage failed or errored (an SLO crossed, a failing generated test, a missed
    Lighthouse budget, a dead target); the report says which and why. shards > 1 splits the
    load into k6 execution segments (SHARD_ENGINE: Dask, or one flow run per shard on a pool).
    """
    target = check_target(target)
    load_params = LoadTestParams(  # bad load settings fail here, before any stage runs
        profile=profile,
        target=target,
        config=config,
        run_id=new_run_id(profile),
        baseline_run_id=baseline_run_id,
        fail_on_regression=fail_on_regression,
        grafana_url=grafana_url,
        auth_block=auth_block,
        include_destructive=include_destructive,
        shards=shards,
    )
    settings = load_settings()  # once: every stage of this flow gets it (the subflows load their own)
    if load:  # a broken k6 or script fails the flow now, before discovery probes the target
        check_k6_for_params(load_params, settings)
    pipeline = _new_pipeline(settings, target, profile, service, commit, environment)
    endpoints_file, discoveries, ready = _discover(pipeline, settings, discover, source, config, include_destructive)
    _generate(pipeline, settings, generate, ready, endpoints_file, source, run_api_suite, suites_dir)
    params = _load_params(pipeline, load, ready, load_params, endpoints_file, config)
    audits = {"lighthouse": lighthouse, "visual_qa": visual_qa}
    pages = pages_of(discoveries, target)
    _load_then_audits(pipeline, settings, params, pages, audits, vqa_agents or [], discoveries)
    return _finish(pipeline, settings, notify)


def _new_pipeline(
    settings: LunaSettings,
    target: str,
    profile: Profile,
    service: str | None,
    commit: str | None,
    environment: str | None,
) -> PipelineResult:
    """The pipeline's record in out/pipelines/<id>/, written at once: a pipeline killed
    before its end still leaves its record (no finished_at)."""
    pipeline_id = new_pipeline_id(profile)
    out = settings.luna_out_dir / "pipelines" / pipeline_id
    out.mkdir(parents=True, exist_ok=True)
    pipeline = PipelineResult(
        pipeline_id=pipeline_id,
        target=target,
        profile=profile,
        service=service,
        commit=commit,
        environment=environment,
        started_at=datetime.now(UTC),
        out_dir=str(out),
    )
    pipeline.write()
    return pipeline


def _load_params(
    pipeline: PipelineResult, load: bool, ready: bool, params: LoadTestParams, endpoints_file: str, config: str
) -> LoadTestParams | None:
    """The load's parameters on the endpoints file, or None (the skip recorded with its reason)."""
    if not load:
        pipeline.stages.append(skipped("load", "switched off"))
    elif not ready:
        pipeline.stages.append(
            skipped("load", f"no endpoints file: discovery did not produce one and {config} is missing")
        )
    return params.model_copy(update={"config": endpoints_file}) if load and ready else None


def _finish(pipeline: PipelineResult, settings: LunaSettings, notify: bool) -> State[PipelineResult]:
    pipeline.finished_at = datetime.now(UTC)
    _report_and_notify(pipeline, settings, notify)
    pipeline.write()
    if pipeline.passed:
        return Completed(message=f"pass: {len(pipeline.stages)} stages", data=pipeline)
    return Failed(message="; ".join(pipeline.problems())[:1000], data=PipelineFailed(pipeline))
