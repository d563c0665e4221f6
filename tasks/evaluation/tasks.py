"""The evaluation stage as Prefect tasks: verdict with baseline, history, run points."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from luna.catalog import Catalog
from luna.influx import Influx
from luna.results import RunResult
from luna.settings import load_settings
from luna.verdict import Verdict
from tasks.evaluation.compare import RunRecord, compare, pick_baseline
from tasks.evaluation.history import history_key, history_rows, read_history
from tasks.evaluation.points import write_run_points
from tasks.evaluation.slo import evaluate


@task(name="evaluate-slos")
def evaluate_run(
    result: RunResult,
    catalog: Catalog,
    baseline_run_id: str | None = None,
    fail_on_regression: bool = False,
    fail_on_not_exercised: bool | None = None,
) -> Verdict:
    """SLO verdict for the run, compared with the pinned or last passing run. An endpoint
    with no requests fails it only with fail_on_not_exercised (None: the setting)."""
    logger = get_run_logger()
    if fail_on_not_exercised is None:
        fail_on_not_exercised = load_settings().luna_fail_on_not_exercised
    history = read_history(result.service, result.profile)
    baseline = pick_baseline(history, result.run_id, baseline_run_id)
    if baseline is not None:
        comparison = compare(RunRecord.from_result(result, "?"), baseline, pinned=bool(baseline_run_id))
        note = f"compared with {'pinned' if baseline_run_id else 'the last passing'} run {baseline.run_id}"
    else:
        comparison = None
        note = (
            f"pinned baseline {baseline_run_id} is not in the history of {result.service} / {result.profile}"
            if baseline_run_id
            else "no earlier passing run of this service and profile: nothing to compare"
        )
    verdict = evaluate(
        result,
        catalog,
        comparison,
        fail_on_regression=fail_on_regression,
        fail_on_not_exercised=fail_on_not_exercised,
        baseline_note=note,
    )
    verdict.write(result.run_dir_path)
    # The CLI prints the verdict itself and hides this line on its console (printed once).
    logger.info("verdict %s: %s (%s)", verdict.status.upper(), verdict.reason, note, extra={"luna_verdict_line": True})
    return verdict


@task(name="record-history")
def record_history(result: RunResult, verdict: Verdict) -> str:
    """One version of the service/profile history artifact per run."""
    key = history_key(result.service, result.profile)
    create_table_artifact(
        table=history_rows(result, verdict.status),
        key=key,
        description=f"{verdict.status.upper()} {result.run_id}: {verdict.reason}"[:500],
    )
    return key


@task(name="write-run-points", retries=2, retry_delay_seconds=2)
def store_run_points(result: RunResult, verdict: Verdict) -> int:
    """Run-level points in InfluxDB for cross-run trends (idempotent; raises so retries fire)."""
    settings = load_settings()
    if not settings.influxdb_url:
        return 0
    client = Influx.from_settings(settings)
    try:
        return write_run_points(client, result, verdict)
    finally:
        client.close()
