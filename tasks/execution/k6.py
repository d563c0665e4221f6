"""Run k6 for a plan: stream its output, track progress, keep failure samples, never leak it.

Modelled on prefect-shell's ShellOperation: every output line goes to a callback as it
arrives, the process dies with us (PR_SET_PDEATHSIG, plus try/finally on cancel, Ctrl-C or
error), and k6's exit codes map to outcomes (99 = thresholds crossed is a verdict, not a
crash).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx

from luna.influx import Influx
from luna.masking import Masker
from luna.results import MetricsStore, RunResult, Status
from luna.settings import LunaSettings
from luna.urls import redact
from tasks.execution import generator
from tasks.execution.k6_check import inspect_plan
from tasks.execution.launcher import interrupt, output_lines, start_k6, stop_process
from tasks.execution.measure import Measure, slo_thresholds
from tasks.execution.measure import crossed as crossed_names
from tasks.execution.output import LineSink, OutputHandler, OutputState, ProgressSink
from tasks.execution.plan import K6_DIR, RunPlan
from tasks.execution.reduce import judge, reduce_samples
from tasks.execution.series import series_period_s, write_series
from tasks.execution.summary import parse_summary, run_numbers

# k6's documented exit codes (errext/exitcodes).
K6_EXIT: dict[int, tuple[Status, str]] = {
    99: ("failed", "thresholds crossed"),
    100: ("error", "setup() timed out"),
    101: ("error", "teardown() timed out"),
    102: ("error", "timed out"),
    103: ("error", "k6 engine error"),
    104: ("error", "k6 rejected the test options"),
    105: ("aborted", "run stopped before the end"),
    106: ("error", "k6 could not start its REST API"),
    107: ("error", "k6 script error"),
    108: ("error", "test aborted by the script"),
    109: ("error", "k6 crashed (Go panic)"),
    110: ("failed", "the script marked the test as failed"),
}

# What a run folder may hold, by kind (RunResult.files): the summary always, the rest if written.
RUN_FILES = (
    ("summary", "summary.json"),
    ("k6_options", "k6-options.json"),
    ("k6_summary", "k6-summary.json"),
    ("k6_report", "k6-report.html"),
    ("series", "series.json"),
    ("k6_log", "k6.log"),
    ("failures", "failures.jsonl"),
    ("endpoints", "endpoints.json"),
)

# The web dashboard keeps every snapshot in k6's memory until the end (for the export), so a
# fixed count keeps k6's memory flat whatever the run length (bench/memory_k6.py); the period
# stays within 0.5 s (k6 skips its report below ~3 snapshots) and k6's own default of 10 s.
DASHBOARD_SNAPSHOTS = 120
DASHBOARD_PERIOD_MS = (500, 10_000)


def dashboard_period_ms(total_s: float | None) -> int:
    """The dashboard's snapshot period for a run that k6 plans to take `total_s` seconds."""
    low, high = DASHBOARD_PERIOD_MS
    return max(low, min(high, int((total_s or 60) * 1000 / DASHBOARD_SNAPSHOTS)))


@functools.lru_cache(maxsize=8)
def summary_off(binary: str) -> str:
    """The flag that turns k6's end-of-test summary off: `--no-summary` on k6 v1,
    `--summary-mode=disabled` on v2 (which dropped the other)."""
    try:
        version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    match = re.search(r"v(\d+)\.", version)
    return "--summary-mode=disabled" if match and int(match.group(1)) >= 2 else "--no-summary"


def measured_in_vus(plan: RunPlan) -> bool:
    """Luna's own script measures each call in its VUs (k6/lib/measure.js). A script of the
    user's own (LUNA_K6_SCRIPT) keeps k6's thresholds and summary: its handleSummary() may
    write LUNA_SUMMARY_FILE, the figures Luna then reads (shards: its raw samples)."""
    return plan.script.resolve() == (K6_DIR / "main.js").resolve()


