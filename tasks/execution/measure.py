"""Luna's per-call measure: the `LUNA_AGG` lines k6's VUs send (k6/lib/measure.js), added
up into the exact tallies and HDR histograms that a shard's result is made of
(tasks/distributed/samples.py), then judged against the SLOs as k6's thresholds would be.

A line holds a VU's calls since its previous line, raw: `<n> <durations> <words>[ <labels>]`,
n calls; durations the base64 of n little-endian float64 (ms, as k6 timed them); words the
base64 of n little-endian uint32, one per call (bits 0-15 endpoint index, 16 failed, 17-18
Apdex zone, 19 off-site redirect not followed, 20-23 redirect hops, 24-30 check j passed);
labels, in a VU's first line only, the JSON list of every endpoint's check labels. Each line
is added up as it arrives (numpy, one vector pass per field), so memory stays flat whatever
the run length: a histogram of HDR buckets (integer µs, 3 significant digits, the lowest
value of each bucket) and exact counts per endpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import cast

import numpy as np

from luna.catalog import Catalog
from luna.results import Threshold
from tasks.execution.hdr import hdr_buckets
from tasks.execution.series import PeriodSeries
from tasks.execution.tallies import Acc, ShardSamples, Tally

AGG_PREFIX = "LUNA_AGG "
ELAPSED = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?([\d.]+)s")
COUNTERS = ("apdex_satisfied", "apdex_tolerating", "luna_redirects", "luna_offsite")
CHECK_BITS = 7


class MeasureLineError(ValueError):
    """A `LUNA_AGG` line that is not what k6/lib/measure.js writes."""


def decode_line(payload: str) -> tuple[np.ndarray, np.ndarray, list[list[str]] | None]:
    """(durations, words, labels or None) of one line; MeasureLineError if it is malformed."""
    parts = payload.split(" ", 3)
    try:
        n = int(parts[0])
        durations = np.frombuffer(base64.b64decode(parts[1], validate=True), dtype="<f8")
        words = np.frombuffer(base64.b64decode(parts[2], validate=True), dtype="<u4")
        labels = json.loads(parts[3]) if len(parts) == 4 else None
    except (IndexError, ValueError, binascii.Error) as exc:
        raise MeasureLineError(f"unreadable measure line: {exc}") from None
    if len(durations) != n or len(words) != n:
        raise MeasureLineError(f"measure line says {n} calls but holds {len(durations)} and {len(words)}")
    return durations, words, labels


@dataclass
class Grouped:
    """One line's calls added up per endpoint: row k of each array is endpoint `present[k]`."""

    present: list[int]
    calls: np.ndarray
    sums: dict[str, np.ndarray]  # "failed" and the COUNTERS
    passes: list[np.ndarray]  # check j's passes, j < CHECK_BITS
    d_sum: np.ndarray
    d_min: np.ndarray
    d_max: np.ndarray
    buckets: np.ndarray  # every call's HDR bucket (all endpoints)
    keys: np.ndarray  # distinct (endpoint << 32 | bucket)
    key_counts: np.ndarray


def group(durations: np.ndarray, words: np.ndarray) -> Grouped:
    """Each field of the words, summed per endpoint (calls sorted by endpoint, one reduceat
    per field)."""
    order = np.argsort(words & 0xFFFF, kind="stable")
    d, w = durations[order], words[order].astype(np.int64)
    index = w & 0xFFFF
    present, starts, calls = np.unique(index, return_index=True, return_counts=True)
    zone = (w >> 17) & 3
    fields = {
        "failed": (w >> 16) & 1,
        "apdex_satisfied": zone == 2,
        "apdex_tolerating": zone == 1,
        "luna_offsite": (w >> 19) & 1,
        "luna_redirects": (w >> 20) & 15,
    }
    buckets = hdr_buckets(d)
    keys, key_counts = np.unique((index << 32) | buckets, return_counts=True)
    return Grouped(
        present=present.tolist(),
        calls=calls,
        sums={k: np.add.reduceat(v.astype(np.int64), starts) for k, v in fields.items()},
        passes=[np.add.reduceat((w >> (24 + j)) & 1, starts) for j in range(CHECK_BITS)],
        d_sum=np.add.reduceat(d, starts),
        d_min=np.minimum.reduceat(d, starts),
        d_max=np.maximum.reduceat(d, starts),
        buckets=buckets,
        keys=keys,
        key_counts=key_counts,
    )


