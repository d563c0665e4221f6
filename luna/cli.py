"""`luna`: the command line. Prefect is imported only by the commands that run a flow,
after the CLI has chosen which Prefect API to use, so `luna env`/`doctor` stay instant.

Exit codes: 0 passed, 1 a threshold or SLO crossed (or the run was aborted), 2 bad input,
configuration or a run that could not produce a result.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from luna.errors import LunaError, RunFailed
from luna.settings import load_settings

PROFILES = ("smoke", "ramp", "soak", "stress", "spike")

# Command groups that live in their own module. Each has `register(sub)`, which adds its
# sub-parsers with `set_defaults(handler=...)`; importing it must stay cheap (no Prefect).
COMMAND_MODULES = ("luna.cli_suites", "luna.cli_audit", "luna.cli_service", "luna.cli_pipeline")


def _err(text: str) -> None:
    print(f"luna: {text}", file=sys.stderr)


# ---- Prefect API selection -----------------------------------------------------------


def prefect_api(port: int) -> str | None:
    """The Prefect API this CLI will use: PREFECT_API_URL, else a server on the local port."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return configured
    os.environ.pop("PREFECT_API_URL", None)  # an empty value would confuse Prefect
    url = f"http://127.0.0.1:{port}/api"
    try:
        if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
            return url
    except httpx.HTTPError:
        pass
    return None


def use_prefect(port: int) -> None:
    api = prefect_api(port)
    if api:
        os.environ["PREFECT_API_URL"] = api
    else:
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        _err("no Prefect server running: using a temporary one (adds ~15 s; `luna up` starts a lasting one)")


def _quiet_k6_lines_on_console() -> None:
    """With a progress bar in the terminal, k6's own lines go to the Prefect run log only."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    class NoK6Lines(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not getattr(record, "luna_k6_line", False)

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
    from tasks.execution.plan import prepare_run

    params = build_params(args, profile)
    plan = prepare_run(params)  # fails fast on bad input, before Prefect starts
    params = params.model_copy(update={"run_id": plan.run_id})
    use_prefect(load_settings().luna_prefect_port)
    from flows.load_test import load_test
    from luna.verdict import Verdict

    if sys.stderr.isatty():
        _quiet_k6_lines_on_console()
    state = load_test(params, return_state=True)
    outcome: Any = state.result(raise_on_failure=False)
    if isinstance(outcome, RunFailed):
        result, verdict, code = outcome.result, outcome.verdict, outcome.exit_code
    elif isinstance(outcome, LunaError):
        raise outcome
    elif isinstance(outcome, BaseException):
        _err(f"the load_test flow failed: {outcome}")
        return 2
    else:
        result, verdict, code = outcome, Verdict.read(outcome.run_dir_path), 0
    print_result(result, verdict)
    return int(code)


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
            ("ok" if v.ok else "[red]FAIL[/]") if v else "-",
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
    use_prefect(load_settings().luna_prefect_port)
    from tasks.evaluation.history import read_history, total_of

    records = read_history(args.service, args.profile, limit=args.limit)
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
    from tasks.evaluation.compare import RunRecord, compare

    records = {}
    missing = []
    for run_id in (args.run_a, args.run_b):
        folder = load_settings().luna_out_dir / "runs" / run_id
        if (folder / "summary.json").is_file() and (folder / "verdict.json").is_file():
            from luna.results import RunResult
            from luna.verdict import Verdict

            records[run_id] = RunRecord.from_result(RunResult.read(folder), Verdict.read(folder).status)
        else:
            missing.append(run_id)
    if missing:
        use_prefect(load_settings().luna_prefect_port)
        from tasks.evaluation.history import read_history

        for record in read_history(None, limit=200):
            if record.run_id in missing:
                records[record.run_id] = record
    for run_id in (args.run_a, args.run_b):
        if run_id not in records:
            raise LunaError(
                f"run {run_id} not found in {load_settings().luna_out_dir}/runs nor in Prefect history",
                tip="`luna history SERVICE` lists the run ids",
            )
    comparison = compare(records[args.run_b], records[args.run_a], pinned=True)
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


# ---- demo, env, doctor, up/down ------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    if not args.run:
        from luna.demo import serve

        print(f"Luna demo API on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
        serve(port=args.port)
        return 0
    target = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-m", "luna.demo", "--port", str(args.port)])
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
    from tasks.discovery.model import DiscoveryLimits
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import write_endpoints_file
    from tasks.pipeline.model import check_target

    settings = load_settings()
    limits = DiscoveryLimits(max_bytes=settings.luna_discovery_max_bytes)
    found = [load_source(source, postman_environment=args.postman_env, limits=limits) for source in args.sources]
    target = args.target or (settings.base_url if "base_url" in settings.model_fields_set else None)
    data = write_endpoints_file(
        found,
        Path(args.out),
        service=args.service,
        include_destructive=args.include_destructive,
        overwrite=args.force,
        target=check_target(target) if target else None,
    )
    for d in found:
        print(
            f"{d.source}: {d.kind}, {len(d.endpoints)} endpoints" + (f", base URL {d.base_url}" if d.base_url else "")
        )
        for warning in d.warnings:
            print(f"  warning: {warning}")
    marked = sum(1 for e in data["endpoints"] if e.get("destructive"))
    if marked:
        print(
            f"marked {marked} destructive operations: load runs leave them out unless --include-destructive "
            "(or write them unmarked: luna discover --include-destructive)"
        )
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
    from luna.doctor import run_checks

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
    if prefect_api(port):
        print(f"Prefect server already running: http://127.0.0.1:{port}")
        return 0
    code = subprocess.call(
        [prefect, "server", "start", "--background", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    if code != 0:
        _err("prefect server did not start; see `prefect server start` output")
        return 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if prefect_api(port):
            print(
                f"Prefect server running: UI http://127.0.0.1:{port}  (luna commands now use it; `luna down` stops it)"
            )
            return 0
        time.sleep(0.5)
    _err("prefect server did not answer within 60 s")
    return 2


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
    sub.add_parser("up", help="start a local background Prefect server")
    sub.add_parser("down", help="stop it")
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
            "up": prefect_server,
            "down": prefect_server,
        }
        return int(handlers[args.command](args))
    except LunaError as exc:
        _err(exc.one_line())
        return exc.exit_code
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
