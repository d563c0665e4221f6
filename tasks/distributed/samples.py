"""A k6 process's raw samples (`--out csv=...`, or `--out json=...`) -> its exact tallies
and HDR histograms, per endpoint (k6's `name` tag) and overall: the fallback for a script
without Luna's measure (k6/lib/measure.js, which k6/main.js sends and which a shard reads
first). Here each request is a call: k6's samples do not say which were redirect hops.

Only the metrics the result needs are read: http_reqs, http_req_duration, http_req_failed,
checks, iterations, dropped_iterations, vus_max and the per-endpoint counters; every other
row (k6 writes ~15 per request) is skipped on its first field, before any parsing. CSV
with microsecond timestamps parses several times faster than JSON
(bench/distributed_merge.py), so it is what shards write.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from tasks.execution.tallies import Acc, ShardSamples

CSV_TIME_FORMAT = "unix_micro"  # K6_CSV_TIME_FORMAT for the shards' CSV output
WANTED = frozenset(
    {"http_reqs", "http_req_duration", "http_req_failed", "checks", "iterations", "dropped_iterations", "vus_max"}
)
COUNTER_PREFIXES = ("apdex_satisfied_", "apdex_tolerating_", "luna_redirects_", "luna_offsite_")


class Accumulator:
    """Feed (metric, time_us, value, name) rows; `result()` gives the ShardSamples."""

    def __init__(self) -> None:
        self.overall = Acc()
        self.by_name: dict[str, Acc] = {}
        self.apdex: Counter[str] = Counter()
        self.iterations = 0
        self.dropped = 0
        self.vus_max = 0
        self.first: int | None = None
        self.last: int | None = None
        self.rows = 0

    def _endpoint(self, name: str) -> Acc:
        acc = self.by_name.get(name)
        if acc is None:
            acc = self.by_name[name] = Acc()
        return acc

    def add(self, metric: str, time_us: int, value: float, name: str) -> None:
        self.rows += 1
        if metric == "http_req_duration":
            self.overall.duration(value)
            self._endpoint(name).duration(value)
        elif metric == "http_reqs":
            self.overall.requests += 1
            self._endpoint(name).requests += 1
            if self.first is None or time_us < self.first:
                self.first = time_us
            if self.last is None or time_us > self.last:
                self.last = time_us
        elif metric == "http_req_failed":
            if value:
                self.overall.failed += 1
                self._endpoint(name).failed += 1
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
        when = _json_time_us(data["time"]) if metric == "http_reqs" else 0
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
