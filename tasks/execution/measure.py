"""Luna's per-call measure: the `LUNA_AGG` lines k6's VUs send (k6/lib/measure.js), added
up into the exact tallies and HDR histograms that a shard's result is made of
(tasks/distributed/samples.py), then judged against the SLOs as k6's thresholds would be.

Each line is a JSON list of rows, one per endpoint a VU called since its last line:
`[index, calls, failed, satisfied, tolerating, hops, offsite, sum_ms, min_ms, max_ms,
check_passes[], check_fails[], [bucket_us, count, ...], check_labels[]]`. A bucket is the
lowest value of an HDR bucket (3 significant digits), so recording it gives the histogram
that every raw duration would. Memory stays flat: a few KB per endpoint, whatever the run
length.
"""

from __future__ import annotations

import json
import re
from typing import Any

from luna.catalog import Catalog
from luna.results import Threshold
from tasks.execution.tallies import Acc, ShardSamples, Tally

AGG_PREFIX = "LUNA_AGG "
ELAPSED = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?([\d.]+)s")
COUNTERS = ("apdex_satisfied", "apdex_tolerating", "luna_redirects", "luna_offsite")


class Measure:
    """Adds up the VUs' lines for one k6 process (a single run or one shard)."""

    def __init__(self, catalog: Catalog) -> None:
        self.names = [ep.name for ep in catalog.endpoints]
        self.overall = Acc()
        self.by_index: dict[int, Acc] = {}
        self.checks: dict[int, dict[str, list[int]]] = {}
        self.counters: dict[str, int] = {}
        self.lines = 0

    def add_line(self, payload: str) -> None:
        rows: list[list[Any]] = json.loads(payload)
        self.lines += 1
        for row in rows:
            self._row(*row)

    def _row(
        self,
        index: int,
        calls: int,
        failed: int,
        satisfied: int,
        tolerating: int,
        hops: int,
        offsite: int,
        sum_ms: float,
        min_ms: float,
        max_ms: float,
        passes: list[int],
        fails: list[int],
        buckets: list[int],
        labels: list[str],
    ) -> None:
        for acc in (self.overall, self.by_index.setdefault(index, Acc())):
            acc.requests += calls
            acc.failed += failed
            acc.checks_passed += sum(passes)
            acc.checks_failed += sum(fails)
            acc.duration_sum_ms += sum_ms
            acc.min_ms = min_ms if acc.min_ms is None else min(acc.min_ms, min_ms)
            acc.max_ms = max_ms if acc.max_ms is None else max(acc.max_ms, max_ms)
            for k in range(0, len(buckets), 2):
                acc.durations[int(buckets[k])] += int(buckets[k + 1])
        tallies = self.checks.setdefault(index, {})
        for label, p, f in zip(labels, passes, fails, strict=True):
            tally = tallies.setdefault(label, [0, 0])
            tally[0] += p
            tally[1] += f
        for kind, value in zip(COUNTERS, (satisfied, tolerating, hops, offsite), strict=True):
            if value:
                key = f"{kind}_{index}"
                self.counters[key] = self.counters.get(key, 0) + value

    def result(self, iterations: int | None = None, vus_max: int | None = None) -> ShardSamples:
        endpoints: dict[str, Tally] = {}
        for index, acc in sorted(self.by_index.items()):
            tally = acc.tally()
            tally.checks = {label: (p, f) for label, (p, f) in self.checks.get(index, {}).items()}
            endpoints[self.names[index]] = tally
        return ShardSamples(
            overall=self.overall.tally(),
            endpoints=endpoints,
            apdex=dict(sorted(self.counters.items())),
            iterations=iterations or 0,
            vus_max=vus_max or 0,
            rows_read=self.lines,
        )


def elapsed_seconds(text: str) -> float | None:
    """k6's progress-line clock ("02.7s", "01m02.5s", "1h00m00.0s") in seconds."""
    match = ELAPSED.fullmatch(text.strip())
    if not match:
        return None
    return int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60 + float(match.group(3))


def slo_thresholds(catalog: Catalog) -> list[tuple[str, str]]:
    """The (metric, expression) pairs Luna judges, as k6 thresholds would read: the run's
    and each endpoint's p95 and error rate, on the per-call measure."""
    pairs = [
        ("luna_call_duration", f"p(95)<{_num(catalog.slos.p95_ms)}"),
        ("luna_call_failed", f"rate<={_num(catalog.slos.error_rate)}"),
    ]
    for ep in catalog.endpoints:
        slos = ep.effective_slos(catalog.slos)
        pairs.append((f"luna_call_duration{{name:{ep.name}}}", f"p(95)<{_num(slos.p95_ms)}"))
        pairs.append((f"luna_call_failed{{name:{ep.name}}}", f"rate<={_num(slos.error_rate)}"))
    return pairs


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def crossed(thresholds: list[Threshold]) -> list[str]:
    return [f"{t.metric} {t.expression}" for t in thresholds if not t.ok]
