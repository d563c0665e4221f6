"""The evaluation stage as Prefect tasks: verdict with baseline, history, run points."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from luna.catalog import Catalog
from luna.influx import Influx
from luna.results import RunResult
from luna.settings import LunaSettings
from luna.verdict import Comparison, Verdict
from tasks.evaluation.baseline import MIN_HISTORY, compare, not_comparable, select_window
from tasks.evaluation.changes import change_points, trends
from tasks.evaluation.compare import RunRecord, incomparable
from tasks.evaluation.history import history_key, history_rows, read_history
from tasks.evaluation.points import write_run_points
from tasks.evaluation.slo import evaluate


@task(name="evaluate-slos")
def evaluate_run(
    result: RunResult,
    catalog: Catalog,
    settings: LunaSettings,
    baseline_run_id: str | None = None,
    fail_on_regression: bool = False,
    fail_on_not_exercised: bool | None = None,
) -> Verdict:
    """SLO verdict for the run, compared with a window of comparable past runs (or the pinned
    run), with change points over the comparable history. An endpoint
    with no requests fails it only with fail_on_not_exercised (None: the setting)."""
    logger = get_run_logger()
    if fail_on_not_exercised is None:
        fail_on_not_exercised = settings.luna_fail_on_not_exercised
    history = read_history(result.service, result.profile)
    current = RunRecord.from_result(result, "?")
    comparison, note = judge_history(history, current, baseline_run_id)
    verdict = evaluate(
        result,
        catalog,
        comparison,
        fail_on_regression=fail_on_regression,
        fail_on_not_exercised=fail_on_not_exercised,
        baseline_note=note,
    )
    comparable = [
        r
        for r in history
        if r.run_id != current.run_id and r.started_at <= current.started_at and not incomparable(r, current)
    ]
    found = change_points([*comparable, current])
    verdict.change_points, verdict.trends = found, trends([*comparable, current], found)
    verdict.write(result.run_dir_path)
    # The CLI prints the verdict itself and hides this line on its console (printed once).
    logger.info("verdict %s: %s (%s)", verdict.status.upper(), verdict.reason, note, extra={"luna_verdict_line": True})
    return verdict


def judge_history(history: list[RunRecord], current: RunRecord, pinned: str | None) -> tuple[Comparison | None, str]:
    """The comparison with the window of comparable runs (or the pinned run), and a note."""
    window = select_window(history, current, pinned)
    if pinned and window.pinned is None:
        return None, f"pinned baseline {pinned} is not in the history of {current.service} / {current.profile}"
    if pinned and window.pinned is not None and (refused := not_comparable(current, window.pinned)):
        return refused, refused.reason
    left_out = ", ".join(f"{n} {why}" for why, n in window.skipped.items())
    if not pinned and not window.runs:
        return None, (
            "no earlier comparable run of this service and profile: nothing to compare "
            f"({MIN_HISTORY} comparable runs are needed before a comparison counts"
            + (f"; past runs left out: {left_out})" if left_out else ")")
        )
    comparison = compare(current, window, pinned=bool(pinned))
    left = ", ".join(f"{n} {why}" for why, n in window.skipped.items())
    note = comparison.reason + (f"; {comparison.todo}" if comparison.todo else "")
    return comparison, note + (f" (past runs left out: {left})" if left else "")


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
def store_run_points(result: RunResult, verdict: Verdict, settings: LunaSettings) -> int:
    """Run-level points in InfluxDB for cross-run trends (idempotent; raises so retries fire)."""
    if not settings.influxdb_url:
        return 0
    client = Influx.from_settings(settings)
    try:
        return write_run_points(client, result, verdict)
    finally:
        client.close()
