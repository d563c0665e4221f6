"""What merging sharded results costs: reading raw samples (k6 CSV vs JSON), recording
them into HDR histograms, and merging the shards' histograms into one result.

Synthetic samples in k6's own output formats (13 rows per request, as k6 v1 writes for an
HTTP request with one check; lognormal durations around 3 ms), so the numbers cover only
the parsing and the arithmetic, not k6.

  parse    requests/s and bytes/request for `--out csv` (unix_micro) and `--out json`,
           through tasks/distributed/samples.py (each shard does this on its own machine)
  record   seconds to turn N durations into a histogram (Counter per µs value + one
           record_value per distinct value), N = --samples
  merge    seconds for the coordinator to decode and add S shards' histograms (overall and
           per endpoint, E endpoints) and read p50/p90/p95/p99 of each, S = --shards

Writes bench/results/distributed_merge-<date>.json.

    .venv/bin/python bench/distributed_merge.py
    .venv/bin/python bench/distributed_merge.py --samples 100000 1000000 --shards 1 8 64
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, table, write_results  # noqa: E402

from tasks.distributed.samples import parse_file  # noqa: E402
from tasks.execution import hdr  # noqa: E402
from tasks.execution.reduce import Merged  # noqa: E402
from tasks.execution.tallies import Tally  # noqa: E402

HEADER = (
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,"
    "scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"
)
TIMINGS = (
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
)


def write_csv(path: Path, requests: int, rng: random.Random, endpoints: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        t = 1_795_500_000_000_000
        for i in range(requests):
            t += 97
            name = f"Endpoint{i % endpoints}"
            ms = rng.lognormvariate(1.0, 0.6)
            tags = f",,,,true,g,GET,{name},HTTP/1.1,smoke,,200,,,http://127.0.0.1:8787/api/x,run_id=r&profile=smoke,"
            rows = [f"http_reqs,{t},1.000000{tags}", f"http_req_duration,{t},{ms:.6f}{tags}"]
            rows += [f"{m},{t},0.010000{tags}" for m in TIMINGS]
            rows += [
                f"http_req_failed,{t},0.000000{tags}",
                f"data_sent,{t},120.000000{tags}",
                f"data_received,{t},450.000000{tags}",
                f"checks,{t},1.000000,status is 200,,,,g,,{name},,smoke,,,,,,run_id=r,",
                f"iteration_duration,{t},{ms + 0.1:.6f},,,,,,,,,smoke,,,,,,run_id=r,",
                f"iterations,{t},1.000000,,,,,,,,,smoke,,,,,,run_id=r,",
            ]
            out.write("\n".join(rows) + "\n")


def csv_to_json(src: Path, dst: Path) -> None:
    """The same samples as k6's JSON output writes them."""
    with src.open(encoding="utf-8") as inp, dst.open("w", encoding="utf-8") as out:
        names = next(inp).rstrip("\n").split(",")
        for line in inp:
            row = line.rstrip("\n").split(",")
            values = dict(zip(names, row, strict=False))
            t = int(values["timestamp"])
            stamp = datetime.fromtimestamp(t // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            tags = {k: v for k, v in values.items() if v and k not in ("metric_name", "timestamp", "metric_value")}
            point = {
                "metric": values["metric_name"],
                "type": "Point",
                "data": {
                    "time": f"{stamp}.{t % 1_000_000:06d}000Z",
                    "value": float(values["metric_value"]),
                    "tags": tags,
                },
            }
            out.write(json.dumps(point, separators=(",", ":")) + "\n")


def bench_parse(requests: int, endpoints: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, json_path = Path(tmp) / "s.csv", Path(tmp) / "s.json"
        write_csv(csv_path, requests, rng, endpoints)
        csv_to_json(csv_path, json_path)
        for kind, path in (("csv", csv_path), ("json", json_path)):
            began = time.perf_counter()
            result = parse_file(path)
            took = time.perf_counter() - began
            assert result.overall.requests == requests
            rows.append(
                {
                    "format": kind,
                    "requests": requests,
                    "seconds": round(took, 3),
                    "requests_per_s": round(requests / took),
                    "bytes_per_request": round(path.stat().st_size / requests),
                }
            )
    return rows


def shard_tallies(total: int, shards: int, endpoints: int, rng: random.Random) -> tuple[list[dict[str, Tally]], float]:
    """Each shard's per-endpoint and overall tallies; returns them and the slowest shard's
    record time (shards record in parallel, on their own machines)."""
    per_shard = total // shards
    out: list[dict[str, Tally]] = []
    slowest = 0.0
    for _ in range(shards):
        values = [hdr.to_us(rng.lognormvariate(1.0, 0.6)) for _ in range(per_shard)]
        began = time.perf_counter()
        by_name: dict[str, Counter[int]] = {f"E{e}": Counter() for e in range(endpoints)}
        for i, us in enumerate(values):
            by_name[f"E{i % endpoints}"][us] += 1
        overall: Counter[int] = Counter(values)
        tallies = {"": Tally(requests=per_shard, histogram=hdr.encode(hdr.from_counts(overall)))}
        for name, counts in by_name.items():
            tallies[name] = Tally(requests=sum(counts.values()), histogram=hdr.encode(hdr.from_counts(counts)))
        slowest = max(slowest, time.perf_counter() - began)
        out.append(tallies)
    return out, slowest


def bench_merge(samples: list[int], shards: list[int], endpoints: int) -> list[dict[str, Any]]:
    rng = random.Random(2)
    rows = []
    for total in samples:
        for count in shards:
            tallies, record_s = shard_tallies(total, count, endpoints, rng)
            began = time.perf_counter()
            for key in tallies[0]:
                merged = Merged([t[key] for t in tallies])
                merged.latency()
            merge_s = time.perf_counter() - began
            encoded = sum(len(t[k].histogram) for t in tallies for k in t)
            rows.append(
                {
                    "samples": total,
                    "shards": count,
                    "record_s_slowest_shard": round(record_s, 3),
                    "merge_s": round(merge_s, 4),
                    "histogram_bytes_per_shard": round(encoded / count),
                }
            )
            print(f"  {total:>9} samples {count:>3} shards: record {record_s:.2f} s, merge {merge_s * 1000:.1f} ms")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parse-requests", type=int, default=100_000)
    ap.add_argument("--samples", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--endpoints", type=int, default=6)
    args = ap.parse_args()
    parse = bench_parse(args.parse_requests, args.endpoints)
    print(table(list(parse[0]), [list(r.values()) for r in parse]))
    merge = bench_merge(args.samples, args.shards, args.endpoints)
    print(table(list(merge[0]), [list(r.values()) for r in merge]))
    path = write_results(
        "distributed_merge", {"machine": machine(), "endpoints": args.endpoints, "parse": parse, "merge": merge}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
