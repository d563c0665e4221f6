"""`luna`: the command line. Prefect is imported only by the commands that run a flow,
after the CLI has chosen which Prefect API to use, so `luna env`/`doctor` stay instant.

Exit codes: 0 passed, 1 a threshold or SLO crossed, 2 bad input, configuration or a run
that could not produce a result, 130 the run was interrupted (Ctrl-C, cancelled, k6 killed).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from pydantic import ValidationError

from app import operations
from luna.errors import LunaError
from luna.settings import PROFILES, load_settings
from luna.text import SafeStream

# Command groups that live in their own module. Each has `register(sub)`, which adds its
# sub-parsers with `set_defaults(handler=...)`; importing it must stay cheap (no Prefect).
COMMAND_MODULES = (
    "app.cli.suites",
    "app.cli.audit",
    "app.cli.service",
    "app.cli.pipeline",
    "app.cli.results",
    "app.cli.server",
)

# The operation each CLI command runs (tests/unit/test_operations.py: the same set as LunaClient and MCP).
OPERATION_COMMANDS = {
    "load_test": "run",
    "test_service": "test-service",
    "discover": "discover",
    "generate": "gen-tests",
    "run_suite": "run-tests",
    "lighthouse": "lighthouse",
    "visual_qa": "vqa",
    "history": "history",
    "diff": "diff",
    "list_runs": "runs",
    "get_report": "report",
}


def _err(text: str) -> None:
    print(f"luna: {text}", file=sys.stderr)


def _quiet_console(k6_lines: bool) -> None:
    """The verdict line goes to the Prefect run log only (the CLI prints the verdict once,
    after the table); with a progress bar in the terminal, k6's own lines too."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    class NoK6Lines(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if getattr(record, "luna_verdict_line", False):
                return False
            return not (k6_lines and getattr(record, "luna_k6_line", False))

    for name in ("prefect", "prefect.task_runs", "prefect.flow_runs", ""):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(NoK6Lines())


# ---- load runs -----------------------------------------------------------------------


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
    run = operations.load_test(params, before_run=lambda: _quiet_console(k6_lines=sys.stderr.isatty()))
    print_result(run.result, run.verdict)
    return run.exit_code


def print_result(result: Any, verdict: Any) -> None:
    from rich.table import Table

    console = _console()
    from rich import box

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
        lat = e.latency_ms
        table.add_row(
            e.name,
            str(e.requests),
            f"{e.rps:.1f}",
            _f(lat.p50),
            _f(lat.p95),
            _f(lat.p99),
            _p(e.error_rate),
            _p(e.check_pass_rate),
            _f(v.apdex, 2) if v else "-",
            STATE_MARKS[v.state] if v else "-",
        )
    if result.total is not None:
        t = result.total
        table.add_row(
            "TOTAL",
            str(t.requests),
            f"{t.rps:.1f}",
            _f(t.latency_ms.p50),
            _f(t.latency_ms.p95),
            _f(t.latency_ms.p99),
            _p(t.error_rate),
            _p(t.check_pass_rate),
            _f(verdict.apdex, 2) if verdict else "-",
            "",
        )
    if result.endpoints:
        console.print(table)
    if verdict is None:
        console.print(f"[bold red]{result.status.upper()}[/]: {result.message}", soft_wrap=True)
    else:
        color = "green" if verdict.passed else "red"
        console.print(f"[bold {color}]{verdict.status.upper()}[/]: {verdict.reason}", soft_wrap=True)
        if verdict.comparison is not None and verdict.comparison.regressions:
            console.print(
                f"[yellow]regressed vs {verdict.comparison.baseline_run_id}:[/] "
                + ", ".join(verdict.comparison.regressions),
                soft_wrap=True,
            )
        elif verdict.baseline_note:
            console.print(f"baseline: {verdict.baseline_note}", soft_wrap=True)
    if result.influxdb is not None and not result.influxdb.stored:
        console.print(f"[yellow]metrics not stored:[/] {result.influxdb.note}", soft_wrap=True)
    print(f"results: {result.run_dir}")


STATE_MARKS = {"ok": "ok", "fail": "[red]FAIL[/]", "not_exercised": "[yellow]not exercised[/]"}


