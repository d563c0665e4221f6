"""A shard's raw k6 samples (`--out csv=...`, or `--out json=...`) -> its exact tallies
and HDR histograms, per endpoint (k6's `name` tag) and overall.

Only the metrics the result needs are read: Luna's per-call measure (luna_call_duration,
luna_call_failed: one row each per endpoint call, whatever its redirect hops; k6/lib/metrics.js),
checks, iterations, dropped_iterations, vus_max and the per-endpoint counters (Apdex,
redirects); every other row (k6's ~15 per request) is skipped on its first field, before
any parsing. CSV with microsecond timestamps parses several times faster than JSON
(bench/distributed_merge.py), so it is what shards write.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from tasks.distributed import hdr

CSV_TIME_FORMAT = "unix_micro"  # K6_CSV_TIME_FORMAT for the shards' CSV output
WANTED = frozenset({"luna_call_duration", "luna_call_failed", "checks", "iterations", "dropped_iterations", "vus_max"})
COUNTER_PREFIXES = ("apdex_satisfied_", "apdex_tolerating_", "luna_redirects_", "luna_offsite_")


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
class _Acc:
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


class Accumulator:
    """Feed (metric, time_us, value, name) rows; `result()` gives the ShardSamples."""

    def __init__(self) -> None:
        self.overall = _Acc()
        self.by_name: dict[str, _Acc] = {}
        self.apdex: Counter[str] = Counter()
        self.iterations = 0
        self.dropped = 0
        self.vus_max = 0
        self.first: int | None = None
        self.last: int | None = None
        self.rows = 0

    def _endpoint(self, name: str) -> _Acc:
        acc = self.by_name.get(name)
        if acc is None:
            acc = self.by_name[name] = _Acc()
        return acc

    def add(self, metric: str, time_us: int, value: float, name: str) -> None:
        self.rows += 1
        if metric == "luna_call_duration":
            self.overall.duration(value)
            self._endpoint(name).duration(value)
            if self.first is None or time_us < self.first:
                self.first = time_us
            if self.last is None or time_us > self.last:
                self.last = time_us
        elif metric == "luna_call_failed":
            acc = self._endpoint(name)
            self.overall.requests += 1
            acc.requests += 1
            if value:
                self.overall.failed += 1
                acc.failed += 1
        elif metric == "checks":
            acc = self._endpoint(name)
            if value:
                self.overall.checks_passed += 1
                acc.checks_passed += 1
            else:
                self.overall.checks_failed += 1
                acc.checks_failed += 1
        elif metric == "iterations":
            self.iterations += 1
        elif metric == "dropped_iterations":
            self.dropped += int(value)
        elif metric == "vus_max":
            self.vus_max = max(self.vus_max, int(value))
        else:  # the per-endpoint counters (COUNTER_PREFIXES)
            self.apdex[metric] += int(value)

    def result(self) -> ShardSamples:
        return ShardSamples(
            overall=self.overall.tally(),
            endpoints={name: acc.tally() for name, acc in sorted(self.by_name.items())},
            apdex=dict(sorted(self.apdex.items())),
            iterations=self.iterations,
            dropped_iterations=self.dropped,
            vus_max=self.vus_max,
            first_request_us=self.first,
            last_request_us=self.last,
            rows_read=self.rows,
        )


def _wanted(metric: str) -> bool:
    return metric in WANTED or metric.startswith(COUNTER_PREFIXES)


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[str, int, float, str]]:
    it = iter(lines)
    header = next(csv.reader([next(it, "")]), [])
    try:
        i_time, i_value, i_name = header.index("timestamp"), header.index("metric_value"), header.index("name")
    except ValueError:
        raise ValueError(f"not a k6 CSV output (header {header[:4]})") from None
    for line in it:
        metric = line[: line.find(",")]
        if not _wanted(metric):
            continue
        row = next(csv.reader([line])) if '"' in line else line.rstrip("\r\n").split(",")
        yield metric, int(row[i_time]), float(row[i_value]), row[i_name]


def _json_time_us(text: str) -> int:
    """RFC 3339 with up to nanoseconds (Go's format) -> µs since the epoch."""
    head, _, frac = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head + "+00:00")
    return int(base.timestamp()) * 1_000_000 + int((frac + "000000")[:6])


def _json_rows(lines: Iterable[str]) -> Iterator[tuple[str, int, float, str]]:
    prefix = '{"metric":"'
    for line in lines:
        if not line.startswith(prefix):
            continue  # metric definitions
        metric = line[len(prefix) : line.find('"', len(prefix))]
        if not _wanted(metric):
            continue
        data = json.loads(line)["data"]
        when = _json_time_us(data["time"]) if metric == "luna_call_duration" else 0
        yield metric, when, float(data["value"]), str(data.get("tags", {}).get("name", ""))


def parse_lines(lines: Iterable[str], kind: str = "csv") -> ShardSamples:
    acc = Accumulator()
    for row in _csv_rows(lines) if kind == "csv" else _json_rows(lines):
        acc.add(*row)
    return acc.result()


def parse_file(path: Path) -> ShardSamples:
    """A k6 CSV (`.csv`) or JSON lines (`.json`) output file -> ShardSamples."""
    kind = "json" if path.suffix == ".json" else "csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_lines(handle, kind)
