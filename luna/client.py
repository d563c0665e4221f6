"""`LunaClient`: Luna from Python in one call, for scripts, notebooks, CI jobs and agents.

    from luna import LunaClient

    result = LunaClient().test_service("http://127.0.0.1:8787", profile="smoke")
    result.assert_success()   # raises PipelineFailed listing the failing stages and SLOs

Each method runs the same Prefect flow the CLI and the deployments run, in this process,
against the Prefect server the environment points at (PREFECT_API_URL, else a server on
LUNA_PREFECT_PORT, else Prefect's temporary local server), and returns a typed result.
Prefect is imported on first use, so `import luna` stays instant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luna.errors import LunaError, RunFailed
from luna.settings import load_settings

if TYPE_CHECKING:
    from luna.results import RunResult
    from tasks.pipeline.model import PipelineResult


class LunaClient:
    """Typed one-shot access to Luna's flows."""

    def __init__(self, prefect_api_url: str | None = None) -> None:
        self.prefect_api_url = prefect_api_url

    def _prefect(self) -> None:
        if self.prefect_api_url:
            os.environ["PREFECT_API_URL"] = self.prefect_api_url
            return
        from luna.cli import prefect_api

        api = prefect_api(load_settings().luna_prefect_port)
        if api:
            os.environ["PREFECT_API_URL"] = api

    def test_service(self, target: str, profile: str = "smoke", **options: Any) -> PipelineResult:
        """Run the whole pipeline (flow `test-service`) against `target`.

        `options` are the flow's other parameters: source, config, service, commit,
        environment, the stage switches (discover, generate, load, lighthouse, visual_qa,
        notify), include_destructive, baseline_run_id, fail_on_regression, grafana_url,
        auth_block. Returns the PipelineResult whether the pipeline passed or not; call
        `.assert_success()` to raise when it did not.
        """
        self._prefect()
        from flows.test_service import test_service
        from tasks.pipeline.model import PipelineFailed, PipelineResult

        state = test_service(target, profile=profile, return_state=True, **options)
        outcome: Any = state.result(raise_on_failure=False)
        if isinstance(outcome, PipelineFailed):
            return outcome.result
        if isinstance(outcome, PipelineResult):
            return outcome
        if isinstance(outcome, BaseException):
            raise outcome
        raise LunaError(f"test-service returned {type(outcome).__name__}, not a PipelineResult")

    def load_test(self, target: str, profile: str = "smoke", **options: Any) -> RunResult:
        """Run one load profile (flow `load_test`); returns its RunResult. A run that did not
        pass raises RunFailed, which carries the RunResult and the Verdict."""
        self._prefect()
        from flows.load_test import load_test
        from tasks.execution.plan import LoadTestParams

        params = LoadTestParams(profile=profile, target=target, **options)
        state = load_test(params, return_state=True)
        outcome: Any = state.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def discover(
        self,
        *sources: str,
        out: str | Path,
        service: str = "My API",
        overwrite: bool = False,
        target: str | None = None,
    ) -> dict[str, Any]:
        """Discover endpoints from specs, collections, HARs, WSDLs, GraphQL or a live URL and
        write one endpoints file; returns its content. No Prefect needed. `target` (the
        service's URL) is recorded in the file; default: the first URL source's origin."""
        from tasks.discovery.sources import load_source
        from tasks.discovery.tasks import write_endpoints_file

        found = [load_source(source) for source in sources]
        return write_endpoints_file(
            found, Path(out), service=service, include_destructive=False, overwrite=overwrite, target=target
        )

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
