"""`luna test-service URL`: the whole pipeline from the command line.

Exit codes: 0 every stage passed or was skipped, 1 a stage failed (an SLO crossed, a
failing test, a missed budget), 2 a stage errored (bad input, a dead target).
"""

from __future__ import annotations

import argparse
from typing import Any

from app import operations
from luna.settings import PROFILES

STAGES = ("discover", "generate", "load", "lighthouse", "visual_qa", "notify")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "test-service",
        help="the whole pipeline: discover, generate, load test, SLOs, Lighthouse, visual QA, report, notify",
    )
    p.add_argument("target", help="the service's base URL, e.g. http://127.0.0.1:8787")
    p.add_argument("--profile", choices=PROFILES, default="smoke")
    p.add_argument("--source", help="spec, collection, HAR, WSDL or GraphQL to discover from (default: probe TARGET)")
    p.add_argument("--config", default=None, help="endpoints file to run when discovery is off")
    p.add_argument("--service", help="service name (default: the spec's title)")
    p.add_argument("--commit", help="commit or version under test, shown in the report")
    p.add_argument("--environment", help="environment name, shown in the report")
    for stage in STAGES:
        p.add_argument(f"--no-{stage.replace('_', '-')}", dest=stage, action="store_false", help=f"skip {stage}")
    p.add_argument("--include-destructive", action="store_true", help="load test destructive operations too")
    p.add_argument("--shards", type=int, default=1, help="split the load into N k6 execution segments on Dask")
    p.add_argument("--baseline", dest="baseline_run_id", help="compare with this load run")
    p.add_argument("--fail-on-regression", action="store_true", help="a regression fails the load stage")
    p.add_argument("--auth-block", help="a 'Luna Service Auth' block's name")
    p.set_defaults(handler=test_service)


def test_service(args: argparse.Namespace) -> int:
    from app.cli.main import _console, build_params
    from tasks.pipeline.model import check_target

    check_target(args.target)  # bad input is one line, before Prefect starts (the operation checks again)
    build_params(args, args.profile)  # names the bad flag as the CLI spells it

    options = {stage: getattr(args, stage) for stage in STAGES}
    for name in ("source", "service", "commit", "environment", "baseline_run_id", "auth_block"):
        if getattr(args, name):
            options[name] = getattr(args, name)
    if args.config:
        options["config"] = args.config
    options["include_destructive"] = args.include_destructive
    options["shards"] = args.shards
    options["fail_on_regression"] = args.fail_on_regression
    result = operations.test_service(args.target, args.profile, **options)

    from rich.table import Table

    console = _console()
    table = Table(title=f"test-service {result.status.upper()}: {result.service or result.target}", box=None)
    for column in ("stage", "outcome", "time", "summary"):
        table.add_column(column, justify="right" if column == "time" else "left", overflow="fold")
    colours = {"passed": "green", "warning": "dark_orange", "failed": "red", "error": "yellow", "skipped": "dim"}
    for stage in result.stages:
        table.add_row(
            stage.name,
            f"[{colours[stage.status]}]{stage.status}[/]",
            f"{stage.seconds:.1f}s" if stage.seconds is not None else "-",
            stage.reason,
        )
    console.print(table)
    for failure in result.slo_failures:
        console.print(f"  {failure.line()}")
    console.print(f"report: {result.out_dir}/report.html")
    if any(s.status == "error" for s in result.stages):
        return 2
    return 0 if result.passed else 1
