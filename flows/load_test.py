"""Flow `load_test`: one k6 load profile against a service, ending in a typed result."""

from prefect import flow
from prefect.states import Completed, Failed, State

from luna.errors import RunFailed
from luna.results import RunResult
from tasks.execution.plan import LoadTestParams
from tasks.execution.tasks import execute, prepare, publish

DEFAULTS = LoadTestParams()


@flow(name="load_test", log_prints=True)
def load_test(params: LoadTestParams = DEFAULTS) -> State[RunResult]:
    """Run a load profile (smoke, ramp, soak, stress, spike) and keep its results folder.

    The run ends Completed (data: the RunResult) when every threshold held, and Failed
    otherwise, with a RunFailed error that carries the RunResult: `load_test()` raises it,
    `load_test(return_state=True).result(raise_on_failure=False).result` reads it.
    """
    plan = prepare(params)
    result = execute(plan)
    publish(result)
    if result.status == "passed":
        return Completed(message=result.message, data=result)
    return Failed(message=f"{result.status}: {result.message}", data=RunFailed(result))
