"""Run history commands: ``luna history SERVICE`` and ``luna diff RUN_A RUN_B``."""

from __future__ import annotations

import argparse
import sys

from app import operations
from app.cli.common import console, fmt_number, fmt_percent
from luna.settings import PROFILES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    h = sub.add_parser("history", help="past runs of a service with their verdicts (from Prefect)")
    h.add_argument("service")
    h.add_argument("--profile", choices=PROFILES)
    h.add_argument("--limit", type=int, default=50)
    h.set_defaults(handler=history)
    df = sub.add_parser(
        "diff", help="run B against run A with the regression model (exit 1 regressed, 2 not comparable)"
    )
    df.add_argument("run_a", help="the older run (baseline)")
    df.add_argument("run_b", help="the newer run")
    df.set_defaults(handler=diff)


def history(args: argparse.Namespace) -> int:
    from tasks.evaluation.changes import describe
    from tasks.evaluation.history import total_of

    records = operations.history(args.service, args.profile, limit=args.limit)
    if not records:
        print(
            f"no runs recorded for service {args.service!r}" + (f" and profile {args.profile}" if args.profile else "")
        )
        return 0
    from rich.table import Table

    table = Table(title=f"history of {args.service}")
    for column in ("started (UTC)", "run id", "profile", "verdict", "reqs", "rps", "p95 ms", "errors", "change points"):
        table.add_column(column)
    for r in records:
        t = total_of(r)
        marks = "\n".join(f"[yellow]▲[/] {describe(c)}" for c in r.change_points)
        table.add_row(
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.run_id,
            r.profile,
            "[green]pass[/]" if r.verdict == "pass" else "[red]fail[/]",
            str(t.requests) if t else "-",
            f"{t.rps:.1f}" if t else "-",
            fmt_number(t.p95 if t else None),
            fmt_percent(t.error_rate if t else None),
            marks + (" (k6 saturated)" if r.saturated else ""),
        )
    console().print(table)
    found = sum(len(r.change_points) for r in records)
    print(f"{found} change point(s) (Apache Otava, p < 0.001, >= 5 %) over {len(records)} runs")
    return 0


OUTCOME_MARKS = {"ok": "[green]ok[/]", "regressed": "[red]regressed[/]", "inconclusive": "[yellow]inconclusive[/]"}


def diff(args: argparse.Namespace) -> int:
    """Exit 1 when run B regressed against run A, 2 when they are not comparable, else 0."""
    comparison = operations.diff(args.run_a, args.run_b)
    if not comparison.comparable:
        print(f"luna: {comparison.reason}. Tip: {comparison.todo}", file=sys.stderr)
        return 2
    from rich.table import Table

    table = Table(title=f"{args.run_b} vs {args.run_a}")
    for column in ("endpoint", "metric", args.run_a, args.run_b, "change", "noise", "outcome", "why"):
        table.add_column(column)
    for ep in comparison.endpoints:
        for d in ep.deltas:
            fmt = fmt_percent if d.metric == "error_rate" else fmt_number
            why = d.reason + (f"; {d.todo}" if d.todo and d.outcome != "ok" else "")
            table.add_row(
                ep.name, d.metric, fmt(d.baseline), fmt(d.current), fmt(d.change), fmt(d.noise),
                OUTCOME_MARKS[d.outcome], why,
            )  # fmt: skip
    console().print(table)
    print(f"{comparison.outcome.upper()}: {comparison.reason}" + (f" ({comparison.todo})" if comparison.todo else ""))
    return 1 if comparison.outcome == "regressed" else 0