def _console() -> Any:
    """Rich console; when piped, wide enough that run ids and paths are never cut."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _f(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _p(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


# ---- history and diff ----------------------------------------------------------------


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
            _f(t.p95 if t else None),
            _p(t.error_rate if t else None),
        )
    _console().print(table)
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
            fmt = _p if d.metric == "error_rate" else _f
            table.add_row(ep.name, d.metric, fmt(d.baseline), fmt(d.current), fmt(d.change), fmt(d.noise), mark)
    _console().print(table)
    return 1 if comparison.regressions else 0


# ---- demo, env, doctor (up/down: app/cli/server.py) ------------------------------------------------------


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


def discover(args: argparse.Namespace) -> int:
    """Plain functions, no Prefect: the same steps as the `discover` flow, instantly."""
    found = operations.discover(
        args.sources,
        out=args.out,
        service=args.service,
        include_destructive=args.include_destructive,
        overwrite=args.force,
        postman_environment=args.postman_env,
        target=args.target,
    )
    assert found.catalog is not None
    for d in found.found:
        print(
            f"{d.source}: {d.kind}, {len(d.endpoints)} endpoints" + (f", base URL {d.base_url}" if d.base_url else "")
        )
        for warning in d.warnings:
            print(f"  warning: {warning}")
    marked = sum(1 for e in found.catalog["endpoints"] if e.get("destructive"))
    if marked:
        print(
            f"marked {marked} destructive operations: load runs leave them out unless --include-destructive "
            "(or write them unmarked: luna discover --include-destructive)"
        )
    data = found.catalog
    if not data.get("discovery", {}).get("api_found", True):
        print(f"warning: {data['discovery']['warnings'][0]}")
    print(
        f"wrote {len(data['endpoints'])} endpoints to {args.out}"
        + (f" (target {data['target']})" if data.get("target") else " (no target recorded: pass --target URL)")
    )
    return 0


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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="luna", description="Load tests with k6, orchestrated by Prefect.")
    sub = root.add_subparsers(dest="command", required=True)
    for profile in PROFILES:
        add_run_options(sub.add_parser(profile, help=f"run the {profile} profile"))
    run = sub.add_parser("run", help="run a load profile")
    run.add_argument("--profile", choices=PROFILES, default="smoke")
    add_run_options(run)
    d = sub.add_parser("demo", help="serve the bundled demo API; with --run, load test it")
    d.add_argument("--port", type=int, default=8787)
    d.add_argument("--run", choices=PROFILES, help="run this profile against the demo API, then stop it")
    add_run_options(d)
    h = sub.add_parser("history", help="past runs of a service with their verdicts (from Prefect)")
    h.add_argument("service")
    h.add_argument("--profile", choices=PROFILES)
    h.add_argument("--limit", type=int, default=50)
    df = sub.add_parser("diff", help="per-endpoint differences between two runs (exit 1 on a regression)")
    df.add_argument("run_a", help="the older run (baseline)")
    df.add_argument("run_b", help="the newer run")
    disc = sub.add_parser(
        "discover", help="OpenAPI/Swagger, Postman, HAR, WSDL, GraphQL or a live URL -> an endpoints file"
    )
    disc.add_argument("sources", nargs="+", help="files, document URLs, or a service base URL to probe")
    disc.add_argument("--out", default="k6/config/endpoints.json", help="endpoints file to write")
    disc.add_argument("--service", default="My API", help="service name")
    disc.add_argument(
        "--include-destructive", action="store_true", help="write destructive operations unmarked (load runs run them)"
    )
    disc.add_argument(
        "--target",
        help="URL of the service under test, recorded in the file (default: the source URL's origin, or BASE_URL)",
    )
    disc.add_argument("--postman-env", help="Postman environment file")
    disc.add_argument("--force", action="store_true", help="overwrite the output file")
    sub.add_parser("env", help="print the effective settings, secrets masked")
    sub.add_parser("doctor", help="check k6, Chromium, Node, Lighthouse, Prefect and InfluxDB")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "mcp":  # stdout is the JSON-RPC channel there
        return _main(args)
    # Names, summaries and server bodies come from input: no escape sequence or control
    # character of theirs reaches the terminal, whichever print wrote them (luna/text.py).
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        return _main(args)
    finally:
        sys.stdout, sys.stderr = saved


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command in PROFILES:
            return run_load(args, args.command)
        if getattr(args, "handler", None):
            return int(args.handler(args))
        handlers = {
            "run": lambda a: run_load(a, a.profile),
            "demo": demo,
            "history": history,
            "discover": discover,
            "diff": diff,
            "env": show_env,
            "doctor": doctor,
        }
        return int(handlers[args.command](args))
    except LunaError as exc:
        _err(exc.one_line())
        return exc.exit_code
    except ValidationError as exc:  # a parameter model refused a flag's value
        _err(operations.field_error(exc, lambda f: "--" + f.replace("_", "-"), "see `luna --help`").one_line())
        return 2
    except KeyboardInterrupt:
        _err("interrupted; k6 was stopped and the partial results kept in the run folder")
        return 130
    except Exception as exc:  # the one place that turns a surprise into one line
        if os.environ.get("LUNA_DEBUG"):
            raise
        _err(
            f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "Tip: LUNA_DEBUG=1 shows the traceback"
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
