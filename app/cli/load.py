"""Load-run commands: ``luna smoke|load|stress|spike|soak|...``, ``luna run --profile`` and
``luna demo`` (the bundled demo API, optionally load tested), and the result table."""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from typing import Any

import httpx
from pydantic import ValidationError

from app import operations
from app.cli.common import console, fmt_number, fmt_percent, quiet_console
from luna.errors import LunaError
from luna.settings import PROFILES, load_settings

STATE_MARKS = {"ok": "ok", "fail": "[red]FAIL[/]", "not_exercised": "[yellow]not exercised[/]"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for profile in PROFILES:
        p = sub.add_parser(profile, help=f"run the {profile} profile")
        add_run_options(p)
        p.set_defaults(handler=functools.partial(run_load, profile=profile))
    run = sub.add_parser("run", help="run a load profile")
    run.add_argument("--profile", choices=PROFILES, default="smoke")
    add_run_options(run)
    run.set_defaults(handler=lambda a: run_load(a, a.profile))
    d = sub.add_parser("demo", help="serve the bundled demo API; with --run, load test it")
    d.add_argument("--port", type=int, default=8787)
    d.add_argument("--run", choices=PROFILES, help="run this profile against the demo API, then stop it")
    add_run_options(d)
    d.set_defaults(handler=demo)


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="base URL of the service (default: BASE_URL)")
    p.add_argument("--config", default=None, help="endpoints file (default: LUNA_ENDPOINTS_FILE)")
    p.add_argument("--model", dest="load_model", choices=("closed", "open"), help="closed (VUs) or open (arrival rate)")
    for flag, kind in (
        ("vus", int),
        ("duration", str),
        ("ramp-duration", str),
        ("soak-duration", str),
        ("stress-vus", int),
        ("spike-vus", int),
        ("smoke-vus", int),
        ("smoke-duration", str),
        ("rate", int),
    ):
        p.add_argument(f"--{flag}", type=kind, dest=flag.replace("-", "_"))
    p.add_argument("--run-id", help="run id (default: generated)")
    p.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="split the profile into N k6 execution segments (SHARD_ENGINE: a Dask cluster, DASK_ADDRESS or local; "
        "or one flow run per shard on a Prefect work pool), merged exactly",
    )
    p.add_argument("--auth-block", help="name of a 'Luna Service Auth' Prefect block with the credentials")
    p.add_argument("--baseline", dest="baseline_run_id", help="compare with this run instead of the last passing one")
    p.add_argument("--fail-on-regression", action="store_true", default=None, help="a regression fails the verdict")
    p.add_argument(
        "--fail-on-not-exercised",
        action="store_true",
        default=None,
        help="an endpoint that got no requests fails the verdict (LUNA_FAIL_ON_NOT_EXERCISED; default: named only)",
    )
    p.add_argument(
        "--include-destructive",
        action="store_true",
        default=None,
        help="also run endpoints marked destructive (DELETEs, writes to a production-looking target)",
    )


def build_params(args: argparse.Namespace, profile: str) -> Any:
    from tasks.execution.plan import LoadTestParams

    settings = load_settings()
    fields = {k: getattr(args, k, None) for k in LoadTestParams.model_fields if k not in ("profile", "config")}
    config = args.config or str(settings.luna_endpoints_file)
    try:
        return LoadTestParams(profile=profile, config=config, **{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise LunaError(
            f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}", tip="see `luna run --help`"
        ) from None


def run_load(args: argparse.Namespace, profile: str) -> int:
    params = build_params(args, profile)
    run = operations.load_test(params, before_run=lambda: quiet_console(k6_lines=sys.stderr.isatty()))
    print_result(run.result, run.verdict)
    return run.exit_code


def print_result(result: Any, verdict: Any) -> None:
    out = console()
    if result.endpoints:
        out.print(result_table(result, verdict))
    if verdict is None:
        out.print(f"[bold red]{result.status.upper()}[/]: {result.message}", soft_wrap=True)
    else:
        color = "green" if verdict.passed else "red"
        out.print(f"[bold {color}]{verdict.status.upper()}[/]: {verdict.reason}", soft_wrap=True)
        if verdict.comparison is not None and verdict.comparison.outcome == "regressed":
            out.print(f"[yellow]{verdict.comparison.reason}[/]", soft_wrap=True)
        elif verdict.baseline_note:
            out.print(f"baseline: {verdict.baseline_note}", soft_wrap=True)
    if result.influxdb is not None and not result.influxdb.stored:
        out.print(f"[yellow]metrics not stored:[/] {result.influxdb.note}", soft_wrap=True)
    print(f"results: {result.run_dir}")


def result_table(result: Any, verdict: Any) -> Any:
    """Per-endpoint rows and a TOTAL row (latency in ms)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"{result.service} · {result.profile} (latency in ms)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    longest = max([len(e.name) for e in result.endpoints] + [5])
    table.add_column("endpoint", min_width=min(longest, 30), no_wrap=True)
    for column in ("reqs", "rps", "p50", "p95", "p99", "errors", "checks", "apdex", "SLOs"):
        table.add_column(column, justify="right", no_wrap=True)
    judged = {e.name: e for e in verdict.endpoints} if verdict else {}
    for e in result.endpoints:
        v = judged.get(e.name)
        apdex = fmt_number(v.apdex, 2) if v else "-"
        table.add_row(*_stat_cells(e.name, e, apdex), STATE_MARKS[v.state] if v else "-")
    if result.total is not None:
        apdex = fmt_number(verdict.apdex, 2) if verdict else "-"
        table.add_row(*_stat_cells("TOTAL", result.total, apdex), "")
    return table


def _stat_cells(name: str, stats: Any, apdex: str) -> list[str]:
    lat = stats.latency_ms
    return [
        name,
        str(stats.requests),
        f"{stats.rps:.1f}",
        fmt_number(lat.p50),
        fmt_number(lat.p95),
        fmt_number(lat.p99),
        fmt_percent(stats.error_rate),
        fmt_percent(stats.check_pass_rate),
        apdex,
    ]


def demo(args: argparse.Namespace) -> int:
    if not args.run:
        from app.demo import serve

        print(f"Luna demo API on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
        serve(port=args.port)
        return 0
    target = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-m", "app.demo", "--port", str(args.port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{target}/api/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise LunaError(f"the demo API did not start on port {args.port}", tip="pick a free port with --port")
            time.sleep(0.2)
        args.target = target
        return run_load(args, args.run)
    finally:
        server.terminate()
        server.wait(timeout=10)
