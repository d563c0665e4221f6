"""Distributed runs without k6: segments, raw-sample parsing (CSV and JSON agree), exact
HDR merging against the union of samples, the merge into one RunResult, the barrier."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from luna.catalog import parse_catalog
from luna.errors import ConfigError
from luna.results import Threshold
from tasks.distributed.barrier import BarrierSpec
from tasks.distributed.merge import merge_outcomes
from tasks.distributed.model import ShardOutcome
from tasks.distributed.samples import Accumulator, parse_file, parse_lines
from tasks.distributed.segments import segments
from tasks.execution import hdr
from tasks.execution.plan import RunPlan
from tasks.execution.tallies import ShardSamples

pytestmark = pytest.mark.unit

HEADER = (
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,"
    "scenario,service,status,subproto,tls_version,url,extra_tags,metadata"
)


def nearest_rank(values: list[int], percentile: float) -> int:
    """The exact percentile of raw values, with HdrHistogram's rank rule."""
    ordered = sorted(values)
    rank = max(1, int(percentile * len(ordered) / 100 + 0.5))
    return ordered[rank - 1]


# ---- segments --------------------------------------------------------------------


def test_segments_cover_the_test_exactly_once() -> None:
    three = segments(3)
    assert [s.segment for s in three] == ["0:1/3", "1/3:2/3", "2/3:1"]
    assert {s.sequence for s in three} == {"0,1/3,2/3,1"}
    assert three[1].k6_args() == ["--execution-segment", "1/3:2/3", "--execution-segment-sequence", "0,1/3,2/3,1"]
    assert three[2].label == "shard 3/3"
    assert segments(1)[0].k6_args() == []


@pytest.mark.parametrize("count", [0, 65])
def test_segment_count_out_of_range_is_a_config_error(count: int) -> None:
    with pytest.raises(ConfigError, match="shards must be between 1 and 64") as err:
        segments(count)
    assert "Tip:" in err.value.one_line()


# ---- raw samples -----------------------------------------------------------------


def synthetic_rows(rng: random.Random, n: int) -> list[tuple[str, int, float, str, int]]:
    """(name, time_us, duration_ms, url-with-comma?, failed) per request."""
    rows = []
    for i in range(n):
        name = rng.choice(["List", "Get", "Post"])
        rows.append(
            (name, 1_700_000_000_000_000 + i * 997, rng.lognormvariate(1.0, 0.8), name, int(rng.random() < 0.1))
        )
    return rows


def as_csv(rows: list[tuple[str, int, float, str, int]]) -> list[str]:
    lines = [HEADER]
    for name, t, ms, _, failed in rows:
        url = '"http://127.0.0.1:1/api?a=1,b=2"'  # a quoted field with a comma
        tail = f",,,,true,,GET,{name},HTTP/1.1,smoke,,200,,,{url},run_id=r&profile=smoke,"
        lines += [
            f"http_reqs,{t},1.000000{tail}",
            f"http_req_duration,{t},{ms:.6f}{tail}",
            f"http_req_blocked,{t},0.001000{tail}",
            f"http_req_failed,{t},{failed}.000000{tail}",
            f"checks,{t},{1 - failed}.000000,status is 200,,,,,,{name},,smoke,,,,,,run_id=r,",
            f"iterations,{t},1.000000,,,,,,,,,smoke,,,,,,run_id=r,",
            f"apdex_satisfied_0,{t},{1 - failed}.000000,,,,,,,,,smoke,,,,,,run_id=r,",
        ]
    lines.append(f"vus_max,{rows[-1][1]},7.000000,,,,,,,,,,,,,,,,")
    lines.append(f"dropped_iterations,{rows[-1][1]},2.000000,,,,,,,,,smoke,,,,,,,")
    return [line + "\n" for line in lines]


