"""Flow `run_suite`: run a generated suite and publish its results."""

from typing import Literal

from prefect import flow
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, Field

from tasks.generation.model import SuiteKind
from tasks.generation.results import SuiteFailed, SuiteRun
from tasks.generation.tasks import publish_results, run_tests

Preset = Literal["desktop", "mobile"]
PRESETS: tuple[Preset, ...] = ("desktop", "mobile")


class RunSuiteParams(BaseModel):
    """Which suite to run, against what, and what a failing test does to the run."""

    name: str = Field(
        min_length=1, description="Suite name (its folder under suites_dir, see `luna gen-list`) or path."
    )
    kinds: list[SuiteKind] | None = Field(
        None, description="Parts to run: api, ui, k6, lighthouse (default: api and ui, those it has)."
    )
    base_url: str | None = Field(None, description="Target (default: the URL the suite was generated from).")
    suites_dir: str = Field("suites", description="Folder that holds the suites.")
    out_dir: str | None = Field(None, description="Results folder (default: <LUNA_OUT_DIR>/suites/<suite>-<time>).")
    k6_duration: str = Field("10s", pattern=r"^(\d+(\.\d+)?(ms|s|m|h))+$", description="How long the k6 part runs.")
    k6_vus: int = Field(1, ge=1, le=1000, description="Virtual users per endpoint group in the k6 part.")
    lighthouse_presets: list[Preset] = Field(
        default_factory=lambda: list(PRESETS), min_length=1, description="Lighthouse presets to audit with."
    )
    on_failure: Literal["fail", "complete"] = Field(
        "fail", description="fail = the flow run ends Failed when a test fails (CI); complete = Completed anyway."
    )


@flow(name="run_suite", log_prints=True)
def run_suite(params: RunSuiteParams) -> State[SuiteRun]:
    """Run the suite, publish a table artifact (test, outcome, duration, message) and a
    markdown summary. The run's data is the SuiteRun either way; with failing tests it
    ends Failed (a SuiteFailed error carrying the SuiteRun) unless on_failure=complete."""
    run = run_tests(
        params.name,
        params.kinds,
        params.base_url,
        params.out_dir,
        params.k6_duration,
        params.suites_dir,
        params.k6_vus,
        list(params.lighthouse_presets),
    )
    publish_results(run)
    if run.passed or params.on_failure == "complete":
        return Completed(message=run.headline(), data=run)
    return Failed(message=run.headline(), data=SuiteFailed(run))
