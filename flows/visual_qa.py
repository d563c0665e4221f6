"""Flow `visual_qa`: tester personas look at a page's screenshots through Claude, and the
deterministic probes (axe-core, console, network, images, overflow, labels) check it."""

from prefect import flow
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, Field

from luna.settings import load_settings
from tasks.visual_qa.model import VisualQAResult
from tasks.visual_qa.tasks import ask, capture, prepare, publish


class VisualQAParams(BaseModel):
    url: str = Field("http://127.0.0.1:8787/", description="Page to review (full http(s) URL).")
    agents: list[str] = Field(
        default_factory=list, max_length=100, description="Persona ids (`luna vqa-agents`); empty = all personas."
    )
    run_id: str | None = Field(None, description="Run id (default: generated).")


DEFAULTS = VisualQAParams()


@flow(name="visual_qa", log_prints=True)
def visual_qa(params: VisualQAParams = DEFAULTS) -> State[VisualQAResult]:
    """Capture the page once per viewport, run the probes, ask each persona, report.

    Completed with the VisualQAResult when no finding is at LUNA_VQA_FAIL_ON severity or
    worse (default high); Failed with the same result when one is, or when the page could
    not be loaded.
    """
    settings = load_settings()
    prep = prepare(params.url, params.agents, params.run_id, settings)
    captured = capture(prep, settings)
    asked = ask(prep, captured, settings)
    result = publish(prep, captured, asked, settings)
    if result.probe.load_error:
        return Failed(message=f"page did not load: {result.probe.load_error}", data=result)
    if not result.passed:
        return Failed(message=result.verdict_line(), data=result)
    return Completed(message=result.summary_line(), data=result)
