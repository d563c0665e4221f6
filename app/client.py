"""`LunaClient`: Luna from Python in one call, for scripts, notebooks, CI jobs and agents.

    from luna import LunaClient

    result = LunaClient().test_service("http://127.0.0.1:8787", profile="smoke")
    result.assert_success()   # raises PipelineFailed listing the failing stages and SLOs

Each method is one operation of the application layer (app/operations.py): the same
pre-checks and the same Prefect flow the CLI and the deployments run, in this process,
against the Prefect server the environment points at (PREFECT_API_URL, else a server on
LUNA_PREFECT_PORT, else Prefect's temporary local server), returning a typed result.
Prefect is imported on first use, so `import luna` stays instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import operations
from luna.errors import LunaError, RunFailed
from luna.settings import load_settings

if TYPE_CHECKING:
    from app.runs import Report, RunInfo
    from luna.catalog import Catalog
    from luna.results import RunResult
    from luna.verdict import Comparison
    from tasks.audit.model import LighthouseResult
    from tasks.audit.params import LighthouseParams
    from tasks.evaluation.compare import RunRecord
    from tasks.generation.params import RunSuiteParams
    from tasks.generation.results import SuiteRun
    from tasks.generation.suites import GenerateParams
    from tasks.generation.write import GeneratedSuite
    from tasks.pipeline.model import PipelineResult
    from tasks.visual_qa.model import VisualQAResult


class LunaClient:
    """Typed one-shot access to Luna's operations."""

    # Readers that are conveniences over an operation, not operations of their own.
    CONVENIENCE = ("report",)

    def __init__(self, prefect_api_url: str | None = None) -> None:
        self.prefect_api_url = prefect_api_url
        self._prefect = operations.Prefect(prefect_api_url, announce=False)

    def test_service(self, target: str, profile: str = "smoke", **options: Any) -> PipelineResult:
        """Run the whole pipeline (flow `test-service`) against `target`.

        `options` are the flow's other parameters: source, config, service, commit,
        environment, the stage switches (discover, generate, load, lighthouse, visual_qa,
        notify), include_destructive, baseline_run_id, fail_on_regression, grafana_url,
        auth_block. Returns the PipelineResult whether the pipeline passed or not; call
        `.assert_success()` to raise when it did not.
        """
        return operations.test_service(target, profile, prefect=self._prefect, **options)

    def load_test(self, target: str, profile: str = "smoke", **options: Any) -> RunResult:
        """Run one load profile (flow `load_test`); returns its RunResult. A run that did not
        pass raises RunFailed, which carries the RunResult and the Verdict."""
        from tasks.execution.plan import LoadTestParams

        options.setdefault("config", str(load_settings().luna_endpoints_file))
        run = operations.load_test(LoadTestParams(profile=profile, target=target, **options), prefect=self._prefect)
        if not run.passed:
            raise RunFailed(run.result, run.verdict)
        return run.result

    def discover(
        self,
        *sources: str,
        out: str | Path,
        service: str = "My API",
        overwrite: bool = False,
        target: str | None = None,
    ) -> Catalog:
        """Discover endpoints from specs, collections, HARs, WSDLs, GraphQL or a live URL and
        write one endpoints file; returns what it holds, as a Catalog. No Prefect needed.
        `target` (the service's URL) is recorded in the file; default: the first URL source's
        origin."""
        found = operations.discover(sources, out=out, service=service, overwrite=overwrite, target=target)
        assert found.catalog is not None  # asked for with `out`
        return found.catalog

    def generate(self, params: GenerateParams) -> GeneratedSuite:
        """Generate the test suites of a service (no Prefect)."""
        return operations.generate(params)

    def run_suite(self, params: RunSuiteParams, use_flow: bool = True) -> SuiteRun:
        """Run a generated suite (flow `run_suite`, or plain functions with use_flow=False)."""
        return operations.run_suite(params, use_flow=use_flow, prefect=self._prefect)

    def lighthouse(self, params: LighthouseParams) -> LighthouseResult:
        """Lighthouse audit judged against budgets (flow `lighthouse_audit`)."""
        return operations.lighthouse(params, prefect=self._prefect)

    def visual_qa(self, url: str, agents: Sequence[str] = (), run_id: str | None = None) -> VisualQAResult:
        """Visual QA of a page (flow `visual_qa`)."""
        return operations.visual_qa(url, agents, run_id, prefect=self._prefect)

    def history(self, service: str, profile: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Past runs of a service with their verdicts (Prefect history)."""
        return operations.history(service, profile, limit, prefect=self._prefect)

    def diff(self, run_a: str, run_b: str) -> Comparison:
        """Per-endpoint differences of run_b against the baseline run_a."""
        return operations.diff(run_a, run_b, prefect=self._prefect)

    def list_runs(self, service: str | None = None, profile: str | None = None, limit: int = 20) -> list[RunInfo]:
        """Load runs and pipelines in the results folder, newest first."""
        return operations.list_runs(service, profile, limit)

    def get_report(self, run_id: str) -> Report:
        """One run's or pipeline's report (markdown, data, files)."""
        return operations.get_report(run_id)

    def report(self, pipeline_id: str) -> PipelineResult:
        """A finished pipeline run's result, from its folder (out/pipelines/<id>)."""
        from tasks.pipeline.model import PipelineResult

        folder = load_settings().luna_out_dir / "pipelines" / pipeline_id
        if not (folder / "pipeline.json").is_file():
            raise LunaError(
                f"no pipeline run {pipeline_id}", location=str(folder), tip="`luna test-service` lists its id"
            )
        return PipelineResult.read(folder)


__all__ = ["LunaClient", "RunFailed"]
