"""`luna lighthouse`, `luna vqa`, `vqa-list`, `vqa-show`, `vqa-agents`: the audit commands.

Importing this module is cheap: Prefect, Playwright and the SDK load inside the handlers.
Exit codes: 0 passed, 1 a budget was crossed (lighthouse), a finding at LUNA_VQA_FAIL_ON
severity or worse (vqa, default high), or a page could not be audited / loaded, 2 bad input.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from app import operations
from luna.settings import load_settings


def register(sub: Any) -> None:
    lh = sub.add_parser("lighthouse", help="Lighthouse audit of one or more pages, judged against budgets")
    lh.add_argument("urls", nargs="+", metavar="URL", help="pages to audit (full http(s) URLs)")
    lh.add_argument("--preset", choices=("desktop", "mobile", "both"), default="desktop")
    lh.add_argument("--budgets", type=Path, help='JSON file of budgets, e.g. {"performance": 80, "lcp_ms": 3000}')
    lh.add_argument("--run-id", help="run id (default: generated)")
    lh.set_defaults(handler=lighthouse)

    vqa = sub.add_parser("vqa", help="visual QA of a page: probes, plus AI personas when VISUAL_QA_AI_KEY is set")
    vqa.add_argument("--url", required=True, help="page to review")
    vqa.add_argument("--agents", help="comma-separated persona ids (default: all; see `luna vqa-agents`)")
    vqa.add_argument("--run-id", help="run id (default: generated)")
    vqa.set_defaults(handler=visual_qa)

    sub.add_parser("vqa-list", help="past visual-QA runs in the out folder").set_defaults(handler=vqa_list)
    show = sub.add_parser("vqa-show", help="findings of one visual-QA run")
    show.add_argument("run_id", metavar="RUN")
    show.set_defaults(handler=vqa_show)
    sub.add_parser("vqa-agents", help="the visual-QA personas").set_defaults(handler=vqa_agents)


def _console() -> Any:
    from app.cli.main import _console as console

    return console()


def _table(title: str, rows: list[dict[str, str]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0] if rows else []:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    return table


# ---- lighthouse --------------------------------------------------------------------


def lighthouse(args: argparse.Namespace) -> int:
    from tasks.audit.budgets import Budgets
    from tasks.audit.params import LighthouseParams
    from tasks.audit.report import page_rows

    budgets = Budgets.from_file(args.budgets) if args.budgets else Budgets()
    params = LighthouseParams(urls=args.urls, preset=args.preset, budgets=budgets, run_id=args.run_id)
    result = operations.lighthouse(params)
    console = _console()
    console.print(_table(f"Lighthouse {result.run_id}", page_rows(result)))
    color = "green" if result.passed else "red"
    console.print(f"[bold {color}]{result.status.upper()}[/]: {result.reason}", soft_wrap=True)
    print(f"reports: {result.run_dir}")
    return 0 if result.passed else 1


# ---- visual QA ---------------------------------------------------------------------


def visual_qa(args: argparse.Namespace) -> int:
    agents = [a for a in re.split(r"[,\s]+", args.agents or "") if a]
    result = operations.visual_qa(args.url, agents, args.run_id)
    _print_run(result)
    return 0 if result.passed else 1


def _print_run(result: Any) -> None:
    from tasks.visual_qa.model import SEVERITIES
    from tasks.visual_qa.report import persona_rows

    console = _console()
    rows = []
    for severity in SEVERITIES:
        for f in result.findings:
            if f.severity == severity:
                rows.append(
                    {
                        "severity": f.severity,
                        "source": f.source,
                        "category": f.category,
                        "viewport": f.viewport,
                        "description": f.description[:160],
                        "location": f.location[:80],
                    }
                )
    if rows:
        console.print(_table(f"Findings of {result.run_id}", rows))
    asked = [r for r in persona_rows(result) if r["status"] != "skipped"]
    if len(asked) > 1:
        console.print(_table("Personas", asked))
    console.print(result.summary_line(), soft_wrap=True)
    cost = result.usage.cost_usd
    if result.usage.input_tokens:
        console.print(
            f"tokens: {result.usage.input_tokens} in, {result.usage.output_tokens} out; "
            + ("cost unknown (model not in the price table)" if cost is None else f"cost ${cost:.4f}")
        )
    print(f"report: {Path(result.run_dir) / 'report.md'}")


def vqa_list(_: argparse.Namespace) -> int:
    from tasks.visual_qa.run import list_runs

    runs = list_runs(load_settings())
    if not runs:
        print(f"no visual-QA runs in {load_settings().luna_out_dir / 'vqa'}")
        return 0
    rows = []
    for r in runs:
        counts = r.counts()
        rows.append(
            {
                "run id": r.run_id,
                "started (UTC)": f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                "url": r.url,
                "findings": str(len(r.findings)),
                "critical/high": f"{counts['critical']}/{counts['high']}",
                "personas": str(sum(1 for p in r.personas if p.status == "ok")),
                "cost": "–" if r.usage.cost_usd is None else f"${r.usage.cost_usd:.4f}",
            }
        )
    _console().print(_table("visual-QA runs", rows))
    return 0


def vqa_show(args: argparse.Namespace) -> int:
    from tasks.visual_qa.run import read_run

    _print_run(read_run(load_settings(), args.run_id))
    return 0


def vqa_agents(_: argparse.Namespace) -> int:
    from tasks.visual_qa.personas import PERSONAS_FILE, load_personas

    personas = load_personas()
    rows = [{"id": p.id, "name": p.name, "viewport": p.viewport, "focus": p.focus} for p in personas]
    _console().print(_table(f"{len(personas)} visual-QA personas ({PERSONAS_FILE.name})", rows))
    return 0
