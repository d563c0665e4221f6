"""A dead target's log flood: `luna smoke` for 15 s at 2 VUs against a target that accepts
and closes every connection. Reports how many lines k6 wrote (k6.log), how many log rows the
flow run left in Prefect (its API), and the CLI's wall time beyond the planned 15 s.

    .venv/bin/python bench/k6_log_flood.py --api http://127.0.0.1:4200/api

Needs a running Prefect server (`luna up`, or `prefect server start`). Loopback only; the run
is bounded by k6's duration and a 300 s timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import ROOT, VENV_BIN, machine, write_results

DURATION_S = 15


def closing_target() -> tuple[str, threading.Event]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}", stop


def prefect_log_rows(api: str, run_id: str) -> int:
    body = {"limit": 200, "sort": "EXPECTED_START_TIME_DESC"}
    req = urllib.request.Request(
        f"{api}/flow_runs/filter", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    runs = json.load(urllib.request.urlopen(req, timeout=30))
    ids = [r["id"] for r in runs if r["parameters"].get("params", {}).get("run_id") == run_id]
    rows, offset = 0, 0
    while True:  # bounded: pages of 200 until a short page
        q = {"logs": {"flow_run_id": {"any_": ids}}, "limit": 200, "offset": offset}
        req = urllib.request.Request(f"{api}/logs/filter", json.dumps(q).encode(), {"Content-Type": "application/json"})
        page = json.load(urllib.request.urlopen(req, timeout=30))
        rows += len(page)
        offset += 200
        if len(page) < 200 or offset > 1_000_000:
            return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    args = parser.parse_args()
    url, stop = closing_target()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "e.json"
        catalog.write_text(
            json.dumps({"service": "flood", "endpoints": [{"name": "Dead", "group": "g", "path": "/dead"}]})
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_"))}
        env.update({"PREFECT_API_URL": args.api, "LUNA_OUT_DIR": f"{tmp}/out"})
        run_id = f"flood-{int(time.time())}"
        started = time.monotonic()
        subprocess.run(
            [str(VENV_BIN / "luna"), "smoke", "--target", url, "--config", str(catalog), "--smoke-vus", "2",
             "--smoke-duration", f"{DURATION_S}s", "--run-id", run_id],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        wall = time.monotonic() - started
        k6_lines = sum(1 for _ in (Path(tmp) / "out" / "runs" / run_id / "k6.log").open())
    stop.set()
    time.sleep(2)  # let the last log batch land
    rows = prefect_log_rows(args.api, run_id)
    data = {
        "machine": machine(),
        "duration_s": DURATION_S,
        "k6_log_lines": k6_lines,
        "prefect_log_rows": rows,
        "cli_wall_s": round(wall, 1),
    }
    print(json.dumps(data | {"machine": "..."}, indent=1))
    write_results("k6_log_flood", data)


if __name__ == "__main__":
    main()