def _span(acc: Acc, lo: float, hi: float) -> None:
    acc.min_ms = lo if acc.min_ms is None else min(acc.min_ms, lo)
    acc.max_ms = hi if acc.max_ms is None else max(acc.max_ms, hi)


class Measure:
    """Adds up the VUs' lines for one k6 process (a single run or one shard)."""

    def __init__(self, catalog: Catalog, series: PeriodSeries | None = None) -> None:
        self.series = series  # the per-period series (report charts), when kept
        self.names = [ep.name for ep in catalog.endpoints]
        self.overall = Acc()
        self.by_index: dict[int, Acc] = {}
        self.passes: dict[int, list[int]] = {}  # per endpoint, check j's passes
        self.labels: list[list[str]] | None = None
        self.counters: dict[str, int] = {}
        self.lines = 0

    def add_line(self, payload: str, clock_s: float | None = None) -> None:
        """One VU line, arrived at `clock_s` on k6's clock (the series' period); MeasureLineError
        (and nothing added) if it is not what measure.js writes."""
        durations, words, labels = decode_line(payload)
        if labels is not None and len(labels) != len(self.names):
            raise MeasureLineError(f"measure line has check labels of {len(labels)} endpoints, not {len(self.names)}")
        if len(words) and int((words & 0xFFFF).max()) >= len(self.names):
            raise MeasureLineError(f"measure line names an endpoint beyond the {len(self.names)} of the file")
        if len(durations) and self.labels is None and labels is None:
            raise MeasureLineError("measure line with calls before any line with the check labels")
        if self.labels is None and labels is not None:
            self.labels = labels
            if self.series is not None:
                self.series.set_checks([len(one) for one in labels])
        self.lines += 1
        if self.series is not None:
            self.series.add(clock_s, durations, words)
        if len(durations) == 0:
            return
        g = group(durations, words)
        for k, i in enumerate(g.present):
            self._endpoint(i, g, k)
        keys, counts = cast(list[int], g.keys.tolist()), cast(list[int], g.key_counts.tolist())
        for key, count in zip(keys, counts, strict=True):
            self.by_index[key >> 32].durations[key & 0xFFFFFFFF] += count
        acc = self.overall
        acc.requests += len(durations)
        acc.failed += int(g.sums["failed"].sum())
        acc.duration_sum_ms += float(g.d_sum.sum())
        _span(acc, float(g.d_min.min()), float(g.d_max.max()))
        values, counts = np.unique(g.buckets, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            acc.durations[value] += count

    def _endpoint(self, i: int, g: Grouped, k: int) -> None:
        acc = self.by_index.setdefault(i, Acc())
        calls = int(g.calls[k])
        acc.requests += calls
        acc.failed += int(g.sums["failed"][k])
        acc.duration_sum_ms += float(g.d_sum[k])
        _span(acc, float(g.d_min[k]), float(g.d_max[k]))
        n_checks = len(self.labels[i]) if self.labels else 0
        tally = self.passes.setdefault(i, [0] * n_checks)
        passed = 0
        for j in range(n_checks):
            tally[j] += int(g.passes[j][k])
            passed += int(g.passes[j][k])
        for one in (acc, self.overall):
            one.checks_passed += passed
            one.checks_failed += n_checks * calls - passed
        for kind in COUNTERS:
            value = int(g.sums[kind][k])
            if value:
                key = f"{kind}_{i}"
                self.counters[key] = self.counters.get(key, 0) + value

    def result(self, iterations: int | None = None, vus_max: int | None = None) -> ShardSamples:
        endpoints: dict[str, Tally] = {}
        for index, acc in sorted(self.by_index.items()):
            tally = acc.tally()
            labels = self.labels[index] if self.labels else []
            passes = self.passes.get(index, [0] * len(labels))
            tally.checks = {label: (p, acc.requests - p) for label, p in zip(labels, passes, strict=True)}
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
