"""What Luna does with each line k6 writes: the run log (masked), failure samples, progress,
k6's clock and VUs, the VUs' measure lines (tasks/execution/measure.py, and with them the
per-period series, tasks/execution/series.py, summed up in a `live:` run-log line every
10 s) and, when the endpoints file asks for it (`slos.abort_on_breach`), stopping k6 as soon
as the run as a whole breaches its p95 or error-rate SLO, as a k6 threshold with
`abortOnFail` would.

The breach watch judges the measure added up so far with the same code that judges the run
after it (tasks/execution/reduce.py `judge`), at most once a second, and only after
`slos.abort_after_s` of k6's clock (k6's `delayAbortEval`): a run's first seconds are its
warm-up. Used by the single run (tasks/execution/k6.py) and by each shard on its own calls
(tasks/distributed/shard.py: a breaching shard stops the others through the barrier); a
p95 breach while k6 itself is saturated does not stop the run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from luna.masking import Masker
from tasks.execution.k6_log import RepeatedLines
from tasks.execution.measure import AGG_PREFIX, Measure, MeasureLineError, elapsed_seconds, slo_thresholds
from tasks.execution.measure import crossed as crossed_names
from tasks.execution.plan import RunPlan
from tasks.execution.reduce import Merged, judge
from tasks.execution.series import LIVE_WINDOW_S, Clock, PeriodSeries

PROGRESS = re.compile(r"\[\s*(\d+)%\s*\]")
RUNNING = re.compile(r"running \(([^)]+)\), (\d+)/(\d+) VUs, (\d+) complete(?: and (\d+) interrupted)?")

LineSink = Callable[[str, str], None]  # (level, text)
ProgressSink = Callable[[float, str], None]  # (fraction 0..1, description)
LATENCY_METRIC = "luna_call_duration"
BREACH_CHECK_S = 1.0  # the watch judges the run so far at most this often


@dataclass
class OutputState:
    """What Luna keeps from k6's output: bounded, whatever the run length."""

    failure_cap: int
    failures_kept: int = 0
    last_error: str | None = None
    abort_reason: str | None = None
    fraction: float = 0.0
    kept_by_endpoint: dict[str, int] = field(default_factory=dict)
    influx_errors: int = 0
    iterations: int | None = None  # from k6's last "running (...), N complete and M interrupted" line
    interrupted: int = 0
    elapsed_s: float | None = None  # k6's clock on its last progress line
    vus_max: int = 0
    measure: Measure | None = None  # Luna's per-call measure (k6/lib/measure.js), added up as it comes
    breach: str | None = None  # why the breach watch stopped k6, if it did
    bad_measure_lines: int = 0  # LUNA_AGG lines that could not be read (their calls are not counted)
    series_period_s: float | None = None  # keep the per-period series (series.json) in this period
    series_buckets: bool = False  # and each period's HDR buckets (a shard: the merged run's series)
    clock: Clock = field(default_factory=Clock)  # k6's test clock, from its progress lines
    vus_now: int | None = None  # active VUs on k6's last progress line


