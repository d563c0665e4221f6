"""How fast the webhook gateway answers, and how long a signed webhook takes to become a
scheduled flow run.

Starts a private Prefect server (own PREFECT_HOME in a temp dir, analytics off), deploys
the repository's prefect.yaml (`prefect deploy --all`, work pool `luna-process`), starts
`luna webhook serve`, then:

  accept     N signed generic POSTs one after the other: POST -> 202 (verify + emit to Prefect)
  reject     N unsigned POSTs: POST -> 401
  to run     R signed POSTs, each timed until the triggered `test-service/smoke` flow run
             exists in the API (polled every 50 ms)

No worker runs: the flow runs are created, never executed (targets are closed loopback
ports) and deleted at the end. Writes bench/results/webhook_gateway-<date>.json.

    .venv/bin/python bench/webhook_gateway.py                  # N=200, R=10
    .venv/bin/python bench/webhook_gateway.py --requests 50 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from _common import ROOT, VENV_BIN, free_port, loadavg, machine, median, stop_group, table, wait_http, write_results

sys.path.insert(0, str(ROOT))
from tasks.notify.webhooks import sign  # noqa: E402

SECRET = "bench-secret"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="luna-bench-webhook-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "PREFECT_"))},
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "LUNA_HOME": str(ROOT),
    }
    port, gport = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = gateway = None
    try:
        server = subprocess.Popen(
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_http(f"{api}/health", 120, server)
        env["PREFECT_API_URL"] = api
        prefect = [str(VENV_BIN / "prefect"), "--no-prompt"]
        subprocess.run([*prefect, "work-pool", "create", "luna-process", "--type", "process"], env=env, check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        subprocess.run([*prefect, "deploy", "--all"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
        gateway = subprocess.Popen(
            [str(VENV_BIN / "luna"), "webhook", "serve", "--port", str(gport)],
            env={**env, "LUNA_WEBHOOK_GENERIC_SECRET": SECRET}, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{gport}"
        wait_http(f"{url}/healthz", 60, gateway)
        deployment = httpx.get(f"{api}/deployments/name/test-service/smoke", timeout=10).json()["id"]

        def signed(body: dict[str, str]) -> httpx.Response:
            raw = json.dumps(body).encode()
            return client.post(f"{url}/webhooks/generic", content=raw,
                               headers={"X-Luna-Signature": sign(raw, SECRET, int(time.time()))})  # fmt: skip

        with httpx.Client(timeout=30) as client:
            accept, reject, to_run = [], [], []
            signed({"target": "http://127.0.0.1:9/warm-up"})
            for i in range(args.requests):
                started = time.perf_counter()
                assert signed({"target": f"http://127.0.0.1:9/accept-{i}", "event": "bench"}).status_code == 202
                accept.append((time.perf_counter() - started) * 1000)
            for _ in range(args.requests):
                started = time.perf_counter()
                assert client.post(f"{url}/webhooks/generic", json={"target": "x"}).status_code == 401
                reject.append((time.perf_counter() - started) * 1000)
            for i in range(args.runs):
                target = f"http://127.0.0.1:9/run-{i}"
                started = time.perf_counter()
                assert signed({"target": target}).status_code == 202
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    runs = client.post(f"{api}/flow_runs/filter",
                                       json={"deployments": {"id": {"any_": [deployment]}}}).json()  # fmt: skip
                    if any(r["parameters"].get("target") == target for r in runs):
                        to_run.append(time.perf_counter() - started)
                        break
                    time.sleep(0.05)
            for run in client.post(f"{api}/flow_runs/filter", json={}).json():
                client.delete(f"{api}/flow_runs/{run['id']}")
    finally:
        stop_group(gateway)
        stop_group(server)
        shutil.rmtree(home, ignore_errors=True)
    rows = [
        ["accept (202)", len(accept), f"{median(accept):.1f} ms", f"{pct(accept, 0.95):.1f} ms"],
        ["reject (401)", len(reject), f"{median(reject):.1f} ms", f"{pct(reject, 0.95):.1f} ms"],
        ["POST -> flow run exists", len(to_run), f"{median(to_run):.2f} s", f"{max(to_run):.2f} s (max)"],
    ]
    print(table(["what", "n", "median", "p95"], rows))
    data = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg": loadavg(),
        "accept_ms": accept,
        "reject_ms": reject,
        "to_run_s": to_run,
    }
    print(f"results: {write_results('webhook_gateway', data)}")


if __name__ == "__main__":
    main()
