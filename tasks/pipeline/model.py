"""What one `test_service` run produced: an outcome per stage and the load verdict.

A stage is `passed`, `warning` (it ran, but what it did is not what was asked: discovery
found no API, so only pages were load tested; it does not fail the run but the table,
report and CLI say it), `failed` (it ran and found a problem: an SLO crossed, a failing
test, a budget missed), `error` (it could not run: a dead target, a broken spec) or
`skipped` (switched off, or nothing to do, with the reason). The pipeline passes when no
stage failed or errored.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from luna.errors import ConfigError, PipelineFailed
from luna.text import printable
from luna.urls import UrlRejected, web_target
from luna.verdict import Verdict, VerdictStatus

StageName = Literal["discover", "generate", "load", "lighthouse", "visual_qa", "report", "notify"]
StageStatus = Literal["passed", "warning", "failed", "error", "skipped"]
STAGES: tuple[StageName, ...] = ("discover", "generate", "load", "lighthouse", "visual_qa", "report", "notify")


# A stage figure, as the report's stage table shows it: a value, or a list of names.
Figure = str | int | float | bool | list[str] | None


class StageOutcome(BaseModel):
    name: StageName
    status: StageStatus
    reason: str = Field("", description="One line: why it failed, errored or was skipped, or what it found.")
    seconds: float | None = None
    details: dict[str, Figure] = Field(
        default_factory=dict,
        description="Stage figures for the report, by name (`warnings`: the stage's warnings, listed apart).",
    )

    @field_validator("details", mode="before")
    @classmethod
    def _flat_figures(cls, value: Any) -> Any:
        """A pipeline.json of before 2026-12-05 held the generated tests per kind as an
        object ({"api": 12}): read as the figure written now ("api 12")."""
        if not isinstance(value, dict):
            return value
        return {k: ", ".join(f"{a} {b}" for a, b in v.items()) if isinstance(v, dict) else v for k, v in value.items()}

    links: dict[str, str] = Field(default_factory=dict, description="Files and URLs the stage produced.")


class SLOFailure(BaseModel):
    endpoint: str = Field(description="Endpoint name, or 'overall'.")
    slo: str
    value: float | None
    target: float
    op: str

    def fmt(self, v: float | None) -> str:
        if v is None:
            return "no data"
        if self.slo in ("error_rate", "check_pass_rate"):
            return f"{v * 100:.2f}%"
        return f"{v:.0f} ms" if self.slo == "p95_ms" else f"{v:.2f}"

    def line(self) -> str:
        return f"SLO {self.slo} on {self.endpoint}: {self.fmt(self.value)} (target {self.op} {self.fmt(self.target)})"


class PipelineResult(BaseModel):
    pipeline_id: str
    target: str
    profile: str
    service: str | None = None
    commit: str | None = None
    environment: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    stages: list[StageOutcome] = Field(default_factory=list)
    run_id: str | None = Field(None, description="The load run's id, when the load stage ran.")
    verdict: Verdict | None = Field(None, description="The load run's verdict.")
    slo_failures: list[SLOFailure] = Field(default_factory=list)
    out_dir: str

    @property
    def passed(self) -> bool:
        return all(s.status in ("passed", "warning", "skipped") for s in self.stages)

    @property
    def status(self) -> VerdictStatus:
        return "pass" if self.passed else "fail"

    def stage(self, name: StageName) -> StageOutcome | None:
        return next((s for s in self.stages if s.name == name), None)

    def problems(self) -> list[str]:
        """One line per failed or errored stage; a failed load stage is told as its crossed SLOs."""
        lines = [
            f"{s.name} {s.status}: {s.reason}"
            for s in self.stages
            if s.status in ("failed", "error") and not (s.name == "load" and s.status == "failed" and self.slo_failures)
        ]
        return lines + [f.line() for f in self.slo_failures]

    def assert_success(self) -> PipelineResult:
        """Return self when every stage passed or was skipped; else raise PipelineFailed,
        whose message lists the failing stages and SLOs."""
        if not self.passed:
            raise PipelineFailed(self)
        return self

    def write(self) -> Path:
        path = Path(self.out_dir) / "pipeline.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    def event_result(self) -> dict[str, Any]:
        """The pipeline as the `result` of a notify event (tasks/notify/payloads.py)."""
        return {
            "run_id": self.run_id or self.pipeline_id,
            "service": self.service,
            "profile": self.profile,
            "target": self.target,
            "status": "passed" if self.passed else "failed",
            "message": "; ".join(self.problems())[:500],
            "started_at": self.started_at.isoformat(),
        }

    def event_links(self) -> dict[str, str]:
        return {"pipeline_report": str(Path(self.out_dir) / "report.html")}

    @classmethod
    def read(cls, out_dir: Path) -> PipelineResult:
        return cls.model_validate(json.loads((out_dir / "pipeline.json").read_text(encoding="utf-8")))


def slo_failures(verdict: Verdict | None) -> list[SLOFailure]:
    """Crossed SLOs from a verdict, overall first."""
    if verdict is None:
        return []
    failures = [
        SLOFailure(endpoint="overall", slo=c.slo, value=c.value, target=c.target, op=c.op)
        for c in verdict.overall
        if not c.ok
    ]
    for endpoint in verdict.endpoints:
        if endpoint.state == "not_exercised":  # named in the verdict's reason, not an SLO failure
            continue
        failures += [
            SLOFailure(endpoint=endpoint.name, slo=c.slo, value=c.value, target=c.target, op=c.op)
            for c in endpoint.checks
            if not c.ok
        ]
    return failures


def check_target(target: str) -> str:
    try:
        return web_target(target)
    except UrlRejected as exc:
        raise ConfigError(
            f"target {printable(target)[:100]!r} is not a usable http(s) URL: {exc}",
            location="target",
            tip="pass e.g. http://127.0.0.1:8787",
        ) from None