def k6_command(plan: RunPlan, influx_out: str | None = None) -> list[str]:
    """k6 without thresholds or its end-of-test summary: with either, k6 keeps every Trend
    sample in memory and matches each one against per-endpoint submetrics. Luna measures
    each call in the VUs (k6/lib/measure.js) and judges the SLOs on that."""
    outputs = ["--out", f"influxdb={influx_out}"] if influx_out else []
    measured = measured_in_vus(plan)
    return [
        plan.k6_binary,
        "run",
        *(["--no-thresholds", summary_off(plan.k6_binary)] if measured else []),
        *outputs,
        "--log-format",
        "json",
        "--no-color",
        "--no-usage-report",
        "--address",
        "",  # no REST API: parallel runs must not fight over port 6565
        "--tag",
        f"run_id={plan.run_id}",
        "--tag",
        f"profile={plan.profile}",
        "--tag",
        f"service={plan.catalog.service}",
        str(plan.script),
    ]


def k6_process_env(plan: RunPlan, settings: LunaSettings, dashboard_period_ms: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "K6_WEB_DASHBOARD", "K6_INFLUXDB"))}
    env.update(plan.k6_env)
    for name in ("auth_token", "auth_basic_pass", "auth_api_key", "auth_client_secret"):
        secret = getattr(settings, name)
        if secret is not None:
            env[name.upper()] = secret.get_secret_value()
    env.update(
        {
            "LUNA_SUMMARY_FILE": str(plan.run_dir / "k6-summary.json"),  # for a script with handleSummary()
            "LUNA_FAILURES_PER_VU": str(min(3, settings.luna_failure_samples)),
        }
    )
    # Off by default: it holds every duration until the end (series.py). A script of the
    # user's own has no measure lines for series.json: its charts come from the export.
    if settings.luna_k6_dashboard or not measured_in_vus(plan):
        env |= {
            "K6_WEB_DASHBOARD": "true",
            "K6_WEB_DASHBOARD_PORT": "-1",
            "K6_WEB_DASHBOARD_EXPORT": str(plan.run_dir / "k6-report.html"),
            "K6_WEB_DASHBOARD_PERIOD": f"{dashboard_period_ms}ms",
        }
    if env.get("K6_OUT"):  # an output of the user's own (K6_OUT=csv=...) gets tagged samples too
        env |= SAMPLES_ENV
    return env


# Set whenever k6's own samples leave k6 (InfluxDB, a user's K6_OUT, a shard's CSV): only then
# do k6/lib/endpoints.js's requests carry name/group tags, each endpoint's expected statuses
# and k6 checks, which cost k6 a sixth of its throughput (bench/runner_efficiency.py).
SAMPLES_ENV = {"LUNA_K6_SAMPLES": "1"}

# Sample streaming settings, measured in bench/influx_completeness.py. vu/iter/url go as
# fields so series cardinality stays bounded (k6 v1 emits only url unless vu/iter system
# tags are enabled). A 1 s push at ~6k req/s made ~25 MB batches that influxd 1.x refuses
# (max-body-size): 16% lost. 250 ms batches stayed whole (99.998% stored).
INFLUX_ENV = {
    "K6_INFLUXDB_TAGS_AS_FIELDS": "vu:int,iter:int,url",
    "K6_INFLUXDB_PUSH_INTERVAL": "250ms",
    "K6_INFLUXDB_CONCURRENT_WRITES": "4",
}


def influx_output(settings: LunaSettings, on_line: LineSink) -> tuple[MetricsStore | None, str | None, dict[str, str]]:
    """Where k6 streams samples, if InfluxDB is configured and answers; never fails the run."""
    if not settings.influxdb_url:
        return None, None, {}
    client = Influx.from_settings(settings)
    store = MetricsStore(url=redact(client.url), database=client.database, stored=True)
    try:
        client.ping()
    except httpx.HTTPError as exc:
        store.stored = False
        store.note = f"InfluxDB at {store.url} did not answer before the run ({type(exc).__name__}): samples not stored"
        on_line("warning", store.note)
        return store, None, {}
    finally:
        client.close()
    env = dict(INFLUX_ENV) | SAMPLES_ENV  # Grafana's panels read k6's per-endpoint samples
    if settings.influxdb_token is not None:
        env["K6_INFLUXDB_USERNAME"] = "luna"
        env["K6_INFLUXDB_PASSWORD"] = settings.influxdb_token.get_secret_value()
    return store, f"{client.url}/{client.database}", env


