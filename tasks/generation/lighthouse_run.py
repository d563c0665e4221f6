"""A generated suite's Lighthouse part: each page under each preset, with the suite's own
Lighthouse configs, through the audit stage's one launcher (tasks/audit/lighthouse.py
`audit_page`), judged with the audit stage's budget model; one case per budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luna.errors import SuiteRunError
from luna.masking import Masker
from tasks.audit.browser import DEBIAN_CHROMIUM, lighthouse_path, run_sync
from tasks.audit.model import PageAudit
from tasks.generation.results import CaseResult

LineSink = Callable[[str], None]


def check_budgets(lhr: dict[str, Any], budgets: dict[str, Any], preset: str = "mobile") -> list[tuple[str, str, str]]:
    """(budget, outcome, detail) per budget of a Lighthouse report, judged by the audit
    stage's model (tasks/audit/budgets.py, as `luna lighthouse` judges them)."""
    from tasks.audit.budgets import Budgets, evaluate
    from tasks.audit.lighthouse import parse_report

    page = parse_report(lhr, str(lhr.get("finalDisplayedUrl") or ""), "desktop" if preset == "desktop" else "mobile")
    page.budgets = evaluate(page, Budgets.from_suite(budgets))
    return budget_outcomes(page)


def budget_outcomes(page: PageAudit) -> list[tuple[str, str, str]]:
    """An audited page's budgets as suite outcomes: passed, failed, or skipped for a value
    Lighthouse did not measure."""
    outcomes = {"pass": "passed", "fail": "failed", "not_measured": "skipped"}
    return [
        (f"{b.name} {b.op} {b.limit:g}", outcomes[b.state], "not measured" if b.value is None else f"{b.value:g}")
        for b in page.budgets
    ]


def run_lighthouse_kind(
    suite_dir: Path,
    *,
    base_url: str,
    env: dict[str, str],
    out_dir: Path,
    on_line: LineSink,
    secrets: Masker,
    presets: tuple[str, ...] = ("desktop", "mobile"),
) -> tuple[list[CaseResult], Path]:
    """Each page of the suite under each preset, with the suite's Lighthouse configs, through
    the audit stage's launcher (tasks/audit/lighthouse.py `audit_page`: its timeout, and the
    whole process tree stopped, Chromium included); one case per budget."""
    from tasks.audit.budgets import Budgets
    from tasks.audit.lighthouse import audit_page

    index_file = suite_dir / "lighthouse" / "lighthouse.json"
    if not index_file.is_file():
        raise SuiteRunError(f"{suite_dir.name} has no Lighthouse config", location=str(index_file), tip="regenerate it")
    index = json.loads(index_file.read_text(encoding="utf-8"))
    chrome = env.get("LUNA_CHROMIUM") or env.get("CHROME_PATH") or str(DEBIAN_CHROMIUM)
    lighthouse_path()  # a missing Lighthouse is the suite's error, not a failed case per page
    cases: list[CaseResult] = []
    for n, page in enumerate(index.get("pages", [])):
        for preset in presets:
            url = base_url.rstrip("/") + page["path"]
            audit = run_sync(
                audit_page(
                    url,
                    "desktop" if preset == "desktop" else "mobile",
                    Budgets.from_suite(page.get("budgets", {})),
                    out_dir,
                    chrome,
                    lambda text: on_line(secrets(text)),
                    env=env,
                    config=suite_dir / "lighthouse" / f"{preset}.json",
                    name=f"lighthouse-{n}-{preset}",
                )
            )
            name = f"{page.get('name', page['path'])} [{preset}]"
            if audit.status == "error":
                why = secrets(audit.reason or "the audit failed")[:300]
                cases.append(CaseResult(test=f"{name}: audit", kind="lighthouse", outcome="failed", message=why))
                continue
            for budget, outcome, detail in budget_outcomes(audit):
                message = "" if outcome == "passed" else detail
                cases.append(
                    CaseResult(
                        test=f"{name}: {budget}",
                        kind="lighthouse",
                        outcome=outcome,
                        duration_s=audit.duration_s,
                        message=message,
                    )
                )
    return cases, out_dir
