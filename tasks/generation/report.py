"""Rows and markdown for a suite run (and a generated suite), with every value escaped:
test names and messages come from the service and from the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luna.markdown import md
from tasks.generation.results import SuiteRun


def table_rows(run: SuiteRun) -> list[dict[str, Any]]:
    """The table artifact: one row per test."""
    return [
        {
            "test": c.test,
            "kind": c.kind,
            "outcome": c.outcome,
            "duration_s": round(c.duration_s, 3),
            "message": c.message,
        }
        for c in run.cases
    ]


def summary_markdown(run: SuiteRun, limit: int = 50) -> str:
    lines = [f"# {md(run.headline())}", "", f"Service {md(run.service)}, target `{md(run.base_url)}`.", ""]
    lines += ["| kind | passed | failed | error | skipped |", "|---|---:|---:|---:|---:|"]
    for kind in run.kinds:
        counts = [
            sum(1 for c in run.cases if c.kind == kind and c.outcome == o)
            for o in ("passed", "failed", "error", "skipped")
        ]
        lines.append(f"| {kind} | " + " | ".join(str(n) for n in counts) + " |")
    bad = [c for c in run.cases if c.outcome in ("failed", "error")]
    if bad:
        lines += ["", "## Failures", "", "| test | outcome | message |", "|---|---|---|"]
        lines += [f"| {md(c.test)} | {c.outcome} | {md(c.message)} |" for c in bad[:limit]]
        if len(bad) > limit:
            lines.append(f"\n{len(bad) - limit} more in the table artifact.")
    lines += ["", f"Suite folder: `{md(run.suite_dir)}`"]
    return "\n".join(lines) + "\n"


def generated_markdown(suite_dir: Path, manifest: dict[str, Any], warnings: list[str]) -> str:
    lines = [
        f"# Suite {md(manifest['slug'])} generated",
        "",
        f"- service: {md(manifest['service'])}",
        f"- folder: `{md(suite_dir)}`",
        f"- target: `{md(manifest['base_url'])}`",
        f"- sources: {md(', '.join(manifest['sources']))}",
        f"- parts: {md(', '.join(manifest['kinds']))}",
        f"- tests: {md(', '.join(f'{k} {v}' for k, v in manifest['tests'].items()))}",
    ]
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {md(w)}" for w in warnings]
    return "\n".join(lines) + "\n"
