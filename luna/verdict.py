"""The evaluation stage's output: SLO results per endpoint and overall, the comparison with
a baseline run, and one verdict. Written as `verdict.json` beside `summary.json`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

SLOName = Literal["p95_ms", "error_rate", "apdex_score"]


class SLOCheck(BaseModel):
    slo: SLOName
    value: float | None = Field(description="Measured value; None when nothing was measured.")
    target: float
    op: Literal["<", "<=", ">="]
    ok: bool


class EndpointVerdict(BaseModel):
    name: str
    group: str
    ok: bool
    requests: int
    apdex: float | None
    apdex_t_ms: float
    checks: list[SLOCheck]
    reason: str = ""


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
    status: Literal["pass", "fail"]
    reason: str
    headline: str = Field(description="Short value for the badge, e.g. 'p95 123 ms'.")
    overall: list[SLOCheck]
    apdex: float | None
    endpoints: list[EndpointVerdict]
    comparison: Comparison | None = None
    baseline_note: str = ""

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
