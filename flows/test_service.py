"""Flow `test-service`: the whole pipeline against one service.

discover -> generate (and run the API suite) -> load (k6, SLOs, baseline) -> Lighthouse and
visual QA (submitted as soon as k6 is done, so they run while the load report renders) ->
combined report -> notify. Every stage can be switched off; a stage that errors is
recorded with its reason and the others go on.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed, State

from flows.distributed import sharded_load_flow
from luna.settings import load_settings
from tasks.evaluation.tasks import evaluate_run, record_history, store_run_points
from tasks.execution.plan import LoadTestParams, Profile
from tasks.execution.tasks import execute, prepare
from tasks.notify.tasks import notify_webhooks
from tasks.notify.webhooks import run_event
from tasks.pipeline.model import PipelineFailed, PipelineResult, StageName, StageOutcome, check_target
from tasks.pipeline.stages import (
    attach_load,
    discover_stage,
    generate_stage,
    lighthouse_stage,
    load_outcome,
    new_pipeline_id,
    no_api_load,
    pages_of,
    publish_pipeline_report,
    settle,
    skipped,
    visual_qa_stage,
)
from tasks.reporting.tasks import publish_reports


def _load_stage(
    pipeline: PipelineResult, params: LoadTestParams, started: float, then: Callable[[], None]
) -> StageOutcome:
    """prepare -> k6 -> SLO verdict; `then()` starts the browser stages; points, history and
    the load report follow while they run."""
    plan, failed = settle("load", prepare(params, return_state=True), started)
    if failed is not None:
        then()
        return failed
    if params.shards > 1:  # k6 execution segments (SHARD_ENGINE: Dask or a work pool), merged into one RunResult
        ran = sharded_load_flow(params.shards)(plan, params.shards, return_state=True)
    else:
        ran = execute(plan, return_state=True)
    result, failed = settle("load", ran, started)
    then()  # k6 is done: the browser stages no longer compete with the load for the machine
    if failed is not None:
        return failed
    verdict, failed = settle(
        "load",
        evaluate_run(result, plan.catalog, params.baseline_run_id, params.fail_on_regression, return_state=True),
        started,
    )
    if failed is not None:
        return failed
    store_run_points(result, verdict, return_state=True)  # a dead InfluxDB must not fail the stage
    record_history(result, verdict, return_state=True)
    links, report_failed = settle(
        "load", publish_reports(result, verdict, params.grafana_url, return_state=True), started
    )
    attach_load(pipeline, result, verdict)
    outcome = load_outcome(result, verdict, links)
    if report_failed is not None:
        outcome.details["report_error"] = report_failed.reason
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


def _outcome(name: StageName, future: PrefectFuture[StageOutcome], started: float) -> StageOutcome:
    future.wait()
    value, failed = settle(name, future.state, started)
    outcome: StageOutcome = failed or value
    if outcome.seconds is None:
        outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


@flow(name="test-service", log_prints=True)
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

    target: the service's base URL. source: a spec, collection, HAR, WSDL or GraphQL
    schema to discover from (default: probe the target itself). config: the endpoints
    file used when discovery is off. discover/generate/load/lighthouse/visual_qa/notify
    switch the stages; run_api_suite runs the generated pytest API suite in the generate
    stage, which writes the suites under suites_dir (default: the pipeline's own folder,
    so a scheduled run never rewrites a team's suites/); vqa_agents picks visual-QA personas (empty: all). The run ends Failed when a
    stage failed or errored (an SLO crossed, a failing generated test, a missed
    Lighthouse budget, a dead target); the report says which and why. shards > 1 splits the
    load into k6 execution segments (SHARD_ENGINE: Dask, or one flow run per shard on a
    work pool).
    """
    target = check_target(target)
    load_params = LoadTestParams(  # bad load settings fail here, before any stage runs
        profile=profile,
        target=target,
        config=config,
        baseline_run_id=baseline_run_id,
        fail_on_regression=fail_on_regression,
        grafana_url=grafana_url,
        auth_block=auth_block,
        include_destructive=include_destructive,
        shards=shards,
    )
    pipeline_id = new_pipeline_id(profile)
    out = load_settings().luna_out_dir / "pipelines" / pipeline_id
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
    stages = pipeline.stages

    # discover
    endpoints_file, discoveries = config, []
    if discover:
        started = time.monotonic()
        value, failed = settle(
            "discover",
            discover_stage(
                [source or target], str(out / "endpoints.json"), service, include_destructive, target, return_state=True
            ),
            started,
        )
        if failed is None:
            outcome, discoveries = value
            endpoints_file = str(out / "endpoints.json")
            pipeline.service = pipeline.service or outcome.details.get("service")
        stages.append(failed or outcome)
    else:
        stages.append(skipped("discover", f"switched off; using {config}"))
    endpoints_ready = (not discover or stages[-1].status in ("passed", "warning")) and Path(endpoints_file).is_file()

    # generate (and run the generated API suite)
    if not generate:
        stages.append(skipped("generate", "switched off"))
    elif not endpoints_ready:
        stages.append(skipped("generate", "no endpoints to generate from"))
    else:
        started = time.monotonic()
        future = generate_stage.submit(
            endpoints_file,
            [source] if source else [],
            target,
            pipeline.service,
            run_api_suite,
            suites_dir or str(out / "suites"),
        )
        stages.append(_outcome("generate", future, started))

    # load; the browser stages start when k6 is done
    pages = pages_of(discoveries, target)
    audits: dict[StageName, tuple[PrefectFuture[Any], float]] = {}

    def start_audits() -> None:
        if lighthouse and "lighthouse" not in audits:
            audits["lighthouse"] = (lighthouse_stage.submit(pages), time.monotonic())
        if visual_qa and "visual_qa" not in audits:
            audits["visual_qa"] = (visual_qa_stage.submit(pages[0], vqa_agents or []), time.monotonic())

    if not load:
        stages.append(skipped("load", "switched off"))
    elif not endpoints_ready:
        stages.append(skipped("load", f"no endpoints file: discovery did not produce one and {config} is missing"))
    else:
        params = load_params.model_copy(update={"config": endpoints_file})
        stages.append(no_api_load(_load_stage(pipeline, params, time.monotonic(), start_audits), discoveries))
    start_audits()
    for name, switched_on in (("lighthouse", lighthouse), ("visual_qa", visual_qa)):
        if not switched_on:
            stages.append(skipped(name, "switched off"))  # type: ignore[arg-type]
        else:
            future, started = audits[name]  # type: ignore[index]
            stages.append(_outcome(name, future, started))  # type: ignore[arg-type]

    # report and notify
    pipeline.finished_at = datetime.now(UTC)
    started = time.monotonic()
    report_state = publish_pipeline_report(pipeline, return_state=True)
    _, report_failed = settle("report", report_state, started)
    stages.append(report_failed or report_state.result())
    stages[-1].seconds = round(time.monotonic() - started, 2)
    if notify:
        event = run_event(
            {
                "run_id": pipeline.run_id or pipeline.pipeline_id,
                "service": pipeline.service,
                "profile": profile,
                "target": target,
                "status": "passed" if pipeline.passed else "failed",
                "message": "; ".join(pipeline.problems())[:500],
                "started_at": pipeline.started_at.isoformat(),
            },
            {"status": pipeline.status},
            {"pipeline_report": str(out / "report.html")},
        )
        started = time.monotonic()
        delivered, notify_failed = settle("notify", notify_webhooks(event, return_state=True), started)
        if notify_failed is None:
            bad = [d for d in delivered if not d.ok]
            stages.append(
                StageOutcome(
                    name="notify",
                    status="passed" if not bad else "error",
                    reason=f"{len(delivered)} webhook(s), {len(bad)} failed" if delivered else "no webhooks configured",
                    seconds=round(time.monotonic() - started, 2),
                )
            )
        else:
            stages.append(notify_failed)
    else:
        stages.append(skipped("notify", "switched off"))
    pipeline.write()
    if pipeline.passed:
        return Completed(message=f"pass: {len(stages)} stages", data=pipeline)
    return Failed(message="; ".join(pipeline.problems())[:1000], data=PipelineFailed(pipeline))
