"""What a shard hands back to the coordinator, and the error a failed shard raises."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from luna.errors import ShardError  # noqa: F401  (its home is luna/errors.py; re-exported for old imports)
from luna.results import Status, Threshold
from tasks.execution.series import PeriodCounts
from tasks.execution.tallies import ShardSamples


class ShardOutcome(BaseModel):
    """One shard's run: its k6 outcome and its samples' tallies and histograms (no raw
    samples: those stay in the shard's folder on the machine that ran it)."""

    index: int
    count: int
    host: str = Field(description="Machine (hostname) that ran the shard.")
    status: Status
    message: str
    k6_exit_code: int | None = None
    stopped_by_peer: bool = Field(False, description="Stopped because another shard failed, not by its own fault.")
    stopped_early: str | None = Field(
        None, description="Why this shard's breach watch stopped it (slos.abort_on_breach); it then stopped the others."
    )
    started_at: datetime = Field(description="k6 process start (paused).")
    ready_at: datetime | None = Field(None, description="k6's REST API answered; waiting for the others.")
    resumed_at: datetime | None = Field(None, description="Unpaused: the shard's load began.")
    finished_at: datetime
    duration_s: float | None = Field(None, description="k6's own test run duration (excludes the paused wait).")
    thresholds: list[Threshold] = Field(default_factory=list, description="k6's threshold results for this shard.")
    failure_samples: int = 0
    influx_errors: int = 0
    samples: ShardSamples | None = None
    series: PeriodCounts | None = Field(None, description="The shard's periods, added up into the run's series.json.")
    samples_parse_s: float | None = Field(None, description="Time spent reading the raw samples.")
    run_dir: str = Field(description="The shard's folder (on its host).")

    @property
    def label(self) -> str:
        return f"shard {self.index + 1}/{self.count}"

    @property
    def completed(self) -> bool:
        return self.status in ("passed", "failed")
