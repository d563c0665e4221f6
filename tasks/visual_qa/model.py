"""Typed results of a visual-QA run (what the `visual_qa` flow returns)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from luna.verdict import Judgement

Severity = Literal["critical", "high", "medium", "low", "info"]
FailOn = Literal["critical", "high", "medium", "low", "info", "never"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
PROBE = "probes"  # the `source` of findings from the deterministic probes


class Finding(BaseModel):
    """One problem: who found it, how bad it is, where, and what to do."""

    source: str = Field(description="Persona id, or 'probes' for the deterministic checks.")
    severity: Severity
    category: str
    description: str
    location: str = ""
    suggestion: str = ""
    viewport: str = ""


class Capture(BaseModel):
    """Screenshots of the page at one viewport (paths relative to the run folder)."""

    viewport: str
    width: int
    height: int
    full: str
    fold: str
    page_height: int
    cropped: bool = False
    user_agent: str = ""


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float | None = 0.0

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cost_usd=None if cost is None else round(cost, 6),
        )


class PersonaOutcome(BaseModel):
    """What one persona's model call gave: findings, or why not (skipped / error)."""

    persona: str
    name: str
    viewport: str
    status: Literal["ok", "skipped", "error"]
    error: str = ""
    findings: list[Finding] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    retries: int = 0
    duration_s: float = 0.0


class PageProbe(BaseModel):
    """What the page load itself showed (console, network) and the probe findings."""

    findings: list[Finding] = Field(default_factory=list)
    console_errors: list[str] = Field(default_factory=list)
    failed_requests: list[str] = Field(default_factory=list)
    axe_violations: int = 0
    load_error: str = ""


class VisualQAResult(BaseModel):
    run_id: str
    run_dir: str
    url: str
    model: str
    started_at: datetime
    finished_at: datetime
    ai_note: str = Field("", description="Why the AI personas were skipped, when they were.")
    captures: list[Capture] = Field(default_factory=list)
    probe: PageProbe = Field(default_factory=PageProbe)
    personas: list[PersonaOutcome] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    fail_on: FailOn = Field(
        "high", description="Findings of this severity or worse fail the run (LUNA_VQA_FAIL_ON); never = none do."
    )

    @property
    def blocking(self) -> list[Finding]:
        """The findings that fail the run: severity `fail_on` or worse (docs/AUDITS.md)."""
        if self.fail_on == "never":
            return []
        limit = SEVERITIES.index(self.fail_on)
        return [f for f in self.findings if SEVERITIES.index(f.severity) <= limit]

    @property
    def passed(self) -> bool:
        """The page loaded and no finding is at or above `fail_on`."""
        return not self.probe.load_error and not self.blocking

    @property
    def findings(self) -> list[Finding]:
        out = list(self.probe.findings)
        for p in self.personas:
            out.extend(p.findings)
        return out

    def counts(self) -> dict[str, int]:
        counted = Counter(f.severity for f in self.findings)
        return {s: counted.get(s, 0) for s in SEVERITIES}

    @property
    def status(self) -> Literal["clean", "findings", "error"]:
        if self.probe.load_error:
            return "error"
        return "findings" if self.findings else "clean"

    @property
    def verdict(self) -> Judgement:
        return "error" if self.probe.load_error else "pass" if self.passed else "fail"

    def verdict_line(self) -> str:
        """The summary line, led by why the run fails when it does."""
        if self.blocking:
            n = len(self.blocking)
            return (
                f"FAIL: {n} finding{'s' if n != 1 else ''} at {self.fail_on} severity or worse; {self.summary_line()}"
            )
        return self.summary_line()

    def summary_line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        asked = [p for p in self.personas if p.status != "skipped"]
        failed = [p for p in asked if p.status == "error"]
        text = f"{len(self.findings)} findings" + (f" ({counts})" if counts else "")
        text += f"; {len(asked) - len(failed)}/{len(asked)} personas answered" if asked else ""
        if self.ai_note:
            text += f"; {self.ai_note}"
        if self.probe.load_error:
            text = f"page did not load: {self.probe.load_error}"
        return text

    def write(self) -> Path:
        path = Path(self.run_dir) / "vqa.json"
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> VisualQAResult:
        return cls.model_validate_json((run_dir / "vqa.json").read_text(encoding="utf-8"))
