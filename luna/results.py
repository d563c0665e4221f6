"""The typed run result that every later stage reads (`summary.json` in a run folder)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["passed", "failed", "error", "aborted"]
# 130 = 128 + SIGINT, what a shell or CI runner expects of an interrupted command.
EXIT_CODES: dict[Status, int] = {"passed": 0, "failed": 1, "error": 2, "aborted": 130}


class Latency(BaseModel):
    """Request duration statistics in milliseconds (k6's `http_req_duration`)."""

    avg: float | None = None
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class Stats(BaseModel):
    requests: int = Field(
        0, description="Calls made: one per endpoint call, its redirect hops not counted (k6 `luna_call_failed`)."
    )
    rps: float = Field(0.0, description="Requests per second over the whole run.")
    latency_ms: Latency = Field(default_factory=Latency)
    error_rate: float | None = Field(None, description="Share of requests k6 counted as failed.")
    failed_requests: int = 0
    check_pass_rate: float | None = Field(None, description="Share of checks that passed; None without checks.")
    checks_passed: int = 0
    checks_failed: int = 0
    apdex_satisfied: int = Field(0, description="Successful responses within the Apdex T.")
    apdex_tolerating: int = Field(0, description="Successful responses within 4 T (and over T).")
    redirects: int = Field(0, description="Same-origin redirect hops Luna followed within those calls.")
    offsite_redirects: int = Field(
        0, description="Calls whose final answer was a redirect to another origin, which Luna does not follow."
    )


class CheckTally(BaseModel):
    """One check of one endpoint: its label (without the `endpoint: ` prefix) and counts."""

    name: str
    passes: int = 0
    fails: int = 0


class EndpointStats(Stats):
    name: str
    group: str
    method: str
    path: str
    check_tallies: list[CheckTally] = Field(
        default_factory=list, description="Each check's passes and fails (empty when the run kept no names)."
    )


class Threshold(BaseModel):
    metric: str
    expression: str
    ok: bool


class MetricsStore(BaseModel):
    """Whether k6's samples reached InfluxDB for this run."""

    url: str
    database: str
    stored: bool
    errors: int = Field(0, description="Writes InfluxDB refused or that failed (each loses a batch).")
    samples_expected: int | None = Field(None, description="Requests k6 counted.")
    samples_stored: int | None = Field(None, description="http_reqs samples InfluxDB holds for the run.")
    note: str = ""


class GeneratorLoad(BaseModel):
    """How hard the load generator worked (tasks/execution/generator.py): k6's own CPU and the
    machine's, sampled during the run, and in an open model whether the target rate was met.
    When `saturated`, latencies measure k6, not the service, and no comparison counts."""

    cpu_count: int = Field(description="CPUs this process may use.")
    samples: int = Field(0, description="CPU samples taken during the run.")
    k6_cores_mean: float | None = Field(None, description="k6's CPU use, in cores (1.0 = one core busy), mean.")
    k6_cores_p90: float | None = Field(None, description="k6's CPU use in cores, 90th percentile of the samples.")
    k6_wait_cores_mean: float | None = Field(
        None, description="k6 threads ready to run but waiting for a CPU, in cores (Linux schedstat), mean."
    )
    machine_cpu_mean: float | None = Field(None, description="The whole machine's CPU use, 0..1, mean.")
    machine_cpu_p90: float | None = Field(None, description="The whole machine's CPU use, 0..1, 90th percentile.")
    load_average: float | None = Field(None, description="1-minute load average at the end of the run.")
    saturated: bool = False
    reason: str = Field("", description="Why the generator counts as saturated (empty when it was not).")
    target_rate: float | None = Field(None, description="Open model: iterations/s k6 was asked to start.")
    achieved_rate: float | None = Field(None, description="Open model: iterations/s k6 did start.")
    dropped_iterations: int | None = Field(None, description="Open model: iterations k6 could not start in time.")


class TimeSeries(BaseModel):
    """One value per period of the run; None where the period had no call (series.json)."""

    period_s: float = Field(description="Length of one period in seconds.")
    timestamps: list[float] = Field(description="End of each period, seconds since the test started.")
    rps: list[float] = Field(description="HTTP requests per second in the period.")
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    p99_ms: list[float | None]
    error_rate: list[float | None] = Field(description="Share of the period's requests that failed.")
    vus: list[float | None] = Field(description="Active VUs, the most k6's progress lines showed in the period.")
    checks_rate: list[float | None] = Field(description="Share of the period's checks that passed.")

    def __len__(self) -> int:
        return len(self.timestamps)


class RunResult(BaseModel):
    """What one load run produced. `status` is the outcome; `message` says why in one line."""

    run_id: str
    service: str | None = None
    profile: str
    load_model: str = "closed"
    target: str
    status: Status
    message: str = ""
    stopped_early: str | None = Field(
        None,
        description="Why slos.abort_on_breach stopped k6 before the planned end (the figures cover the run until then).",
    )
    k6_exit_code: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = Field(None, description="k6's own test run duration.")
    vus_max: int | None = None
    iterations: int | None = None
    total: Stats | None = None
    endpoints: list[EndpointStats] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    failure_samples: int = Field(0, description="Failing requests kept in failures.jsonl.")
    influxdb: MetricsStore | None = Field(None, description="Sample streaming to InfluxDB; None when not configured.")
    run_dir: str
    files: dict[str, str] = Field(default_factory=dict, description="Artifacts in the run folder, by kind.")
    generator: GeneratorLoad | None = Field(None, description="Load-generator CPU and rate; None when not measured.")
    load_shape: dict[str, str] = Field(
        default_factory=dict,
        description="The load settings that shape this profile (VUs, rate, durations): runs compare only when equal.",
    )

    @property
    def run_dir_path(self) -> Path:
        return Path(self.run_dir)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def write(self) -> Path:
        path = Path(self.run_dir) / "summary.json"
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> RunResult:
        return cls.model_validate(json.loads((run_dir / "summary.json").read_text(encoding="utf-8")))
