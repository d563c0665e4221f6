"""The audit run as rows (table artifact, CLI) and as a markdown report."""

from __future__ import annotations

from pathlib import Path

from luna.markdown import md
from tasks.audit.model import LighthouseResult, PageAudit

SCORE_LABELS = {"performance": "Perf", "accessibility": "A11y", "best_practices": "Best pr.", "seo": "SEO"}
RESULT_TEXT = {"pass": "pass", "fail": "**FAIL**", "not_measured": "not measured"}
METRIC_LABELS = {"lcp_ms": "LCP ms", "cls": "CLS", "tbt_ms": "TBT ms", "inp_ms": "INP ms"}


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def verdict_text(page: PageAudit) -> str:
    if page.status == "error":
        return "error"
    unmeasured = ", ".join(b.name for b in page.unmeasured_budgets)
    note = f" ({unmeasured} not measured)" if unmeasured else ""
    return ("pass" if page.passed else "fail: " + ", ".join(b.name for b in page.failed_budgets)) + note


def page_rows(result: LighthouseResult) -> list[dict[str, str]]:
    """One row per page and preset (the table artifact and the CLI table)."""
    rows = []
    for p in result.pages:
        row = {"url": p.url, "preset": p.preset}
        for key, label in SCORE_LABELS.items():
            row[label] = _num(p.scores.get(key))
        for key, label in METRIC_LABELS.items():
            row[label] = _num(p.metrics.get(key), 3 if key == "cls" else 0)
        row["verdict"] = verdict_text(p)
        row["note"] = p.reason[:200]
        rows.append(row)
    return rows


def markdown_report(result: LighthouseResult) -> str:
    lines = [
        f"# Lighthouse audit {md(result.run_id)}: {result.status.upper()}",
        "",
        md(result.reason),
        "",
    ]
    rows = page_rows(result)
    if rows:
        head = list(rows[0])
        lines += ["| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(md(r[h]) for h in head) + " |" for r in rows]
    for p in result.pages:
        lines += ["", f"## {md(p.url)} ({p.preset})", ""]
        if p.status == "error":
            lines.append(f"Could not audit: {md(p.reason)}")
            continue
        lines += ["| budget | value | limit | result |", "|---|---|---|---|"]
        for b in p.budgets:
            value = b.note if b.value is None else f"{b.value:g}"
            lines.append(f"| {md(b.name)} | {md(value)} | {md(b.op)} {b.limit:g} | {RESULT_TEXT[b.state]} |")
        for w in p.warnings[:5]:
            lines.append(f"\n> warning: {md(w[:300])}")
        if p.report_html:
            lines.append(
                f"\nReports in the run folder: {md(Path(p.report_html).name)}, {md(Path(p.report_json or '').name)}"
            )
    lines += ["", f"Run folder: {md(result.run_dir)}"]
    return "\n".join(lines) + "\n"
