"""`luna gen-tests`, `luna run-tests NAME`, `luna gen-list`: generated test suites.

gen-tests and gen-list are plain functions (instant, no Prefect); run-tests runs the
`run_suite` flow (artifacts in Prefect) unless --no-prefect. Exit codes of run-tests:
0 every test passed, 1 a test failed, 2 the suite could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app import operations
from luna.errors import ConfigError

KIND_CHOICES = ("api", "ui", "k6", "lighthouse")


def register(sub: Any) -> None:
    g = sub.add_parser(
        "gen-tests",
        help="generate pytest API, Playwright UI, k6 and Lighthouse suites into suites/<service>/",
        description="Generate test suites from a live URL (its OpenAPI spec), an endpoints file and/or specs.",
    )
    source = g.add_mutually_exclusive_group()
    source.add_argument("--url", help="live service URL (reads URL or URL/openapi.json)")
    source.add_argument("--config", help="endpoints file to generate from")
    g.add_argument("--spec", action="append", default=[], help="spec file or URL for schemas and pages (repeatable)")
    g.add_argument("--service", help="service name (default: from the file or spec)")
    g.add_argument("--target", help="base URL the suite defaults to (default: the URL, or BASE_URL)")
    g.add_argument("--page", action="append", default=[], help="extra page path for the UI/Lighthouse suites")
    g.add_argument("--kind", action="append", choices=KIND_CHOICES, help="only these parts (repeatable)")
    g.add_argument("--suites-dir", help="folder of the suites (default: LUNA_SUITES_DIR or suites)")
    g.add_argument("--include-destructive", action="store_true", help="keep DELETE operations")
    g.set_defaults(handler=gen_tests)

    r = sub.add_parser("run-tests", help="run a generated suite (exit 1 when a test fails)")
    r.add_argument("name", help="suite name (see `luna gen-list`) or folder")
    r.add_argument("--kind", action="append", choices=KIND_CHOICES, help="parts to run (default: api and ui)")
    r.add_argument("--target", help="base URL to test (default: the one the suite was generated for)")
    r.add_argument("--suites-dir", help="folder of the suites (default: LUNA_SUITES_DIR or suites)")
    r.add_argument("--out", help="results folder (default: LUNA_OUT_DIR/suites/<suite>-<time>)")
    r.add_argument("--k6-duration", default="10s", help="how long the k6 part runs (default 10s)")
    r.add_argument("--k6-vus", type=int, default=1, help="virtual users per endpoint group in the k6 part (default 1)")
    r.add_argument("--preset", action="append", choices=("desktop", "mobile"), help="Lighthouse preset (default: both)")
    r.add_argument("--no-prefect", action="store_true", help="run without Prefect (no artifacts, instant start)")
    r.set_defaults(handler=run_tests)

    ls = sub.add_parser("gen-list", help="list the generated suites with their sources and dates")
    ls.add_argument("--suites-dir", help="folder of the suites (default: LUNA_SUITES_DIR or suites)")
    ls.set_defaults(handler=gen_list)


def suites_dir(args: argparse.Namespace) -> str:
    """--suites-dir, else the LUNA_SUITES_DIR setting (when this Luna has it), else suites."""
    if args.suites_dir:
        return str(args.suites_dir)
    from luna.settings import load_settings

    return str(load_settings().luna_suites_dir)


def gen_tests(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from tasks.generation.suites import GenerateParams

    try:
        params = GenerateParams(
            url=args.url,
            config=args.config,
            specs=args.spec,
            service=args.service,
            base_url=args.target,
            pages=args.page,
            kinds=args.kind or list(KIND_CHOICES),
            out_dir=suites_dir(args),
            include_destructive=args.include_destructive,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"].removeprefix("Value error, "), tip="see `luna gen-tests --help`") from None
    made = operations.generate(params)
    manifest = made.manifest
    assert manifest is not None
    tests = ", ".join(f"{n} {k} {'tests' if k == 'api' else 'pages'}" for k, n in manifest.tests.items())
    print(f"suite {manifest.slug}: {made.suite_dir} ({', '.join(manifest.kinds)}; {tests or 'no tests'})")
    print(
        f"  {len(made.written)} files written, {len(made.unchanged)} unchanged"
        + (f", {len(made.removed)} removed" if made.removed else "")
    )
    for warning in made.warnings:
        print(f"  warning: {warning}")
    print(f"run it: luna run-tests {manifest.slug}   (or: python -m pytest {made.suite_dir}/api)")
    return 0


def run_tests(args: argparse.Namespace) -> int:
    from tasks.generation.params import RunSuiteParams

    params = RunSuiteParams(
        name=args.name,
        kinds=args.kind,
        base_url=args.target,
        suites_dir=suites_dir(args),
        out_dir=args.out,
        k6_duration=args.k6_duration,
        k6_vus=args.k6_vus,
        lighthouse_presets=args.preset or ["desktop", "mobile"],
    )
    run = operations.run_suite(params, use_flow=not args.no_prefect)
    print_run(run)
    return 0 if run.passed else 1


def print_run(run: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=200)
    bad = [c for c in run.cases if c.outcome in ("failed", "error")]
    if bad:
        table = Table(title=f"failures of {run.suite}")
        for column in ("test", "kind", "outcome", "message"):
            table.add_column(column, overflow="fold")
        for c in bad:
            table.add_row(escape(c.test), c.kind, f"[red]{c.outcome}[/]", escape(c.message))
        console.print(table)
    color = "green" if run.passed else "red"
    console.print(f"[bold {color}]{escape(run.headline())}[/]", soft_wrap=True)
    print(f"results: {run.out_dir}  (junit.xml: every part, for CI test reports)")


def gen_list(args: argparse.Namespace) -> int:
    from tasks.generation.suites import list_suites

    root = Path(suites_dir(args))
    found = list_suites(root)
    if not found:
        print(f"no suites in {root}/ (generate one with `luna gen-tests --url URL`)")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"suites in {root}/")
    for column in ("name", "service", "parts", "tests", "generated (UTC)", "sources"):
        table.add_column(column, overflow="fold")
    for folder, manifest, problem in found:
        if manifest is None:
            table.add_row(escape(folder.name), "-", "-", "-", "-", f"[red]{escape(problem or '')}[/]")
            continue
        table.add_row(
            escape(folder.name),
            escape(manifest.service),
            ", ".join(manifest.kinds),
            ", ".join(f"{k} {v}" for k, v in manifest.tests.items()),
            f"{manifest.generated_at:%Y-%m-%d %H:%M:%S}",
            escape(", ".join(manifest.sources)),
        )
    (Console() if sys.stdout.isatty() else Console(width=200)).print(table)
    return 0