class BreachWatch:
    """Judges the run so far against its global SLOs; `stop` ends k6 (once) on a breach."""

    def __init__(
        self,
        plan: RunPlan,
        stop: Callable[[], None],
        saturation: Callable[[], str] | None = None,
        warn: LineSink | None = None,
    ) -> None:
        slos = plan.catalog.slos
        self.pairs = slo_thresholds(plan.catalog)[:2]  # the run's p95 and error rate
        self.after_s = slos.abort_after_s
        self.stop = stop
        self.saturation = saturation  # why k6 is saturated now ("" when it is not)
        self.warn = warn
        self.warned = False
        self.started = time.monotonic()
        self.next_check = self.started

    def check(self, state: OutputState) -> None:
        now = time.monotonic()
        if state.breach is not None or state.measure is None or now < self.next_check:
            return
        self.next_check = now + BREACH_CHECK_S
        clock = state.elapsed_s if state.elapsed_s is not None else now - self.started
        if clock < self.after_s:
            return
        overall = Merged([state.measure.overall.tally()])
        crossed = self._trusted(crossed_names(judge(self.pairs, {"": overall}, clock)), clock)
        if crossed:
            rate = overall.failed / overall.requests if overall.requests else 0.0
            p95 = overall.percentile(95)
            state.breach = (
                f"stopped at {clock:.0f} s by slos.abort_on_breach: {'; '.join(crossed)} "
                f"(so far: {overall.requests} calls, error rate {rate:.2%}, p95 "
                f"{'-' if p95 is None else f'{p95:.1f} ms'}; the figures are the calls the VUs had "
                "reported, up to ~1 s each short of the stop)"
            )
            self.stop()

    def _trusted(self, crossed: list[str], clock: float) -> list[str]:
        """A p95 breach while k6 itself is saturated measures k6's wait for CPU, not the
        service: it does not stop the run (the finished run's verdict says saturated)."""
        latency = [name for name in crossed if name.startswith(LATENCY_METRIC)]
        if not latency or self.saturation is None or not (why := self.saturation()):
            return crossed
        if not self.warned and self.warn is not None:
            self.warned = True
            self.warn(
                "warning",
                f"slos.abort_on_breach: p95 over the SLO at {clock:.0f} s while the load generator is "
                f"saturated ({why}): not stopping on it, k6's latencies include its own wait for CPU",
            )
        return [name for name in crossed if name not in latency]


