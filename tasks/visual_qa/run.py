"""`run_visual_qa(url, agents, settings)`: capture, probe, ask the personas, report.

Run folders are `<LUNA_OUT_DIR>/vqa/<run-id>/` with `screens/*.png`, `vqa.json` (the
VisualQAResult) and `report.md`. Without VISUAL_QA_AI_KEY the probes still run and the
personas are skipped with one line saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from luna.errors import LunaError
from luna.settings import LunaSettings, load_settings
from tasks.audit.browser import new_run_dir, run_sync
from tasks.audit.lighthouse import check_url
from tasks.visual_qa.ai import ask_personas
from tasks.visual_qa.capture import capture_page
from tasks.visual_qa.model import Capture, PageProbe, PersonaOutcome, Usage, VisualQAResult
from tasks.visual_qa.personas import Persona, load_personas, select
from tasks.visual_qa.report import markdown_report

NO_KEY = "AI personas skipped: VISUAL_QA_AI_KEY is not set (the deterministic probes ran)"
Log = Callable[[str], None]


def has_key(settings: LunaSettings) -> bool:
    return settings.visual_qa_ai_key is not None and bool(settings.visual_qa_ai_key.get_secret_value())


def capture_step(
    url: str, personas: list[Persona], run_dir: Path, settings: LunaSettings
) -> tuple[list[Capture], PageProbe]:
    return run_sync(capture_page(check_url(url), {p.viewport for p in personas}, run_dir, settings))


def personas_step(
    personas: list[Persona], url: str, captures: list[Capture], run_dir: Path, settings: LunaSettings, log: Log
) -> tuple[list[PersonaOutcome], str]:
    """The personas' outcomes and a note when they were skipped as a whole."""
    if not personas:
        return [], ""
    if not has_key(settings):
        skipped = [
            PersonaOutcome(persona=p.id, name=p.name, viewport=p.viewport, status="skipped", error="no API key")
            for p in personas
        ]
        return skipped, NO_KEY
    if not captures:
        return [
            PersonaOutcome(
                persona=p.id, name=p.name, viewport=p.viewport, status="skipped", error="the page did not load"
            )
            for p in personas
        ], "AI personas skipped: the page did not load"
    return run_sync(ask_personas(personas, url, captures, run_dir, settings, log)), ""


def finish(
    run_dir: Path,
    url: str,
    settings: LunaSettings,
    started: datetime,
    captures: list[Capture],
    probe: PageProbe,
    outcomes: list[PersonaOutcome],
    note: str,
) -> VisualQAResult:
    total = Usage()
    for o in outcomes:
        total = total + o.usage
    result = VisualQAResult(
        run_id=run_dir.name,
        run_dir=str(run_dir),
        url=url,
        model=settings.visual_qa_ai_model,
        started_at=started,
        finished_at=datetime.now(UTC),
        ai_note=note,
        captures=captures,
        probe=probe,
        personas=outcomes,
        usage=total,
        fail_on=settings.luna_vqa_fail_on,
    )
    result.write()
    (run_dir / "report.md").write_text(markdown_report(result), encoding="utf-8")
    return result


def run_visual_qa(
    url: str,
    agents: str | list[str] | None = None,
    settings: LunaSettings | None = None,
    run_id: str | None = None,
    log: Log = lambda _: None,
) -> VisualQAResult:
    """Visual QA of one page: probes always, AI personas when VISUAL_QA_AI_KEY is set.
    `agents`: persona ids (list or comma-separated), None or 'all' for every persona."""
    settings = settings or load_settings()
    check_url(url)
    personas = select(load_personas(), agents)
    run_dir = new_run_dir(settings.luna_out_dir, "vqa", run_id)
    started = datetime.now(UTC)
    captures, probe = capture_step(url, personas, run_dir, settings)
    outcomes, note = personas_step(personas, url, captures, run_dir, settings, log)
    if note:
        log(note)
    return finish(run_dir, url, settings, started, captures, probe, outcomes, note)


def list_runs(settings: LunaSettings) -> list[VisualQAResult]:
    """Finished runs in `<LUNA_OUT_DIR>/vqa/`, newest first (unreadable folders are skipped)."""
    root = settings.luna_out_dir / "vqa"
    runs = []
    for folder in sorted(root.glob("*/"), reverse=True) if root.is_dir() else []:
        if (folder / "vqa.json").is_file():
            try:
                runs.append(VisualQAResult.read(folder))
            except ValueError:
                continue
    return runs


def read_run(settings: LunaSettings, run_id: str) -> VisualQAResult:
    folder = settings.luna_out_dir / "vqa" / run_id
    if not (folder / "vqa.json").is_file():
        raise LunaError(
            f"visual-QA run {run_id} not found in {settings.luna_out_dir / 'vqa'}", tip="`luna vqa-list` lists the runs"
        )
    return VisualQAResult.read(folder)
