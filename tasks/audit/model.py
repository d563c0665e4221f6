"""Typed results of a Lighthouse audit run (what the `lighthouse_audit` flow returns)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from luna.verdict import Judgement

Preset = Literal["desktop", "mobile"]
# Lighthouse category id -> our score name (0-100).
CATEGORIES = {
    "performance": "performance",
    "accessibility": "accessibility",
    "best-practices": "best_practices",
    "seo": "seo",
}
# Lighthouse audit id -> our metric name (milliseconds except CLS, which has no unit).
METRIC_AUDITS = {
    "largest-contentful-paint": "lcp_ms",
    "cumulative-layout-shift": "cls",
    "total-blocking-time": "tbt_ms",
    "interaction-to-next-paint": "inp_ms",
    "first-contentful-paint": "fcp_ms",
    "speed-index": "speed_index_ms",
    "server-response-time": "server_response_ms",
}


BudgetState = Literal["pass", "fail", "not_measured"]


class BudgetCheck(BaseModel):
    """One budget judged like an SLO: the value, the limit and whether it held. A value
    Lighthouse did not measure (INP in a navigation audit, a category that errored) is
    `not_measured`: not a pass (`passed` is False) and not a failure of the page."""

    name: str
    op: Literal[">=", "<="]
    limit: float
    value: float | None = None
    passed: bool
    state: BudgetState = "pass"
    note: str = ""

    @model_validator(mode="before")
    @classmethod
    def _state_of_older_checks(cls, data: Any) -> Any:
        """lighthouse.json files written before `state` existed: derive it."""
        if isinstance(data, dict) and "state" not in data:
            unmeasured = data.get("value") is None and data.get("note") == "not measured"
            state = "not_measured" if unmeasured else "pass" if data.get("passed") else "fail"
            data = {**data, "state": state, "passed": state == "pass"}
        return data


class PageAudit(BaseModel):
    """One URL under one preset. A page that could not be audited has status 'error' and
    the reason; it is a result, not an exception."""

    url: str
    preset: Preset
    status: Literal["ok", "error"]
    reason: str = ""
    scores: dict[str, float | None] = Field(default_factory=dict, description="0-100 per category.")
    metrics: dict[str, float | None] = Field(default_factory=dict, description="lcp_ms, cls, tbt_ms, inp_ms, ...")
    budgets: list[BudgetCheck] = Field(default_factory=list)
    report_json: str | None = None
    report_html: str | None = None
    lighthouse_version: str | None = None
    duration_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Audited, and no budget failed (an unmeasured one is named, not failed)."""
        return self.status == "ok" and not self.failed_budgets

    @property
    def failed_budgets(self) -> list[BudgetCheck]:
        return [b for b in self.budgets if b.state == "fail"]

    @property
    def unmeasured_budgets(self) -> list[BudgetCheck]:
        return [b for b in self.budgets if b.state == "not_measured"]


class LighthouseResult(BaseModel):
    """Every page of one audit run, with the run folder that keeps the reports."""

    run_id: str
    run_dir: str
    started_at: datetime
    finished_at: datetime
    pages: list[PageAudit]

    @property
    def passed(self) -> bool:
        return bool(self.pages) and all(p.passed for p in self.pages)

    @property
    def status(self) -> Judgement:
        if any(p.status == "error" for p in self.pages):
            return "error"
        return "pass" if self.passed else "fail"

    @property
    def reason(self) -> str:
        errors = [p for p in self.pages if p.status == "error"]
        failed = [p for p in self.pages if p.status == "ok" and not p.passed]
        parts = []
        if errors:
            parts.append(f"{len(errors)} of {len(self.pages)} audits could not run ({errors[0].reason[:120]})")
        if failed:
            names = sorted({b.name for p in failed for b in p.failed_budgets})
            parts.append(f"{len(failed)} of {len(self.pages)} audits crossed budgets: {', '.join(names)}")
        unmeasured = sorted({b.name for p in self.pages for b in p.unmeasured_budgets})
        note = f"; not measured (neither pass nor fail): {', '.join(unmeasured)}" if unmeasured else ""
        return ("; ".join(parts) or f"all {len(self.pages)} audits within budget") + note

    def write(self) -> Path:
        path = Path(self.run_dir) / "lighthouse.json"
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> LighthouseResult:
        return cls.model_validate_json((run_dir / "lighthouse.json").read_text(encoding="utf-8"))