class OutputHandler:
    """Routes each k6 line: log file, failure samples, progress, the run log, the breach watch."""

    def __init__(
        self,
        plan: RunPlan,
        mask: Masker,
        state: OutputState,
        log: IO[str],
        failures: IO[str],
        on_line: LineSink,
        on_progress: ProgressSink,
    ) -> None:
        self.plan, self.mask, self.state = plan, mask, state
        self.log, self.failures = log, failures
        self.on_line, self.on_progress = on_line, on_progress
        self.banner_done = False
        self.repeats = RepeatedLines(on_line)  # k6's warnings, counted per message per second
        self.watch: BreachWatch | None = None
        self.next_live_s = LIVE_WINDOW_S
        self.live_from = 0  # the first period the next live line covers

    def watch_breaches(self, stop: Callable[[], None], saturation: Callable[[], str] | None = None) -> None:
        """Stop k6 through `stop` on a global SLO breach, if the endpoints file asks for it;
        `saturation` says why k6 is saturated now (a p95 breach then does not stop it)."""
        if self.plan.catalog.slos.abort_on_breach:
            self.watch = BreachWatch(self.plan, stop, saturation, self.on_line)

    def handle(self, stream: str, raw: str) -> None:
        if stream == "stderr" and AGG_PREFIX in raw[:80] and self._aggregate(raw):
            if self.watch is not None:
                self.watch.check(self.state)
            return  # numbers only: neither masked nor logged (a line a second per VU)
        line = self.mask(raw)
        self.log.write(line + "\n")
        if stream == "stdout":
            self._stdout(line)
        else:
            self._stderr(line)

    def _aggregate(self, raw: str) -> bool:
        """A VU's `LUNA_AGG [...]` console line (k6's JSON log record): add it to the measure."""
        try:
            msg = str(json.loads(raw).get("msg", ""))
        except json.JSONDecodeError:
            return False
        if not msg.startswith(AGG_PREFIX):
            return False
        state = self.state
        if state.measure is None:
            period = state.series_period_s
            series = PeriodSeries(period, state.series_buckets) if period else None
            state.measure = Measure(self.plan.catalog, series)
        if state.measure.series is not None:
            state.measure.series.vus = state.vus_now
        try:
            state.measure.add_line(msg.removeprefix(AGG_PREFIX), state.clock.now())
            self._live()
        except MeasureLineError as exc:
            self.state.bad_measure_lines += 1
            if self.state.bad_measure_lines <= 3:
                self.on_line(
                    "warning", f"k6/lib/measure.js line not counted: {exc} (is LUNA_K6_SCRIPT from this Luna?)"
                )
        return True

    def _live(self) -> None:
        """Every LIVE_WINDOW_S of k6's clock, the figures of the periods closed since the last
        such line, in the run log: what a run without k6's web dashboard or Grafana shows."""
        series = self.state.measure.series if self.state.measure is not None else None
        if series is None or (done := series.closed()) == 0 or done * series.period_s < self.next_live_s:
            return
        self.next_live_s = done * series.period_s + LIVE_WINDOW_S
        self.on_line("info", f"live: {series.summary(self.live_from)}")
        self.live_from = done

    def _stdout(self, line: str) -> None:
        if not self.banner_done:  # k6's ASCII logo says nothing; start at "execution:"
            self.banner_done = "execution:" in line
            if not self.banner_done:
                return
        running = RUNNING.search(line)
        if running:
            self.state.iterations, self.state.interrupted = int(running.group(4)), int(running.group(5) or 0)
            self.state.elapsed_s = elapsed_seconds(running.group(1)) or self.state.elapsed_s
            self.state.vus_max = max(self.state.vus_max, int(running.group(3)))
            self.state.vus_now = int(running.group(2))
            if self.state.elapsed_s is not None:
                self.state.clock.progress(self.state.elapsed_s)
        match = PROGRESS.search(line)
        if match:
            self.state.fraction = int(match.group(1)) / 100
            self.on_progress(self.state.fraction, line.strip())
        if line.strip():
            self.on_line("info", line)

    def _stderr(self, line: str) -> None:
        try:
            record: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            self.on_line("info", line)
            return
        msg = self.mask(str(record.get("msg", "")))
        level = str(record.get("level", "info"))
        if msg.startswith("LUNA_FAILURE "):
            self._failure(msg.removeprefix("LUNA_FAILURE "))
            return
        detail = self.mask(str(record["error"])) if record.get("error") else None
        text = f"{msg}: {detail}" if detail else msg
        if str(record.get("output", "")).lower().startswith("influx"):
            # A dead InfluxDB must not stop the run. A refused write loses a whole batch;
            # a slow flush ("took higher than the expected set push interval") loses nothing.
            if level in ("error", "fatal"):
                self.state.influx_errors += 1
                if self.state.influx_errors <= 3:
                    self.on_line("warning", f"InfluxDB output: {text} (the run goes on; samples are lost)")
            else:
                self.on_line("info", f"InfluxDB output: {text}")
            return
        if level in ("error", "fatal"):
            self.state.last_error = text
            if "test aborted" in msg.lower() or msg.startswith("auth:"):
                self.state.abort_reason = text
        self.repeats.emit(level, text)

    def _failure(self, payload: str) -> None:
        try:
            sample = json.loads(payload)
        except json.JSONDecodeError:
            return
        endpoint = str(sample.get("endpoint"))
        per_endpoint = max(3, self.state.failure_cap // max(1, len(self.plan.catalog.endpoints)))
        kept = self.state.kept_by_endpoint.get(endpoint, 0)
        if self.state.failures_kept >= self.state.failure_cap or kept >= per_endpoint:
            return
        self.state.kept_by_endpoint[endpoint] = kept + 1
        self.state.failures_kept += 1
        self.failures.write(payload + "\n")
        checks = ", ".join(sample.get("failed_checks") or []) or "-"
        error = f" ({sample['error']})" if sample.get("error") else ""
        self.on_line(
            "warning",
            (
                f"failed request {self.state.failures_kept}/{self.state.failure_cap}: {sample.get('method')} "
                f"{sample.get('url')} -> {sample.get('status')}{error}; checks failed: {checks}; "
                f"body: {str(sample.get('body_excerpt', ''))[:120]!r}"
            ),
        )
