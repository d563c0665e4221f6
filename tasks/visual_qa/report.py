"""The visual-QA report: findings grouped by severity and then by persona, with the
screenshots linked from the run folder; and the rows of the table artifact."""

from __future__ import annotations

from collections import defaultdict

from luna.markdown import md
from tasks.visual_qa.model import PROBE, SEVERITIES, VisualQAResult


def _money(value: float | None) -> str:
    return "unknown (model not in the price table)" if value is None else f"${value:.4f}"


def persona_rows(result: VisualQAResult) -> list[dict[str, str]]:
    """One row per persona (the table artifact, `luna vqa-show`)."""
    rows = [
        {
            "persona": PROBE,
            "viewport": "desktop+mobile",
            "status": "error" if result.probe.load_error else "ok",
            "findings": str(len(result.probe.findings)),
            "tokens in/out": "–",
            "cost": "–",
            "note": result.probe.load_error,
        }
    ]
    for p in result.personas:
        rows.append(
            {
                "persona": p.persona,
                "viewport": p.viewport,
                "status": p.status,
                "findings": str(len(p.findings)),
                "tokens in/out": f"{p.usage.input_tokens}/{p.usage.output_tokens}" if p.status != "skipped" else "–",
                "cost": _money(p.usage.cost_usd) if p.status != "skipped" else "–",
                "note": " ".join(filter(None, [p.error, f"(after {p.retries} retries)" if p.retries else ""]))[:300],
            }
        )
    return rows


def markdown_report(result: VisualQAResult) -> str:
    names = {p.persona: p.name for p in result.personas} | {PROBE: "Deterministic probes"}
    counts = result.counts()
    lines = [
        f"# Visual QA of {md(result.url)}: {result.verdict.upper()}",
        "",
        md(result.verdict_line()),
        "",
        f"Findings of {result.fail_on} severity or worse fail the run (LUNA_VQA_FAIL_ON)."
        if result.fail_on != "never"
        else "Findings do not fail the run (LUNA_VQA_FAIL_ON=never).",
        "",
        "| " + " | ".join(SEVERITIES) + " |",
        "|" + "---|" * len(SEVERITIES),
        "| " + " | ".join(str(counts[s]) for s in SEVERITIES) + " |",
        "",
        f"Run {md(result.run_id)}, model {md(result.model)}, "
        f"{result.usage.input_tokens} input and {result.usage.output_tokens} output tokens, cost {md(_money(result.usage.cost_usd))}.",
    ]
    if result.captures:
        lines += ["", "## Screenshots", "", f"In {md(result.run_dir)} (the links are relative to that folder):", ""]
        for c in result.captures:
            lines.append(f"- {c.viewport} ({c.width}x{c.height}): [above the fold]({c.fold}), [full page]({c.full})")
    by_severity: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for f in result.findings:
        by_severity[f.severity][f.source].append(f)
    for severity in SEVERITIES:
        if severity not in by_severity:
            continue
        lines += ["", f"## {severity.capitalize()} ({counts[severity]})"]
        for source, findings in by_severity[severity].items():
            lines += ["", f"### {md(names.get(source, source))}", ""]
            for f in findings:
                where = f" at {md(f.location)}" if f.location else ""
                fix = f" Suggestion: {md(f.suggestion)}" if f.suggestion else ""
                lines.append(f"- **{md(f.category)}** ({f.viewport}){where}: {md(f.description)}.{fix}")
    problems = [p for p in result.personas if p.status != "ok"]
    if problems or result.ai_note:
        lines += ["", "## Personas without findings data", ""]
        if result.ai_note:
            lines.append(f"- {md(result.ai_note)}")
        for p in problems:
            lines.append(f"- {md(p.name)} ({p.status}): {md(p.error)}")
    lines += ["", "## Personas", "", "| persona | viewport | status | findings | tokens in/out | cost | note |"]
    lines.append("|---|---|---|---|---|---|---|")
    for row in persona_rows(result):
        lines.append("| " + " | ".join(md(v) for v in row.values()) + " |")
    return "\n".join(lines) + "\n"
