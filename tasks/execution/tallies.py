"""Exact tallies and HDR histograms of Luna's per-call measure, per endpoint and overall:
what one k6 process's calls add up to (a single run or one shard), whatever its source
(the VUs' measure lines, tasks/execution/measure.py, or raw k6 samples,
tasks/distributed/samples.py). Small whatever the run length (a few KB per endpoint)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from tasks.execution import hdr


class Tally(BaseModel):
    """Exact counts plus a duration histogram for one endpoint (or all requests)."""

    requests: int = 0
    failed: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    duration_count: int = 0
    duration_sum_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    histogram: str = Field("", description="Encoded HdrHistogram of luna_call_duration in µs.")
    checks: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="Each check's (passes, fails) by its label, when the source has them."
    )


class ShardSamples(BaseModel):
    """What one shard's raw samples add up to; small whatever the run length (a few KB)."""

    overall: Tally = Field(default_factory=Tally)
    endpoints: dict[str, Tally] = Field(default_factory=dict, description="By k6 `name` tag.")
    apdex: dict[str, int] = Field(
        default_factory=dict,
        description="Per-endpoint counter sums: apdex_satisfied_<i>, apdex_tolerating_<i>, luna_redirects_<i>, luna_offsite_<i>.",
    )
    iterations: int = 0
    dropped_iterations: int = 0
    vus_max: int = 0
    first_request_us: int | None = Field(None, description="Earliest call sample, µs since the epoch.")
    last_request_us: int | None = Field(None, description="Latest call sample, µs since the epoch.")
    rows_read: int = Field(0, description="Rows of the wanted metrics that were parsed.")


@dataclass
class Acc:
    requests: int = 0
    failed: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    duration_sum_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    durations: Counter[int] = field(default_factory=Counter)

    def duration(self, ms: float) -> None:
        self.duration_sum_ms += ms
        self.durations[hdr.to_us(ms)] += 1
        if self.min_ms is None or ms < self.min_ms:
            self.min_ms = ms
        if self.max_ms is None or ms > self.max_ms:
            self.max_ms = ms

    def tally(self) -> Tally:
        return Tally(
            requests=self.requests,
            failed=self.failed,
            checks_passed=self.checks_passed,
            checks_failed=self.checks_failed,
            duration_count=sum(self.durations.values()),
            duration_sum_ms=self.duration_sum_ms,
            min_ms=self.min_ms,
            max_ms=self.max_ms,
            histogram=hdr.encode(hdr.from_counts(self.durations)),
        )
