"""`luna runs` and `luna report ID`: the results folder read back (no Prefect).

The same operations as the MCP tools `list_runs` and `get_report`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app import operations
from luna.settings import PROFILES


def register(sub: Any) -> None:
    runs = sub.add_parser("runs", help="recent load runs and pipelines in the results folder, newest first")
    runs.add_argument("--service", help="only this service")
    runs.add_argument("--profile", choices=PROFILES, help="only this profile")
    runs.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    runs.set_defaults(handler=list_runs)
    report = sub.add_parser("report", help="the report of one run or pipeline (markdown; --json for the data)")
    report.add_argument("run_id", metavar="ID", help="a run id or pipeline id (see `luna runs`)")
    report.add_argument("--json", action="store_true", help="print the run's data as JSON instead")
    report.set_defaults(handler=show_report)


def list_runs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from app.cli.main import _console

    found = operations.list_runs(args.service, args.profile, args.limit)
    if not found:
        print("no runs in the results folder")
        return 0
    table = Table(title="runs")
    for column in ("started (UTC)", "id", "kind", "service", "profile", "status", "folder"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(r.started_at or "-", r.id, r.kind, r.service or "-", r.profile or "-", r.status, r.folder)
    _console().print(table)
    return 0


def show_report(args: argparse.Namespace) -> int:
    report = operations.get_report(args.run_id)
    if args.json:
        print(json.dumps(report.data, indent=2))
    else:
        print(report.markdown, end="" if report.markdown.endswith("\n") else "\n")
    for kind, path in report.files.items():
        print(f"{kind}: {path}")
    return 0
