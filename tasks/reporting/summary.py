"""The verdict box of a report, for any number of failures: one lead sentence, the few
worst offenders by how far they miss their target, the rest grouped by the SLO they miss,
and the run-level reasons. Built from the verdict's structure (never from the joined
`Verdict.reason` text or k6's raw threshold list, which stay in the details), so the
markdown artifact and the HTML report say the same thing in the same order."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from luna.results import EndpointStats, RunResult
from luna.verdict import EndpointVerdict, SLOCheck, Verdict
from tasks.evaluation.slo import CHECKS_FIX, NOT_EXERCISED_FIX
from tasks.reporting.view import PERCENT_SLOS, SLO_LABELS, slo_target, slo_value

WORST = 5  # offenders named in full
NAMES = 6  # names listed per group of the rest


@dataclass(frozen=True)
class Miss:
    """One SLO an endpoint (or all endpoints together) missed, and by how far."""

    label: str
    value: str
    target: str
    how_far: str
    severity: float  # relative distance past the target: 0.5 = 50 % past it
    detail: str = ""  # e.g. which checks failed

    @property
    def text(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.label} {self.value}, target {self.target} ({self.how_far}){detail}"


@dataclass(frozen=True)
class Offender:
    endpoint: str
    group: str
    misses: list[Miss]

    @property
    def severity(self) -> float:
        return max(m.severity for m in self.misses)


@dataclass(frozen=True)
class Group:
    label: str  # the SLO, e.g. "p95 latency"
    count: int
    names: list[str]  # the first NAMES of them, worst first

    @property
    def text(self) -> str:
        more = f" and {self.count - len(self.names)} more" if self.count > len(self.names) else ""
        return f"{self.label}: {self.count} ({', '.join(self.names)}{more})"


@dataclass
class Summary:
    lead: str
    overall: list[Miss] = field(default_factory=list)
    worst: list[Offender] = field(default_factory=list)
    rest: list[Group] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def miss(check: SLOCheck) -> Miss:
    value, target = check.value, check.target
    label = SLO_LABELS[check.slo]
    if value is None:
        return Miss(label, slo_value(check), slo_target(check), "not measured", math.inf)
    upper = check.op in ("<", "<=")
    gap = (value - target) if upper else (target - value)
    severity = gap / target if target else math.inf
    if check.slo in PERCENT_SLOS:
        how_far = f"{abs(gap) * 100:.2f} points {'over' if upper else 'under'}"
    elif check.slo == "apdex_score":
        how_far = f"{abs(gap):.2f} under"
    elif target and value / target >= 2:
        how_far = f"{value / target:.1f}× the target"
    else:
        how_far = f"{severity * 100:.0f}% over"
    return Miss(label, slo_value(check), slo_target(check), how_far, severity)


def _failing_checks(stats: EndpointStats | None) -> str:
    if stats is None:
        return ""
    named = [f"'{t.name}' failed {t.fails} of {t.passes + t.fails}" for t in stats.check_tallies if t.fails]
    return ", ".join(named[:NAMES]) + (f" and {len(named) - NAMES} more" if len(named) > NAMES else "")


def offenders(endpoints: list[EndpointVerdict], stats: dict[str, EndpointStats] | None = None) -> list[Offender]:
    """Failing endpoints, worst first (ties: catalog order)."""
    found = []
    for e in endpoints:
        if e.state != "fail":
            continue
        misses = []
        for c in e.checks:
            if not c.ok:
                m = miss(c)
                if c.slo == "check_pass_rate":
                    m = Miss(**{**m.__dict__, "detail": _failing_checks((stats or {}).get(e.name))})
                misses.append(m)
        if misses:
            found.append(Offender(e.name, e.group, sorted(misses, key=lambda m: -m.severity)))
    return sorted(found, key=lambda o: -o.severity)


def _group(rest: list[Offender]) -> list[Group]:
    by_label: dict[str, list[str]] = {}
    for o in rest:
        by_label.setdefault(o.misses[0].label, []).append(o.endpoint)  # grouped by its worst miss
    groups = [Group(label, len(names), names[:NAMES]) for label, names in by_label.items()]
    return sorted(groups, key=lambda g: -g.count)


def _notes(result: RunResult, verdict: Verdict) -> list[str]:
    notes = []
    total = result.total
    if result.status in ("error", "aborted"):
        notes.append("the run did not complete" + (f": {result.message}" if result.message else ""))
    if total is None:
        notes.append("k6 left no end-of-test summary: nothing was measured")
    elif total.requests == 0:
        failed = result.status == "failed" and result.message and not result.message.startswith("thresholds")
        notes.append(str(result.message) if failed else "no requests were made")
    elif total.failed_requests == total.requests:
        notes.append(f"every request failed ({total.requests:,} of {total.requests:,})")
    c = verdict.comparison
    if c is not None and c.regressions:
        shown = ", ".join(c.regressions[:NAMES]) + (
            f" and {len(c.regressions) - NAMES} more" if len(c.regressions) > NAMES else ""
        )
        against = (
            f"the median of {len(c.window_run_ids)} comparable runs"
            if c.window_run_ids and not c.pinned
            else f"baseline {c.baseline_run_id}"
        )
        notes.append(f"regressed against {against}: {shown}")
    idle = verdict.not_exercised
    if idle:
        more = f" and {len(idle) - NAMES} more" if len(idle) > NAMES else ""
        notes.append(f"not exercised (0 requests): {', '.join(idle[:NAMES])}{more}")
    return notes


def summarize(result: RunResult, verdict: Verdict) -> Summary:
    """The verdict box's content (see the module docstring)."""
    failing = offenders(verdict.endpoints, {e.name: e for e in result.endpoints})
    judged = sum(1 for e in verdict.endpoints if e.state != "not_exercised")
    overall = sorted((miss(c) for c in verdict.overall if not c.ok), key=lambda m: -m.severity)
    notes = _notes(result, verdict)
    if verdict.passed:
        lead = f"Every SLO held across {judged} endpoint{'s' if judged != 1 else ''}."
    elif failing:
        lead = f"{len(failing)} of {judged} endpoint{'s' if judged != 1 else ''} missed an SLO."
    elif overall:
        lead = "All endpoints together missed an SLO."
    else:
        lead = (notes[0][0].upper() + notes[0][1:] + ".") if notes else "The run failed."
        notes = notes[1:]
    fixes = [CHECKS_FIX] if any(m.label == SLO_LABELS["check_pass_rate"] for o in failing for m in o.misses) else []
    fixes += [NOT_EXERCISED_FIX] if verdict.not_exercised else []
    return Summary(
        lead=lead, overall=overall, worst=failing[:WORST], rest=_group(failing[WORST:]), notes=notes, fixes=fixes
    )
