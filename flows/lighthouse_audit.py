"""Flow `lighthouse_audit`: Lighthouse scores and Core Web Vitals of some pages, judged
against budgets like SLOs, with the reports kept in the run folder."""

from prefect import flow
from prefect.states import Completed, Failed, State

from luna.settings import load_settings
from tasks.audit.model import LighthouseResult
from tasks.audit.params import LighthouseParams
from tasks.audit.tasks import audit, publish_lighthouse_report, store_lighthouse_points

DEFAULTS = LighthouseParams()


@flow(name="lighthouse_audit", log_prints=True)
def lighthouse_audit(params: LighthouseParams = DEFAULTS) -> State[LighthouseResult]:
    """Audit each URL (desktop, mobile or both presets, bounded concurrency).

    Completed with the LighthouseResult when every page was audited within budget;
    Failed (data: the same LighthouseResult) when a budget was crossed or a page could not
    be audited.
    """
    settings = load_settings()
    result = audit(params, settings)
    store_lighthouse_points(result, settings, return_state=True)  # a dead InfluxDB must not fail the audit
    publish_lighthouse_report(result)
    if result.passed:
        return Completed(message=result.reason, data=result)
    return Failed(message=f"{result.status}: {result.reason}", data=result)
