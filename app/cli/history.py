"""Run history commands: ``luna history SERVICE`` and ``luna diff RUN_A RUN_B``."""

from __future__ import annotations

import argparse

from app import operations
from app.cli.common import console, fmt_number, fmt_percent
from luna.settings import PROFILES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    h = sub.add_parser("history", help="past runs of a service with their verdicts (from Prefect)")
    h.add_argument("service")
    h.add_argument("--profile", choices=PROFILES)
    h.add_argument("--limit", type=int, default=50)
    h.set_defaults(handler=history)
    df = sub.add_parser("diff", help="per-endpoint differences between two runs (exit 1 on a regression)")
    df.add_argument("run_a", help="the older run (baseline)")
    df.add_argument("run_b", help="the newer run")
    df.set_defaults(handler=diff)


def history(args: argparse.Namespace) -> int:
    from tasks.evaluation.history import total_of

    records = operations.history(args.service, args.profile, limit=args.limit)
    if not records:
        print(
            f"no runs recorded for service {args.service!r}" + (f" and profile {args.profile}" if args.profile else "")
        )
        return 0
    from rich.table import Table

    table = Table(title=f"history of {args.service}")
    for column in ("started (UTC)", "run id", "profile", "verdict", "reqs", "rps", "p95 ms", "errors"):
        table.add_column(column)
    for r in records:
        t = total_of(r)
        table.add_row(
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.run_id,
            r.profile,
            "[green]pass[/]" if r.verdict == "pass" else "[red]fail[/]",
            str(t.requests) if t else "-",
            f"{t.rps:.1f}" if t else "-",
            fmt_number(t.p95 if t else None),
            fmt_percent(t.error_rate if t else None),
        )
    console().print(table)
    return 0


def diff(args: argparse.Namespace) -> int:
    comparison = operations.diff(args.run_a, args.run_b)
    from rich.table import Table

    table = Table(title=f"{args.run_b} vs {args.run_a}")
    for column in ("endpoint", "metric", args.run_a, args.run_b, "change", "noise", ""):
        table.add_column(column)
    for ep in comparison.endpoints:
        for d in ep.deltas:
            mark = "[red]regression[/]" if d.regression else "[green]improved[/]" if d.improvement else ""
            fmt = fmt_percent if d.metric == "error_rate" else fmt_number
            table.add_row(ep.name, d.metric, fmt(d.baseline), fmt(d.current), fmt(d.change), fmt(d.noise), mark)
    console().print(table)
    return 1 if comparison.regressions else 0
