"""Flow `load_test`: one k6 load profile against a service, ending in an SLO verdict."""

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.distributed import execute_sharded
from luna.errors import RunFailed
from luna.results import RunResult
from luna.settings import load_settings
from tasks.evaluation.tasks import evaluate_run, record_history, store_run_points
from tasks.execution.plan import LoadTestParams
from tasks.execution.signals import announce_k6_finished
from tasks.execution.tasks import execute, prepare
from tasks.notify.hooks import HookContext
from tasks.notify.tasks import notify_unfinished_run, notify_webhooks, run_hooks
from tasks.notify.webhooks import run_event
from tasks.reporting.tasks import publish_live_links, publish_reports

DEFAULTS = LoadTestParams()


@flow(name="load_test", log_prints=True, on_failure=[notify_unfinished_run], on_crashed=[notify_unfinished_run])
def load_test(params: LoadTestParams = DEFAULTS, notify: bool = True) -> State[RunResult]:
    """Run a load profile (smoke, ramp, soak, stress, spike), judge it against the SLOs and
    the baseline, and keep its results folder and history. notify=False sends no outgoing
    webhook for this run (test-service sends one for the whole pipeline); the plugin hooks
    run either way.

    The run ends Completed (data: the RunResult) when the verdict passes, and Failed
    otherwise, with a RunFailed error that carries the RunResult and the Verdict:
    `load_test()` raises it; `load_test(return_state=True).result(raise_on_failure=False)`
    returns it.
    """
    plan = prepare(params)
    settings = load_settings()  # once, after prepare (which refuses bad settings with its own error)
    run_hooks("start", HookContext.at_start(plan), settings)
    publish_live_links(plan, settings, params.grafana_url)
    result = execute(plan) if params.shards == 1 else execute_sharded(plan, params.shards)
    announce_k6_finished(plan.run_id)  # test-service starts its browser stages now
    verdict = evaluate_run(
        result, plan.catalog, settings, params.baseline_run_id, params.fail_on_regression, params.fail_on_not_exercised
    )
    store_run_points(result, verdict, settings, return_state=True)  # a dead InfluxDB must not fail the run
    record_history(result, verdict)
    links = publish_reports(result, verdict, settings, params.grafana_url)
    if notify:
        notify_webhooks(run_event(result, verdict, links), settings)
    run_hooks("finish", HookContext.at_finish(result, verdict), settings)
    if verdict.passed:
        return Completed(message=verdict.reason, data=result)
    return Failed(message=f"{verdict.status}: {verdict.reason}", data=RunFailed(result, verdict))
