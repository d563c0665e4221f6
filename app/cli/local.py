"""Local setup commands: ``luna env`` (effective settings, secrets masked), ``luna doctor``
and ``luna up`` / ``luna down`` (a background Prefect server)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from app import operations
from app.cli.common import err
from luna.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("env", help="print the effective settings, secrets masked").set_defaults(handler=show_env)
    sub.add_parser("doctor", help="check k6, Chromium, Node, Lighthouse, Prefect and InfluxDB").set_defaults(
        handler=doctor
    )
    sub.add_parser("up", help="start a local background Prefect server").set_defaults(handler=prefect_server)
    sub.add_parser("down", help="stop it").set_defaults(handler=prefect_server)


def show_env(_: argparse.Namespace) -> int:
    for name, value in load_settings().masked().items():
        print(f"{name}={value}")
    return 0


def doctor(_: argparse.Namespace) -> int:
    from app.doctor import run_checks

    ok = True
    for check in run_checks(load_settings()):
        mark = "ok " if check.ok else ("-- " if not check.required else "!! ")
        print(f"{mark}{check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"     fix: {check.fix}")
        ok = ok and (check.ok or not check.required)
    return 0 if ok else 1


def prefect_server(args: argparse.Namespace) -> int:
    settings = load_settings()
    port = settings.luna_prefect_port
    prefect = str(Path(sys.executable).with_name("prefect"))
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if args.command == "down":
        return subprocess.call([prefect, "server", "stop"], env=env)
    if operations.prefect_api(port):
        print(f"Prefect server already running: http://127.0.0.1:{port}")
        return 0
    code = subprocess.call(
        [prefect, "server", "start", "--background", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    if code != 0:
        err("prefect server did not start; see `prefect server start` output")
        return 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if operations.prefect_api(port):
            print(
                f"Prefect server running: UI http://127.0.0.1:{port}  (luna commands now use it; `luna down` stops it)"
            )
            return 0
        time.sleep(0.5)
    err("prefect server did not answer within 60 s")
    return 2
