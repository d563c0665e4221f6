"""What a shard's raw samples cost k6 and the shard: k6 at full speed against a private nginx
(loopback, one worker, the 202-byte JSON of bench/runner_efficiency.py), with and without
`--out csv=...` (K6_CSV_TIME_FORMAT=unix_micro, as shards write it), alternating per round.

Per run: k6's requests/s (from its summary), k6's CPU seconds per 1,000 requests (psutil),
and for the CSV runs the file's bytes per request and the time `tasks/distributed/samples.py`
takes to reduce it (requests/s of parsing, one core).

Writes bench/results/distributed_csv_cost-<date>.json.

    .venv/bin/python bench/distributed_csv_cost.py                    # 2 rounds x 8 s x 20 VUs
    .venv/bin/python bench/distributed_csv_cost.py --rounds 3 --duration 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import K6, free_port, machine, median, stop, table, wait_http, write_results  # noqa: E402
from runner_efficiency import BODY, NGINX_CONF  # noqa: E402

from tasks.distributed.samples import parse_file  # noqa: E402

SCRIPT = """import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: __ENV.VUS * 1, duration: __ENV.DURATION };
export default function () {
  const r = http.get(__ENV.URL, { tags: { name: 'Users' } });
  check(r, { 'status 200': (x) => x.status === 200 });
}
"""


def k6_run(url: str, folder: Path, vus: int, duration: int, csv: Path | None) -> dict[str, Any]:
    summary = folder / "summary.json"
    cmd = [K6, "run", "--quiet", "--no-usage-report", "--address", "", "--summary-export", str(summary)]
    if csv is not None:
        cmd += ["--out", f"csv={csv}"]
    env = {"K6_CSV_TIME_FORMAT": "unix_micro", "PATH": "/usr/bin:/bin"}
    cmd += ["-e", f"URL={url}", "-e", f"VUS={vus}", "-e", f"DURATION={duration}s", str(folder / "script.js")]
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = 0.0
    deadline = time.monotonic() + duration + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            times = proc.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    reqs = json.loads(summary.read_text())["metrics"]["http_reqs"]
    row: dict[str, Any] = {
        "csv": csv is not None,
        "requests": int(reqs["count"]),
        "rps": round(reqs["rate"]),
        "k6_cpu_s_per_1k_req": round(cpu / reqs["count"] * 1000, 4),
    }
    if csv is not None:
        began = time.perf_counter()
        parsed = parse_file(csv)
        took = time.perf_counter() - began
        row.update(
            {
                "csv_bytes_per_request": round(csv.stat().st_size / reqs["count"]),
                "parse_requests_per_s": round(parsed.overall.requests / took),
                "parsed_requests": parsed.overall.requests,
            }
        )
        csv.unlink()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--vus", type=int, default=20)
    args = ap.parse_args()
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-csv-"))
    tmp.chmod(0o755)
    nginx = None
    rows: list[dict[str, Any]] = []
    try:
        port = free_port()
        (tmp / "users.json").write_text(json.dumps(BODY, separators=(",", ":")), encoding="utf-8")
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port), encoding="utf-8")
        (tmp / "script.js").write_text(SCRIPT, encoding="utf-8")
        nginx = subprocess.Popen(
            [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/api/users"
        wait_http(url, 15, nginx)
        for rnd in range(args.rounds):
            order = (False, True) if rnd % 2 == 0 else (True, False)
            for with_csv in order:
                row = k6_run(url, tmp, args.vus, args.duration, tmp / "samples.csv" if with_csv else None)
                row["round"] = rnd
                print(row)
                rows.append(row)
    finally:
        stop(nginx, 10)
        shutil.rmtree(tmp, ignore_errors=True)
    summary = []
    for with_csv in (False, True):
        runs = [r for r in rows if r["csv"] is with_csv]
        keys = [k for k in runs[0] if k not in ("csv", "round")]
        summary.append({"csv": with_csv, **{k: median([float(r[k]) for r in runs]) for k in keys}})
    print(table(list(summary[1]), [[s.get(k) for k in summary[1]] for s in summary]))
    path = write_results("distributed_csv_cost", {"machine": machine(), "runs": rows, "medians": summary})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
