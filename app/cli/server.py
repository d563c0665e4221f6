"""`luna up` and `luna down`: Luna's local server process (app/server, docs/REPORTS.md)."""

from __future__ import annotations

import argparse
from typing import Any

from luna.settings import load_settings


def register(sub: Any) -> None:
    sub.add_parser(
        "up", help="start Luna's local server: the Prefect server and UI, and the report files over HTTP"
    ).set_defaults(handler=up)
    sub.add_parser("down", help="stop the server `luna up` started (and nothing else)").set_defaults(handler=down)


def up(_: argparse.Namespace) -> int:
    from app.server.control import up as start

    settings = load_settings()
    outcome = start(settings.luna_prefect_port, settings.luna_reports_port, settings.luna_out_dir)
    state = outcome.state
    assert state is not None
    print(f"{outcome.message}: Prefect UI {state.prefect_url}  reports {state.reports_url}  (pid {state.pid})")
    print("luna commands now use it; `luna down` stops it")
    return 0


def down(_: argparse.Namespace) -> int:
    from app.server.control import down as stop

    print(stop(load_settings().luna_prefect_port).message)
    return 0
