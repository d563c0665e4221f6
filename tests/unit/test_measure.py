"""Luna's per-call measure: the VUs' raw LUNA_AGG lines add up exactly, into the same tallies and
reduction as shards (tasks/execution/measure.py, reduce.py)."""

from __future__ import annotations

import base64
import json
import math
import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from luna.catalog import Catalog, parse_catalog
from tasks.execution import hdr
from tasks.execution.measure import Measure, MeasureLineError, elapsed_seconds, hdr_buckets, slo_thresholds
from tasks.execution.output import BreachWatch, OutputState
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
    """The lowest value of the HDR bucket holding `us` (2048 sub-buckets: 3 digits)."""
    if us < 2048:
        return us
    shift = us.bit_length() - 11
    return (us >> shift) << shift


Call = tuple[int, float, bool, int, int, bool, int]  # index, ms, failed, zone, hops, offsite, check bits


def word(index: int, failed: bool, zone: int, hops: int, offsite: bool, checks: int) -> int:
    """A call's 32-bit word as k6/lib/endpoints.js builds it (layout in k6/lib/measure.js)."""
    return index | failed << 16 | zone << 17 | offsite << 19 | hops << 20 | checks << 24


def line(calls: list[Call], labels: list[list[str]] | None = None) -> str:
    """A VU's line, as k6/lib/measure.js flush() writes it."""
    durations = np.array([c[1] for c in calls], dtype="<f8")
    words = np.array([word(c[0], *c[2:]) for c in calls], dtype="<u4")
    text = f"{len(calls)} {base64.b64encode(durations.tobytes()).decode()} {base64.b64encode(words.tobytes()).decode()}"
    return text + (f" {json.dumps(labels)}" if labels is not None else "")


LABELS = [["status is 200"], []]


def test_lines_add_up_to_the_exact_counts_and_the_hdr_of_every_duration() -> None:
    rng = random.Random(3)
    measure = Measure(catalog())
    every: dict[int, list[float]] = {0: [], 1: []}
    failed_total = {0: 0, 1: 0}
    hops_total = {0: 0, 1: 0}
    for n_line in range(40):
        calls: list[Call] = []
        for _ in range(rng.randint(1, 100)):
            index = rng.randint(0, 1)
            d = rng.lognormvariate(2.5, 1.0)
            failed = rng.random() < 0.1
            hops = rng.choice([0, 0, 0, 1, 2])
            zone = 0 if failed else 2 if d <= 500 else 1 if d <= 2000 else 0
            calls.append((index, d, failed, zone, hops, False, int(not failed) if index == 0 else 0))
            every[index].append(d)
            failed_total[index] += failed
            hops_total[index] += hops
        measure.add_line(line(calls, LABELS if n_line == 0 else None))
    samples = measure.result(iterations=7, vus_max=3)
    total, endpoints, merged = reduce_samples(catalog(), [samples], 10.0)
    a, b = endpoints
    assert (a.requests, b.requests) == (len(every[0]), len(every[1]))
    assert total.requests == a.requests + b.requests and total.rps == total.requests / 10.0
    assert (a.failed_requests, b.failed_requests) == (failed_total[0], failed_total[1])
    assert a.check_tallies[0].name == "status is 200"
    assert (a.check_tallies[0].passes, a.check_tallies[0].fails) == (a.requests - failed_total[0], failed_total[0])
    assert b.check_tallies == [] and b.check_pass_rate is None
    assert (a.redirects, b.redirects, total.redirects) == (hops_total[0], hops_total[1], sum(hops_total.values()))
    for stats, values in ((a, every[0]), (b, every[1]), (total, every[0] + every[1])):
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


def test_apdex_and_offsite_counters_per_endpoint() -> None:
    measure = Measure(catalog())
    calls: list[Call] = [
        (0, 5.0, False, 2, 0, False, 1),
        (0, 900.0, False, 1, 0, False, 1),
        (1, 3000.0, False, 0, 3, True, 0),
        (1, 7.0, True, 0, 0, False, 0),
    ]
    measure.add_line(line(calls, LABELS))
    assert measure.result().apdex == {
        "apdex_satisfied_0": 1,
        "apdex_tolerating_0": 1,
        "luna_offsite_1": 1,
        "luna_redirects_1": 3,
    }


