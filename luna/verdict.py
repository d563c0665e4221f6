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
    """One metric of one endpoint against the baseline. `noise` is the smallest change this
    pair of runs can tell from chance; `regression`/`improvement` need more than that."""

    metric: Literal["p95_ms", "error_rate", "rps"]
    baseline: float | None
    current: float | None
    change: float | None
    change_pct: float | None
    noise: float | None
    regression: bool = False
    improvement: bool = False


class EndpointComparison(BaseModel):
    name: str
    deltas: list[Delta]

    @property
    def regression(self) -> bool:
        return any(d.regression for d in self.deltas)


class Comparison(BaseModel):
    baseline_run_id: str
    baseline_started_at: datetime | None = None
    pinned: bool = False
    endpoints: list[EndpointComparison]
    regressions: list[str] = Field(default_factory=list, description="'endpoint: metric' that regressed.")


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
