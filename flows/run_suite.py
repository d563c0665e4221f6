"""Flow `run_suite`: run a generated suite and publish its results."""

from prefect import flow
from prefect.states import Completed, Failed, State

from luna.settings import load_settings
from tasks.generation.params import PRESETS, Preset, RunSuiteParams
from tasks.generation.results import SuiteFailed, SuiteRun
from tasks.generation.tasks import publish_results, run_tests

__all__ = ["PRESETS", "Preset", "RunSuiteParams", "run_suite"]


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
        load_settings(),
        params.k6_vus,
        list(params.lighthouse_presets),
    )
    publish_results(run)
    if run.passed or params.on_failure == "complete":
        return Completed(message=run.headline(), data=run)
    return Failed(message=run.headline(), data=SuiteFailed(run))
