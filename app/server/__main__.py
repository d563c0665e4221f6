"""Luna's server process: `python -m app.server --prefect-port P --reports-port R --out DIR`.

Started by `luna up` in a session of its own (so `luna down` stops it and its children
as one process group). It serves the results folder on R and runs `prefect server start`
on P as a child, with the UI told to call the API on P (PREFECT_UI_API_URL; left alone,
the UI calls port 4200 whatever --port says). It ends when the Prefect server ends or on
SIGTERM, which it passes on to the Prefect server.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from app.server.files import results_server


def prefect_env(port: int) -> dict[str, str]:
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.server")
    p.add_argument("--prefect-port", type=int, required=True)
    p.add_argument("--reports-port", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        files = results_server(args.out, args.reports_port)
    except OSError as exc:
        print(f"luna up: port {args.reports_port} for the report server is in use ({exc.strerror})", flush=True)
        return 3
    threading.Thread(target=files.serve_forever, name="reports", daemon=True).start()
    print(f"reports: serving {args.out} on http://127.0.0.1:{args.reports_port}/", flush=True)
    prefect = str(Path(sys.executable).with_name("prefect"))
    cmd = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(args.prefect_port)]
    server = subprocess.Popen(cmd, env=prefect_env(args.prefect_port))

    def stop(signum: int, _frame: FrameType | None) -> None:
        server.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        code = server.wait()
    finally:
        files.shutdown()
        if server.poll() is None:
            server.kill()
    print(f"prefect server ended (exit {code})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