def check_completeness(store: MetricsStore, settings: LunaSettings, result: RunResult, errors: int) -> None:
    """Count what InfluxDB holds for this run against k6's own request count."""
    store.errors = errors
    # InfluxDB holds k6's http_reqs: one per request sent, a call's redirect hops included.
    expected = result.total.requests + result.total.redirects if result.total else None
    store.samples_expected = expected
    client = Influx.from_settings(settings)
    try:
        series = client.query(f"SELECT count(value) FROM http_reqs WHERE run_id = '{result.run_id}'")
        store.samples_stored = int(series[0]["values"][0][1]) if series else 0
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        store.stored = False
        store.note = f"InfluxDB at {store.url} could not be read after the run ({type(exc).__name__})" + (
            f"; {errors} writes failed during the run: samples are incomplete" if errors else ": samples unverified"
        )
        return
    finally:
        client.close()
    share = store.samples_stored / expected if expected else 1.0
    # Two samples of one series in the same nanosecond overwrite each other in InfluxDB:
    # a handful per 100k requests, not a lost batch.
    store.stored = errors == 0 and share >= 0.999
    store.note = f"InfluxDB holds {store.samples_stored} of {expected} requests ({share:.3%})" + (
        f"; {errors} writes were refused, each a lost batch" if errors else ""
    )


def run_k6(
    plan: RunPlan,
    settings: LunaSettings,
    on_line: LineSink,
    on_progress: ProgressSink,
    extra_env: dict[str, str] | None = None,
) -> RunResult:
    """Run k6 to the end (or until interrupted) and return the typed result. `extra_env`
    goes to k6 last (the live dashboard's K6_WEB_DASHBOARD_PORT, tasks/execution/live.py)."""
    total_s = plan.planned_s if plan.planned_s is not None else inspect_plan(plan)
    store, influx_out, influx_env = influx_output(settings, on_line)
    period_ms = dashboard_period_ms(total_s)
    mask = Masker.from_settings(settings)
    state = OutputState(failure_cap=settings.luna_failure_samples, series_period_s=series_period_s(total_s))
    run_dir = plan.run_dir
    interrupted: BaseException | None = None
    with (
        (run_dir / "k6.log").open("w", encoding="utf-8") as log,
        (run_dir / "failures.jsonl").open("w", encoding="utf-8") as failures,
    ):
        handler = OutputHandler(plan, mask, state, log, failures, on_line, on_progress)
        proc = start_k6(
            k6_command(plan, influx_out),
            plan.script.parent,
            {**k6_process_env(plan, settings, period_ms), **influx_env, **(extra_env or {})},
        )
        watch = generator.GeneratorWatch(proc.pid)  # k6's and the machine's CPU (generator.py)
        handler.watch_breaches(lambda: interrupt(proc), watch.saturated_now)
        try:
            for stream, line in output_lines(proc):
                handler.handle(stream, line)
            proc.wait()
        except BaseException as exc:  # Ctrl-C, Prefect cancellation, crash: stop k6, keep results
            interrupted = exc
            stop_process(proc)
            raise
        finally:
            stop_process(proc)
            handler.repeats.flush()
            for written in ("k6-options.json", "k6-summary.json", "k6-report.html"):  # what k6 wrote itself
                mask.file(run_dir / written)
            result = collect_result(plan, proc.returncode, state, interrupted)
            result.generator, result.load_shape = generator.finish(
                watch, plan.profile, plan.load_model, plan.k6_env, run_dir
            )
            if store is not None and influx_out is not None:
                check_completeness(store, settings, result, state.influx_errors)
            result.influxdb = store
            result.write()
    return result


