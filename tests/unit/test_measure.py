"""Luna's per-call measure: the VUs' LUNA_AGG lines add up exactly, into the same tallies and
reduction as shards (tasks/execution/measure.py, reduce.py)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from luna.catalog import Catalog, parse_catalog
from tasks.execution import hdr
from tasks.execution.measure import Measure, elapsed_seconds, slo_thresholds
from tasks.execution.reduce import judge, reduce_samples

pytestmark = pytest.mark.unit


def catalog() -> Catalog:
    return parse_catalog(
        {
            "service": "S",
            "slos": {"p95_ms": 100, "error_rate": 0.05},
            "endpoints": [
                {"name": "A", "group": "g", "path": "/a", "checks": {"status": 200}},
                {"name": "B", "group": "g", "path": "/b", "slos": {"p95_ms": 20}},
            ],
        },
        source="test",
    )


def bucket(us: int) -> int:
    """What k6/lib/measure.js bucketOf() sends: the lowest value of the HDR bucket."""
    if us < 2048:
        return us
    shift = us.bit_length() - 11
    return (us >> shift) << shift


def line(rows: list[tuple[int, list[float], list[bool], list[bool]]]) -> str:
    """A VU's line: (endpoint index, durations ms, failed flags, check results) per endpoint."""
    out = []
    for index, durations, failed, checks in rows:
        hist = Counter(bucket(hdr.to_us(d)) for d in durations)
        sat = sum(1 for d, f in zip(durations, failed, strict=True) if not f and d <= 500)
        passes, fails = ([sum(checks)], [len(checks) - sum(checks)]) if index == 0 else ([], [])
        out.append(
            [index, len(durations), sum(failed), sat, 0, 2, 0, sum(durations), min(durations), max(durations)]
            + [passes, fails, [v for k, c in hist.items() for v in (k, c)], ["status is 200"] if index == 0 else []]
        )
    return json.dumps(out)


def test_lines_add_up_to_the_exact_counts_and_the_hdr_of_every_duration() -> None:
    rng = random.Random(3)
    measure = Measure(catalog())
    every: dict[int, list[float]] = {0: [], 1: []}
    failed_total = {0: 0, 1: 0}
    for _vu_line in range(40):
        rows = []
        for index in (0, 1):
            durations = [rng.lognormvariate(2.5, 1.0) for _ in range(rng.randint(1, 50))]
            failed = [rng.random() < 0.1 for _ in durations]
            every[index] += durations
            failed_total[index] += sum(failed)
            rows.append((index, durations, failed, [not f for f in failed]))
        measure.add_line(line(rows))
    samples = measure.result(iterations=7, vus_max=3)
    total, endpoints, merged = reduce_samples(catalog(), [samples], 10.0)
    a, b = endpoints
    assert (a.requests, b.requests) == (len(every[0]), len(every[1]))
    assert total.requests == a.requests + b.requests and total.rps == total.requests / 10.0
    assert (a.failed_requests, b.failed_requests) == (failed_total[0], failed_total[1])
    assert a.check_tallies[0].name == "status is 200"
    assert (a.check_tallies[0].passes, a.check_tallies[0].fails) == (a.requests - failed_total[0], failed_total[0])
    assert b.check_tallies == [] and b.check_pass_rate is None
    assert a.redirects == 80 and total.redirects == 160  # 2 hops per row
    for stats, values in ((a, every[0]), (b, every[1])):
        exact = hdr.from_counts(Counter(hdr.to_us(v) for v in values))  # every raw duration
        assert stats.latency_ms.p95 == hdr.percentile_ms(exact, 95)
        assert stats.latency_ms.p50 == hdr.percentile_ms(exact, 50)
        assert stats.latency_ms.max == max(values) and stats.latency_ms.min == min(values)
        assert stats.latency_ms.avg == pytest.approx(sum(values) / len(values))
    judged = {(t.metric, t.expression): t.ok for t in judge(slo_thresholds(catalog()), merged, 10.0)}
    assert set(judged) == {
        ("luna_call_duration", "p(95)<100"),
        ("luna_call_failed", "rate<=0.05"),
        ("luna_call_duration{name:A}", "p(95)<100"),
        ("luna_call_failed{name:A}", "rate<=0.05"),
        ("luna_call_duration{name:B}", "p(95)<20"),
        ("luna_call_failed{name:B}", "rate<=0.05"),
    }
    assert judged[("luna_call_duration{name:B}", "p(95)<20")] is (
        b.latency_ms.p95 is not None and b.latency_ms.p95 < 20
    )
    assert judged[("luna_call_failed{name:A}", "rate<=0.05")] is ((a.error_rate or 0) <= 0.05)


def test_an_endpoint_no_vu_called_has_no_figures() -> None:
    measure = Measure(catalog())
    measure.add_line(line([(0, [5.0], [False], [True])]))
    _, endpoints, _ = reduce_samples(catalog(), [measure.result()], 1.0)
    assert endpoints[1].requests == 0 and endpoints[1].latency_ms.p95 is None and endpoints[1].error_rate is None


def test_k6_progress_clock() -> None:
    assert elapsed_seconds("00m03.0s") == 3.0
    assert elapsed_seconds("02.7s") == 2.7
    assert elapsed_seconds("1h02m03.5s") == 3723.5
    assert elapsed_seconds("soon") is None
