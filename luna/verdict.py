"""The evaluation stage's output: SLO results per endpoint and overall, the comparison with
a baseline run, and one verdict. Written as `verdict.json` beside `summary.json`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

SLOName = Literal["p95_ms", "error_rate", "apdex_score", "check_pass_rate"]
EndpointState = Literal["ok", "fail", "not_exercised"]
# A run's outcome, the one vocabulary for it: the verdict, the pipeline, notify's RunEvent.
VerdictStatus = Literal["pass", "fail"]
# A judged check that may not have run (an audit, visual QA, an MCP load answer): a verdict, or error.
Judgement = Literal["pass", "fail", "error"]
# The three answers of a comparison (tasks/evaluation/baseline.py; docs/VERDICTS.md).
Outcome = Literal["ok", "regressed", "inconclusive"]


class SLOCheck(BaseModel):
    slo: SLOName
    value: float | None = Field(description="Measured value; None when nothing was measured.")
    target: float
    op: Literal["<", "<=", ">="]
    ok: bool


class EndpointVerdict(BaseModel):
    """One endpoint's SLOs. `state` is ok, fail, or not_exercised (no requests: nothing to
    judge; it fails the run only with fail_on_not_exercised). `ok` is False unless state is ok."""

    name: str
    group: str
    state: EndpointState = "ok"
    ok: bool
    requests: int
    apdex: float | None
    apdex_t_ms: float
    checks: list[SLOCheck]
    reason: str = ""

    @model_validator(mode="before")
    @classmethod
    def _state_of_older_verdicts(cls, data: Any) -> Any:
        """verdict.json files written before `state` existed: derive it."""
        if isinstance(data, dict) and "state" not in data and "ok" in data:
            idle = data.get("requests") == 0
            data = {**data, "state": "ok" if data["ok"] else "not_exercised" if idle else "fail"}
        return data


class Delta(BaseModel):
    """One metric of one endpoint against the baseline. `baseline` is the median of the
    comparable runs in the window (or the pinned run's value); `noise` is the smallest change
    this run can tell from chance (Z x the combined run-to-run and within-run error).
    `outcome` is ok, regressed or inconclusive, with the `reason` and what to do (`todo`)."""

    metric: Literal["p95_ms", "error_rate", "rps"]
    baseline: float | None
    current: float | None
    change: float | None
    change_pct: float | None
    noise: float | None
    regression: bool = False
    improvement: bool = False
    outcome: Outcome = "inconclusive"
    reason: str = ""
    todo: str = ""
    spread: float | None = Field(None, description="Run-to-run spread in the window (1.4826 x MAD).")
    within: float | None = Field(None, description="This run's own sampling error of the metric.")
    window: int = Field(0, description="Comparable runs the baseline was taken from.")
    samples: int = Field(0, description="Requests of this endpoint in this run.")

    @model_validator(mode="before")
    @classmethod
    def _outcome_of_older_verdicts(cls, data: Any) -> Any:
        """verdict.json files written before `outcome` existed (one baseline run): derive it."""
        if isinstance(data, dict) and "outcome" not in data and "regression" in data:
            older = "regressed" if data["regression"] else "ok" if data.get("change") is not None else "inconclusive"
            data = {**data, "outcome": older}
        return data


class EndpointComparison(BaseModel):
    name: str
    deltas: list[Delta]

    @property
    def regression(self) -> bool:
        return any(d.regression for d in self.deltas)


class ChangePoint(BaseModel):
    """A shift in a metric's history (E-divisive means with a t-test, Apache Otava)."""

    endpoint: str
    metric: Literal["p95_ms", "error_rate"]
    run_id: str = Field(description="The first run after the shift.")
    started_at: datetime | None = None
    before: float
    after: float
    change_pct: float | None
    pvalue: float


class TrendPoint(BaseModel):
    run_id: str
    started_at: datetime
    value: float | None


class Trend(BaseModel):
    """One endpoint's p95 over the comparable history (oldest first), this run last."""

    endpoint: str
    metric: Literal["p95_ms", "error_rate"] = "p95_ms"
    points: list[TrendPoint]
    change_points: list[ChangePoint] = Field(default_factory=list)


class Comparison(BaseModel):
    """This run against a baseline: a window of comparable past runs (median, MAD), or a
    pinned run. `outcome` is the run's: regressed if any metric regressed, else inconclusive
    if any was, else ok. `comparable` is False when the two sides cannot be compared at all
    (different endpoints, profile, VUs or rate): then `reason` says why and nothing is judged."""

    baseline_run_id: str
    baseline_started_at: datetime | None = None
    pinned: bool = False
    endpoints: list[EndpointComparison]
    regressions: list[str] = Field(default_factory=list, description="'endpoint: metric' that regressed.")
    outcome: Outcome = "inconclusive"
    reason: str = ""
    todo: str = ""
    comparable: bool = True
    window_run_ids: list[str] = Field(default_factory=list, description="The comparable runs of the baseline window.")
    skipped: dict[str, int] = Field(default_factory=dict, description="Past runs left out of the window, by reason.")
    inconclusive: list[str] = Field(default_factory=list, description="'endpoint: metric' that could not be judged.")
    generator_saturated: bool = False

    @model_validator(mode="before")
    @classmethod
    def _outcome_of_older_comparisons(cls, data: Any) -> Any:
        if isinstance(data, dict) and "outcome" not in data:
            data = {**data, "outcome": "regressed" if data.get("regressions") else "ok"}
        return data


class Verdict(BaseModel):
    run_id: str
    service: str | None
    profile: str
    status: VerdictStatus
    reason: str
    headline: str = Field(description="Short value for the badge, e.g. 'p95 123 ms'.")
    overall: list[SLOCheck]
    apdex: float | None
    endpoints: list[EndpointVerdict]
    comparison: Comparison | None = None
    baseline_note: str = ""
    not_exercised: list[str] = Field(
        default_factory=list, description="Endpoints that got no requests in this run (not judged)."
    )
    trends: list[Trend] = Field(default_factory=list, description="p95 over the comparable history, per endpoint.")
    change_points: list[ChangePoint] = Field(
        default_factory=list, description="Shifts found over the whole comparable history (Apache Otava)."
    )

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def write(self, run_dir: Path) -> Path:
        path = run_dir / "verdict.json"
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> Verdict:
        return cls.model_validate(json.loads((run_dir / "verdict.json").read_text(encoding="utf-8")))