def as_json(rows: list[tuple[str, int, float, str, int]]) -> list[str]:
    def point(metric: str, t: int, value: float, tags: dict[str, str]) -> str:
        stamp = datetime.fromtimestamp(t // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{t % 1_000_000:06d}123Z"
        return json.dumps(
            {"metric": metric, "type": "Point", "data": {"time": stamp, "value": value, "tags": tags}},
            separators=(",", ":"),
        )

    lines = [json.dumps({"type": "Metric", "data": {"name": "http_reqs"}, "metric": "http_reqs"})]
    for name, t, ms, _, failed in rows:
        tags = {"name": name, "method": "GET", "url": "http://127.0.0.1:1/api?a=1,b=2"}
        lines += [
            point("http_reqs", t, 1, tags),
            point("http_req_duration", t, float(f"{ms:.6f}"), tags),
            point("http_req_blocked", t, 0.001, tags),
            point("http_req_failed", t, failed, tags),
            point("checks", t, 1 - failed, {"name": name, "check": "status is 200"}),
            point("iterations", t, 1, {}),
            point("apdex_satisfied_0", t, 1 - failed, {}),
        ]
    lines.append(point("vus_max", rows[-1][1], 7, {}))
    lines.append(point("dropped_iterations", rows[-1][1], 2, {}))
    return [line + "\n" for line in lines]


def test_csv_and_json_outputs_give_the_same_tallies() -> None:
    rows = synthetic_rows(random.Random(7), 3000)
    from_csv = parse_lines(as_csv(rows), "csv")
    from_json = parse_lines(as_json(rows), "json")
    assert from_csv == from_json
    assert from_csv.overall.requests == 3000
    assert from_csv.overall.failed == sum(r[4] for r in rows)
    assert from_csv.overall.checks_failed == from_csv.overall.failed
    assert sum(t.requests for t in from_csv.endpoints.values()) == 3000
    assert from_csv.iterations == 3000 and from_csv.vus_max == 7 and from_csv.dropped_iterations == 2
    assert from_csv.apdex["apdex_satisfied_0"] == 3000 - from_csv.overall.failed
    assert from_csv.first_request_us == rows[0][1] and from_csv.last_request_us == rows[-1][1]
    # http_req_blocked and the other timings are skipped, not parsed
    assert from_csv.rows_read == 3000 * 6 + 2


def test_parse_file_reads_csv_and_rejects_a_file_that_is_not_k6_csv(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    path.write_text("".join(as_csv(synthetic_rows(random.Random(1), 10))), encoding="utf-8")
    assert parse_file(path).overall.requests == 10
    bad = tmp_path / "other.csv"
    bad.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a k6 CSV output"):
        parse_file(bad)


# ---- HDR merge -------------------------------------------------------------------


def shard_samples(values_ms: list[float], name: str = "E") -> ShardSamples:
    acc = Accumulator()
    for i, ms in enumerate(values_ms):
        acc.add("http_reqs", 1_000_000 + i, 1.0, name)
        acc.add("http_req_duration", 1_000_000 + i, ms, name)
    return acc.result()


def test_merged_histograms_equal_one_histogram_of_the_union_and_the_exact_percentiles() -> None:
    rng = random.Random(42)
    union = [rng.lognormvariate(2.0, 1.2) for _ in range(60_000)]
    parts = [union[0:10_000], union[10_000:35_000], union[35_000:]]  # unequal shards
    merged = hdr.merged(shard_samples(part).endpoints["E"].histogram for part in parts)
    whole = shard_samples(union).endpoints["E"].histogram
    exact_us = [hdr.to_us(ms) for ms in union]
    assert merged.get_total_count() == len(union)
    for p in (50.0, 90.0, 95.0, 99.0, 99.9):
        got = hdr.percentile_ms(merged, p)
        assert got == hdr.percentile_ms(hdr.decode(whole), p)
        exact = nearest_rank(exact_us, p) / 1000
        assert got is not None and exact <= got <= exact * (1 + hdr.RELATIVE_PRECISION) + 0.001


def test_averaging_shard_percentiles_would_be_wrong() -> None:
    """Why merging matters: one slow shard; the mean of the shards' p95 is far from the run's p95."""
    fast = [1.0] * 9000
    slow = [100.0] * 1000
    merged = hdr.merged([shard_samples(fast).overall.histogram, shard_samples(slow).overall.histogram])
    assert hdr.percentile_ms(merged, 95) == pytest.approx(100.0, rel=1e-3)
    averaged = (1.0 + 100.0) / 2
    assert abs(averaged - 100.0) > 40


# ---- merge into one RunResult -----------------------------------------------------


def plan(tmp_path: Path) -> RunPlan:
    catalog = parse_catalog(
        {
            "service": "svc",
            "slos": {"p95_ms": 50, "error_rate": 0.5},
            "endpoints": [
                {"name": "A", "group": "g", "path": "/a"},
                {"name": "B", "group": "g", "path": "/b"},
            ],
        },
        source="endpoints.json",
    )
    return RunPlan(
        run_id="r1",
        run_dir=tmp_path,
        profile="smoke",
        load_model="open",
        target="http://127.0.0.1:1",
        catalog=catalog,
        endpoints_file=tmp_path / "endpoints.json",
        k6_binary="k6",
        script=tmp_path / "main.js",
        k6_env={},
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def outcome(index: int, samples: ShardSamples | None, resumed: datetime, duration: float, **kw: object) -> ShardOutcome:
    values = {
        "index": index,
        "count": 3,
        "host": "h",
        "status": "passed",
        "message": "ok",
        "started_at": resumed,
        "resumed_at": resumed,
        "finished_at": resumed + timedelta(seconds=duration),
        "duration_s": duration,
        "samples": samples,
        "run_dir": "x",
        "thresholds": [Threshold(metric="http_req_duration", expression="p(95)<50", ok=True)],
    }
    values.update(kw)
    return ShardOutcome.model_validate(values)


def mixed(a_ms: list[float], b_ms: list[float], failed_b: int = 0) -> ShardSamples:
    acc = Accumulator()
    for i, ms in enumerate(a_ms):
        acc.add("http_reqs", i, 1, "A")
        acc.add("http_req_duration", i, ms, "A")
        acc.add("apdex_satisfied_0", i, 1, "")
    for i, ms in enumerate(b_ms):
        acc.add("http_reqs", i, 1, "B")
        acc.add("http_req_duration", i, ms, "B")
        acc.add("http_req_failed", i, 1 if i < failed_b else 0, "B")
        acc.add("checks", i, 0 if i < failed_b else 1, "B")
        acc.add("apdex_tolerating_1", i, 1, "")
    return acc.result()


def test_merge_sums_counts_rejudges_thresholds_and_uses_the_common_window(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    shards = [
        outcome(0, mixed([10.0] * 100, [5.0] * 50, failed_b=5), t0, 10.0),
        outcome(1, mixed([10.0] * 100, [5.0] * 50), t0 + timedelta(seconds=1), 10.0),
        # each shard's own p95 was fine; this one is slow on A, so the run's p95 is not
        outcome(2, mixed([10.0] * 40 + [200.0] * 60, [5.0] * 50), t0 + timedelta(milliseconds=500), 10.0),
    ]
    result = merge_outcomes(plan(tmp_path), shards)
    assert result.total is not None
    assert result.total.requests == 450
    assert result.duration_s == pytest.approx(11.0)  # first resume -> last resume + its 10 s
    assert result.total.rps == pytest.approx(450 / 11.0)
    a, b = result.endpoints
    assert (a.name, a.requests, b.requests) == ("A", 300, 150)
    assert b.failed_requests == 5 and b.error_rate == pytest.approx(5 / 150)
    assert b.checks_failed == 5 and b.check_pass_rate == pytest.approx(145 / 150)
    assert a.apdex_satisfied == 300 and b.apdex_tolerating == 150 and a.apdex_tolerating == 0
    assert a.latency_ms.p95 == pytest.approx(200.0, rel=1e-3) and a.latency_ms.p50 == pytest.approx(10.0, rel=1e-3)
    assert a.latency_ms.avg == pytest.approx((240 * 10.0 + 60 * 200.0) / 300)
    assert (a.latency_ms.min, a.latency_ms.max) == (10.0, 200.0)
    assert result.status == "failed" and result.k6_exit_code == 99
    assert "http_req_duration p(95)<50" in result.message
    assert result.iterations == 0 and result.service == "svc"


def test_a_failed_shard_is_named_as_the_cause_not_the_shards_it_stopped(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    shards = [
        outcome(
            0,
            mixed([1.0], []),
            t0,
            2.0,
            status="aborted",
            message="stopped: shard 2/3 on h: k6 was killed by signal 9",
            stopped_by_peer=True,
        ),
        outcome(1, mixed([1.0], []), t0, 2.0, status="aborted", message="k6 was killed by signal 9", k6_exit_code=-9),
        outcome(
            2,
            None,
            t0,
            2.0,
            status="aborted",
            message="stopped: shard 2/3 on h: k6 was killed by signal 9",
            stopped_by_peer=True,
        ),
    ]
    result = merge_outcomes(plan(tmp_path), shards)
    assert result.status == "aborted" and result.k6_exit_code == -9
    assert result.message == "shard 2/3 on h: k6 was killed by signal 9 (the other shards were stopped)"
    assert "\n" not in result.message
    assert result.total is not None and result.total.requests == 2  # what the shards did is kept


def test_a_breaching_shard_fails_the_run_with_its_reason_not_as_stopped_from_outside(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    why = "stopped at 4 s by slos.abort_on_breach: luna_call_failed rate<=0.01 (so far: 90 calls, ...)"
    peer = {"status": "aborted", "message": f"stopped: shard 3/3 on h: {why}", "stopped_by_peer": True}
    shards = [
        outcome(0, mixed([1.0], []), t0, 4.0, **peer),
        outcome(1, mixed([1.0], []), t0, 4.0, **peer),
        outcome(2, mixed([1.0], []), t0, 4.0, status="failed", message=why, stopped_early=why, k6_exit_code=0),
    ]
    result = merge_outcomes(plan(tmp_path), shards)
    assert result.status == "failed" and result.k6_exit_code == 0
    assert result.message == f"shard 3/3 on h: {why} (the other shards were stopped)"
    assert result.stopped_early == result.message
    assert result.total is not None and result.total.requests == 3
    both = [shards[0], shards[1].model_copy(update={"status": "failed", "stopped_early": why}), shards[2]]
    assert merge_outcomes(plan(tmp_path), both).message == (
        f"shard 2/3 on h: {why} (2 of 3 shards breached; the others were stopped)"
    )


def test_merge_of_shards_without_samples_gives_an_empty_result_not_a_crash(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    result = merge_outcomes(
        plan(tmp_path), [outcome(0, None, now, 1.0, status="error", message="k6 script error", resumed_at=None)]
    )
    assert result.status == "error" and result.total is not None and result.total.requests == 0
    assert result.endpoints[0].latency_ms.p95 is None


# ---- barrier ---------------------------------------------------------------------


def test_file_barrier_releases_every_shard_once_all_are_ready(tmp_path: Path) -> None:
    spec = BarrierSpec(kind="file", prefix="p", folder=str(tmp_path / "sig"), count=3)
    outcomes: list[str] = []

    def shard(i: int, delay: float) -> None:
        barrier = spec.open()
        time.sleep(delay)
        barrier.ready(i)
        outcomes.append(barrier.wait_all(timeout_s=10))

    threads = [threading.Thread(target=shard, args=(i, 0.1 * i)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert outcomes == ["go", "go", "go"]


def test_barrier_times_out_or_aborts_with_the_first_reason(tmp_path: Path) -> None:
    barrier = BarrierSpec(kind="file", prefix="p", folder=str(tmp_path), count=2).open()
    barrier.ready(0)
    assert barrier.wait_all(timeout_s=0.2) == "timeout"
    assert barrier.ready_count() == 1
    assert barrier.wait_all(timeout_s=5, alive=lambda: False) == "dead"
    barrier.abort("shard 2/2: k6 was killed")
    barrier.abort("shard 1/2: stopped")
    assert barrier.wait_all(timeout_s=5) == "abort"
    assert barrier.aborted() == "shard 2/2: k6 was killed"
    barrier.clear()
    assert barrier.aborted() is None and barrier.ready_count() == 0


def test_a_cluster_too_small_for_the_shards_is_refused_in_one_line() -> None:
    from tasks.distributed.coordinate import check_capacity, local_cluster_kwargs
    from tasks.distributed.model import ShardError

    check_capacity(4, 3, "the Dask cluster at tcp://127.0.0.1:1")
    with pytest.raises(ShardError) as err:
        check_capacity(2, 3, "the Dask cluster at tcp://127.0.0.1:1")
    line = err.value.one_line()
    assert line.startswith("shard failed: the Dask cluster at tcp://127.0.0.1:1 has 2 worker threads for 3 shards")
    assert "Tip: add Dask workers" in line and "\n" not in line
    kwargs = local_cluster_kwargs(5, workers=2)
    assert kwargs["n_workers"] * kwargs["threads_per_worker"] >= 5 and kwargs["processes"] is True


def test_a_run_stopped_from_outside_says_so(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    shards = [
        outcome(
            i,
            mixed([1.0], []),
            t0,
            2.0,
            status="aborted",
            message="stopped: the flow run ended Cancelled: x",
            stopped_by_peer=True,
        )
        for i in range(2)
    ]
    result = merge_outcomes(plan(tmp_path), shards)
    assert result.status == "aborted"
    assert result.message == "all 2 shards were stopped: the flow run ended Cancelled: x"


def test_an_unreachable_dask_address_is_one_line_before_anything_starts() -> None:
    import socket

    from luna.errors import LunaError
    from tasks.distributed.engine import check_scheduler

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LunaError) as err:
        check_scheduler(f"tcp://127.0.0.1:{port}", timeout=2)
    line = err.value.one_line()
    assert line.startswith(f"shard failed: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "(at DASK_ADDRESS)" in line and "unset DASK_ADDRESS" in line
    with pytest.raises(ConfigError, match="has no host:port"):
        check_scheduler("tcp://nohost")


def test_a_shard_of_lunas_script_writes_no_raw_samples_and_a_users_script_does(tmp_path: Path) -> None:
    from tasks.distributed.shard import shard_command
    from tasks.execution.plan import K6_DIR

    own = plan(tmp_path).model_copy(update={"script": K6_DIR / "main.js"})
    users = plan(tmp_path).model_copy(update={"script": tmp_path / "mine.js"})
    part = segments(2)[1]
    samples = tmp_path / "samples.csv"
    cmd = shard_command(own, part, 7001, samples, None)
    assert "--no-thresholds" in cmd and f"csv={samples}" not in cmd  # measured in its VUs
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1:7001" and "--paused" in cmd
    assert cmd[cmd.index("--execution-segment") + 1] == "1/2:1"
    kept = shard_command(own, part, 7001, samples, None, raw_samples=True)  # SHARD_RAW_SAMPLES=true
    assert kept[kept.index("--out") + 1] == f"csv={samples}"
    theirs = shard_command(users, part, 7002, samples, None)
    assert "--no-thresholds" not in theirs and theirs[theirs.index("--out") + 1] == f"csv={samples}"
