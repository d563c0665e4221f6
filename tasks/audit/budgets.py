"""Budgets: Lighthouse numbers judged like SLOs, each a pass/fail with its value.

Scores are minimums (0-100), metrics are maximums. The defaults are Lighthouse's "good"
band (a green score is 90 or more) and the Core Web Vitals "good" thresholds (LCP 2.5 s,
CLS 0.1, INP 200 ms) with Lighthouse's TBT "good" limit (200 ms) standing in for INP in a
navigation audit, where no interaction happens. A value Lighthouse could not measure is
`not_measured`: reported as such, neither a pass nor a failure. `null` switches a budget off.

One model for `luna lighthouse` and the generated Lighthouse suite: the suite's
`lighthouse.json` stores each page's Budgets (the defaults, with performance, LCP and server
response time from the page's SLOs), and its runner judges them with `evaluate` below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from luna.errors import ConfigError, did_you_mean
from tasks.audit.model import BudgetCheck, PageAudit

SCORE_BUDGETS = ("performance", "accessibility", "best_practices", "seo")
METRIC_BUDGETS = ("lcp_ms", "cls", "tbt_ms", "inp_ms", "fcp_ms", "server_response_ms")


class Budgets(BaseModel):
    """Thresholds for one audit run. Scores: minimum 0-100; metrics: maximum."""

    model_config = ConfigDict(extra="forbid")

    performance: float | None = Field(90, ge=0, le=100, description="Minimum performance score (0-100).")
    accessibility: float | None = Field(90, ge=0, le=100, description="Minimum accessibility score (0-100).")
    best_practices: float | None = Field(90, ge=0, le=100, description="Minimum best-practices score (0-100).")
    seo: float | None = Field(90, ge=0, le=100, description="Minimum SEO score (0-100).")
    lcp_ms: float | None = Field(2500, gt=0, description="Maximum Largest Contentful Paint, ms.")
    cls: float | None = Field(0.1, ge=0, description="Maximum Cumulative Layout Shift.")
    tbt_ms: float | None = Field(200, ge=0, description="Maximum Total Blocking Time, ms.")
    inp_ms: float | None = Field(200, gt=0, description="Maximum Interaction to Next Paint, ms (when measured).")
    fcp_ms: float | None = Field(None, gt=0, description="Maximum First Contentful Paint, ms.")
    server_response_ms: float | None = Field(
        None, gt=0, description="Maximum server response time of the document (Lighthouse server-response-time), ms."
    )

    @classmethod
    def from_suite(cls, data: dict[str, Any], where: str = "lighthouse.json") -> Budgets:
        """A generated suite's page budgets; suites written before the shared model used
        Lighthouse ids (`categories:performance` as 0-1, audit ids in ms): translated."""
        legacy = {k: v for k, v in data.items() if ":" in k or "-" in k}
        if not legacy:
            return cls.parse(data, where)
        from tasks.audit.model import CATEGORIES, METRIC_AUDITS

        out: dict[str, Any] = {k: v for k, v in data.items() if k not in legacy}
        for key, value in legacy.items():
            if key.startswith("categories:") and key.split(":", 1)[1] in CATEGORIES:
                out[CATEGORIES[key.split(":", 1)[1]]] = None if value is None else float(value) * 100
            elif key in METRIC_AUDITS:
                out[METRIC_AUDITS[key]] = value
            else:
                out[key] = value  # parse() names it and the nearest valid budget
        return cls.parse(out, where)

    @classmethod
    def parse(cls, data: dict[str, Any], where: str = "budgets") -> Budgets:
        """Budgets from a mapping, or a ConfigError naming the key and the nearest valid one."""
        if not isinstance(data, dict):
            raise ConfigError("budgets must be a JSON object of name -> number", location=where)
        for key in data:
            if key not in cls.model_fields:
                raise ConfigError(
                    f"unknown budget {key!r}",
                    location=where,
                    tip=did_you_mean(key, cls.model_fields) or f"valid budgets: {', '.join(cls.model_fields)}",
                )
        try:
            return cls(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"budget {name}: {err['msg']} (got {err.get('input')!r})",
                location=where,
                tip=cls.model_fields[name].description if name in cls.model_fields else None,
            ) from None

    @classmethod
    def from_file(cls, path: Path) -> Budgets:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"budgets file {path} not found", tip="pass an existing JSON file to --budgets") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"budgets file is not JSON: {exc.msg}", location=f"{path}:{exc.lineno}", tip="fix the JSON syntax"
            ) from None
        return cls.parse(data, where=str(path))


def evaluate(page: PageAudit, budgets: Budgets) -> list[BudgetCheck]:
    """Each enabled budget as a check. An unmeasured value is `not_measured` (not a pass)."""
    checks = []
    for name in SCORE_BUDGETS + METRIC_BUDGETS:
        limit = getattr(budgets, name)
        if limit is None:
            continue
        is_score = name in SCORE_BUDGETS
        value = page.scores.get(name) if is_score else page.metrics.get(name)
        op = ">=" if is_score else "<="
        if value is None:
            checks.append(
                BudgetCheck(name=name, op=op, limit=limit, passed=False, state="not_measured", note="not measured")
            )
            continue
        passed = value >= limit if is_score else value <= limit
        state = "pass" if passed else "fail"
        checks.append(BudgetCheck(name=name, op=op, limit=limit, value=value, passed=passed, state=state))
    return checks