def collect_result(plan: RunPlan, code: int | None, state: OutputState, interrupted: BaseException | None) -> RunResult:
    run_dir = plan.run_dir
    summary_path = run_dir / "k6-summary.json"
    data: dict[str, Any] | None = None
    if summary_path.is_file():
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    status, message = _outcome(code, state, interrupted)
    result = RunResult(
        run_id=plan.run_id,
        service=plan.catalog.service,
        profile=plan.profile,
        load_model=plan.load_model,
        target=plan.target,
        status=status,
        message=message,
        stopped_early=state.breach if status == "failed" else None,
        k6_exit_code=code,
        started_at=plan.started_at,
        finished_at=datetime.now(UTC),
        failure_samples=state.failures_kept,
        run_dir=str(run_dir),
    )
    if state.measure is None and data is None and code == 0 and interrupted is None:
        state.measure = Measure(plan.catalog)  # k6 ran to its end and no call completed
    if state.measure is not None and (code is None or code < 0):
        state.measure = None  # k6 was killed: its VUs' last lines never came, nothing exact was measured
    if state.measure is not None:
        measured(result, plan, state)
        write_series(state.measure.series, run_dir, result.duration_s)
        if result.status == "passed" and crossed_names(result.thresholds):
            result.status, result.message = (
                "failed",
                "thresholds crossed: " + "; ".join(crossed_names(result.thresholds)),
            )
        if result.status == "passed" and result.total is not None and result.total.requests == 0:
            result.status, result.message = "failed", _nothing_completed({}, state)
    elif data is not None:  # a k6 that ran with its summary (an older run folder)
        result.total, result.endpoints, result.thresholds = parse_summary(data, plan.catalog)
        result.duration_s, result.vus_max, result.iterations = run_numbers(data)
        if status == "failed" and code == 99:
            crossed = [f"{t.metric} {t.expression}" for t in result.thresholds if not t.ok]
            result.message = "thresholds crossed: " + "; ".join(crossed)
        if result.status == "passed" and result.total.requests == 0:
            result.status, result.message = "failed", _nothing_completed(data, state)
    else:
        result.iterations = state.iterations
        result.message += f" after {state.iterations} iterations" if state.iterations else ""
        if result.status == "passed":  # k6 exited 0 and no VU sent a measure: nothing was called
            result.status, result.message = "failed", _nothing_completed({}, state)
    result.files = {kind: name for kind, name in RUN_FILES if kind == "summary" or (run_dir / name).is_file()}
    return result


def measured(result: RunResult, plan: RunPlan, state: OutputState) -> None:
    """The run's figures from Luna's measure: the same reduction as N shards' (merge.py)."""
    assert state.measure is not None
    samples = state.measure.result(state.iterations, state.vus_max)  # a shard keeps the same
    result.duration_s, result.vus_max, result.iterations = state.elapsed_s, state.vus_max or None, state.iterations
    result.total, result.endpoints, merged = reduce_samples(plan.catalog, [samples], state.elapsed_s)
    result.thresholds = judge(slo_thresholds(plan.catalog), merged, state.elapsed_s)


def _nothing_completed(data: dict[str, Any], state: OutputState) -> str:
    """k6 exits 0 with no call counted: say whether calls went out and never came back (an
    interrupted iteration is one whose call was still waiting when the run ended)."""
    sent = int(((data.get("metrics") or {}).get("data_sent") or {}).get("values", {}).get("count", 0))
    if sent or state.interrupted:
        what = f"k6 sent {sent} bytes but " if sent else ""
        return (
            f"no request completed: {what}the target answered none within the run "
            f"({state.interrupted} iterations interrupted); it hangs or is slower than the run"
        )
    return "no requests were made: the script's iterations sent none"


def _outcome(code: int | None, state: OutputState, interrupted: BaseException | None) -> tuple[Status, str]:
    if state.breach is not None and interrupted is None and code is not None and code >= 0:
        return "failed", state.breach  # a verdict on what was measured until the stop
    if interrupted is not None:
        return "aborted", f"run interrupted ({type(interrupted).__name__}); k6 was stopped and partial results kept"
    if code == 0:
        return "passed", "k6 finished and every threshold held"
    if code is None:
        return "aborted", "k6 ended without an exit code"
    if code < 0:
        return "aborted", f"k6 was killed by signal {-code}"
    status, text = K6_EXIT.get(code, ("error", f"k6 exited with code {code}"))
    reason = state.abort_reason or state.last_error
    if code in (104, 107, 108, 100) and reason:
        text = f"{text}: {reason}"
    return status, text