def test_buckets_are_those_of_measure_js_for_every_magnitude() -> None:
    # k6/lib/measure.js sends whole µs rounded half up; HDR keeps 3 significant digits
    values = [0.0004, 0.001, 0.0015, 1.0, 2.047, 2.048, 2.0495, 123.4567, 65_535.9, 1_800_000.0, 3e9]
    got = hdr_buckets(np.array(values)).tolist()
    want = [bucket(min(2_147_483_647, max(1, math.floor(v * 1000 + 0.5)))) for v in values]
    assert got == want
    assert got[3] == 1000 and got[5] == 2048 and got[-1] == (2_147_483_647 >> 20) << 20


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ("3 AAAAAAAAAAA= AAAAAA==", "says 3 calls"),
        ("x AAAA AAAA", "unreadable"),
        ("1 !!!! AAAA", "unreadable"),
        ("1", "unreadable"),
    ],
)
def test_a_malformed_line_is_refused_and_adds_nothing(payload: str, says: str) -> None:
    measure = Measure(catalog())
    with pytest.raises(MeasureLineError, match=says):
        measure.add_line(payload)
    assert measure.lines == 0 and measure.overall.requests == 0


def test_a_line_beyond_the_endpoints_file_or_without_labels_is_refused() -> None:
    measure = Measure(catalog())
    with pytest.raises(MeasureLineError, match="before any line with the check labels"):
        measure.add_line(line([(0, 1.0, False, 2, 0, False, 1)]))
    with pytest.raises(MeasureLineError, match="beyond the 2"):
        measure.add_line(line([(5, 1.0, False, 2, 0, False, 0)], LABELS))
    with pytest.raises(MeasureLineError, match="of 3 endpoints"):
        measure.add_line(line([(0, 1.0, False, 2, 0, False, 1)], [*LABELS, []]))
    assert measure.overall.requests == 0


def test_an_endpoint_no_vu_called_has_no_figures() -> None:
    measure = Measure(catalog())
    measure.add_line(line([(0, 5.0, False, 2, 0, False, 1)], LABELS))
    _, endpoints, _ = reduce_samples(catalog(), [measure.result()], 1.0)
    assert endpoints[1].requests == 0 and endpoints[1].latency_ms.p95 is None and endpoints[1].error_rate is None


def test_k6_progress_clock() -> None:
    assert elapsed_seconds("00m03.0s") == 3.0
    assert elapsed_seconds("02.7s") == 2.7
    assert elapsed_seconds("1h02m03.5s") == 3723.5
    assert elapsed_seconds("soon") is None


def _breach_state(ms: float, failed: bool) -> OutputState:
    state = OutputState(failure_cap=3)
    state.measure = Measure(catalog())
    state.measure.add_line(line([(0, ms, failed, 0, 0, False, 0 if failed else 1)] * 50, LABELS))
    state.elapsed_s = 30.0
    return state


def test_a_p95_breach_while_k6_is_saturated_does_not_stop_the_run_an_error_breach_does() -> None:
    slos = catalog().slos.model_copy(update={"abort_on_breach": True, "abort_after_s": 1})
    plan = SimpleNamespace(catalog=catalog().model_copy(update={"slos": slos}))
    stops: list[str] = []
    warnings: list[str] = []
    why = "k6 kept 1.90 of 2 CPU cores busy on its own"
    watch = BreachWatch(
        plan,  # type: ignore[arg-type]
        lambda: stops.append("stop"),
        lambda: why,
        lambda level, text: warnings.append(text),
    )
    slow = _breach_state(500.0, failed=False)
    watch.check(slow)
    assert stops == [] and slow.breach is None
    assert len(warnings) == 1 and why in warnings[0] and "not stopping" in warnings[0]

    idle = BreachWatch(plan, lambda: stops.append("stop"), lambda: "")  # type: ignore[arg-type]
    idle.check(slow)  # the same p95 with k6 not saturated: stopped
    assert stops == ["stop"] and slow.breach is not None and "luna_call_duration p(95)<100" in slow.breach

    failing = _breach_state(1.0, failed=True)
    watch.next_check = 0.0
    watch.check(failing)  # errors are the service's whatever k6's CPU: stopped
    assert stops == ["stop", "stop"] and failing.breach is not None and "luna_call_failed" in failing.breach
