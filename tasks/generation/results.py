"""What a suite run produced: one row per test (test, part, outcome, duration, message),
the run as a whole, and JUnit XML in both directions (pytest's files in, one combined
file out for CI test reports)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from defusedxml import ElementTree
from pydantic import BaseModel, Field

from luna.errors import SuiteFailed  # noqa: F401  (its home is luna/errors.py; re-exported for old imports)
from tasks.generation.model import SuiteKind

Outcome = Literal["passed", "failed", "error", "skipped"]
MESSAGE_LIMIT = 500


class CaseResult(BaseModel):
    test: str
    kind: SuiteKind
    outcome: Outcome
    duration_s: float = 0.0
    message: str = ""


class SuiteRun(BaseModel):
    """What one run of a suite produced."""

    suite: str
    service: str
    suite_dir: str
    out_dir: str = ""
    base_url: str
    kinds: list[SuiteKind]
    started_at: datetime
    duration_s: float = 0.0
    cases: list[CaseResult] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict, description="kind -> JUnit XML / summary file.")

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    @property
    def passed(self) -> bool:
        return self.count("failed") == 0 and self.count("error") == 0

    def headline(self) -> str:
        outcomes: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")
        parts = [f"{self.count(o)} {o}" for o in outcomes if self.count(o)]
        verdict = "PASSED" if self.passed else "FAILED"
        return f"{verdict}: {self.suite} ({', '.join(parts) or 'no tests'}) in {self.duration_s:.1f} s"


def parse_junit(path: Path, kind: SuiteKind) -> list[CaseResult]:
    """Rows from a JUnit XML file (pytest's xunit2)."""
    root = ElementTree.parse(path).getroot()
    cases: list[CaseResult] = []
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        test = f"{classname.rsplit('.', 1)[-1]}::{name}" if classname else name
        outcome: Outcome = "passed"
        message = ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]  # type: ignore[assignment]
                message = child.get("message") or (child.text or "").strip()
                break
        first = message.strip().splitlines()[0] if message.strip() else ""
        first = first.removeprefix("AssertionError: ").removeprefix("Failed: ")
        cases.append(
            CaseResult(
                test=test,
                kind=kind,
                outcome=outcome,
                duration_s=float(case.get("time") or 0),
                message=first[:MESSAGE_LIMIT],
            )
        )
    return cases


def write_junit(run: SuiteRun, path: Path) -> Path:
    """Every row of every part as one JUnit XML file (a testsuite per part), for CI test
    reports: k6 thresholds and checks and Lighthouse budgets included."""
    from xml.etree.ElementTree import Element, SubElement, tostring

    root = Element("testsuites", name=f"luna {run.suite}")
    for kind in run.kinds:
        cases = [c for c in run.cases if c.kind == kind]
        suite = SubElement(
            root,
            "testsuite",
            name=f"{run.suite}.{kind}",
            tests=str(len(cases)),
            failures=str(sum(c.outcome == "failed" for c in cases)),
            errors=str(sum(c.outcome == "error" for c in cases)),
            skipped=str(sum(c.outcome == "skipped" for c in cases)),
            time=f"{sum(c.duration_s for c in cases):.3f}",
        )
        for c in cases:
            module, _, name = c.test.rpartition("::")
            case = SubElement(suite, "testcase", classname=module or kind, name=name, time=f"{c.duration_s:.3f}")
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(c.outcome)
            if tag:
                SubElement(case, tag, message=c.message)
    path.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="utf-8"))
    return path
