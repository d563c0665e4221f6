"""The FastMCP server: Luna's tools with typed schemas, descriptions and annotations, over
stdio or streamable HTTP (127.0.0.1 by default, DNS-rebinding protection on).

Errors come back as one-line tool errors (``isError``), never as tracebacks. In stdio mode
the protocol owns file descriptor 1: everything else that writes to stdout (Prefect,
subprocesses) is sent to stderr.
"""

from __future__ import annotations

import os
import sys
from io import TextIOWrapper
from typing import Annotated, Any, Literal

from pydantic import Field

from app.mcp.tools import (
    INSTRUCTIONS,
    Comparison,
    DiscoverResult,
    GenerateOutcome,
    LighthouseResult,
    LoadTestOutcome,
    Profile,
    Report,
    RunInfo,
    RunRecord,
    SuiteRun,
    TestServiceOutcome,
    VisualQAResult,
    diff_runs,
    discover_endpoints,
    generate_suites,
    list_local_runs,
    read_history,
    read_report,
    run_generated_suite,
    run_lighthouse,
    run_load_test,
    run_test_service,
    run_visual_qa,
)
from luna.errors import LunaError


def build_server(host: str = "127.0.0.1", port: int = 8765) -> Any:
    """The FastMCP server with Luna's tools (DNS-rebinding protection on for localhost)."""
    import anyio
    from mcp.server.fastmcp import FastMCP
    from mcp.server.fastmcp.exceptions import ToolError
    from mcp.types import ToolAnnotations

    # Honest hints (docs/SECURITY.md): `discover` may replace a file (overwrite); a load test,
    # the pipeline and a suite send the service's own POST/PUT/PATCH requests, so they may
    # change its data; generating rewrites the same files from the same inputs; audits only
    # read pages but each run adds a run folder.
    reads = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
    fetches = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=True)
    loads = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=True)
    writes = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=True)
    audits = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)

    server = FastMCP(
        "luna", instructions=INSTRUCTIONS, host=host, port=port, streamable_http_path="/mcp", log_level="WARNING"
    )

    async def call(func: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            return func(*args, **kwargs)

        try:
            return await anyio.to_thread.run_sync(run)
        except LunaError as exc:
            raise ToolError(exc.one_line()) from None
        except ValueError as exc:  # pydantic validation of parameters
            raise ToolError(f"bad input: {str(exc).splitlines()[0]}") from None

    _register_runs(server, call, {"fetches": fetches, "loads": loads})
    _register_pipeline(server, call, loads)
    _register_reports(server, call, reads)
    _register_suites_and_audits(server, call, {"loads": loads, "writes": writes, "audits": audits})
    _register_history(server, call, reads)
    return server


def _register_runs(server: Any, call: Any, hints: dict[str, Any]) -> None:
    """discover and load_test."""
    fetches, loads = hints["fetches"], hints["loads"]

    @server.tool(annotations=fetches)  # reads a URL; may replace `out` (inside out/, suites/, k6/config/)
    async def discover(
        source: Annotated[
            str,
            Field(
                description="OpenAPI/Swagger/Postman/HAR file or http(s) URL, e.g. http://127.0.0.1:8787/openapi.json."
            ),
        ],
        service: Annotated[str, Field(description="Service name for the endpoints file.")] = "My API",
        out: Annotated[
            str | None, Field(description="Write an endpoints file here (for load_test's `config`).")
        ] = None,
        overwrite: Annotated[bool, Field(description="Replace `out` if it exists.")] = False,
    ) -> DiscoverResult:
        """List the endpoints (method, path, name) a spec, collection or HAR file describes,
        with warnings (auth modes, skipped items). Fast, no load generated."""
        result: DiscoverResult = await call(discover_endpoints, source, service, out, overwrite)
        return result

    @server.tool(annotations=loads)
    async def load_test(
        target: Annotated[str, Field(description="Base URL of the service under test, e.g. http://127.0.0.1:8787.")],
        profile: Annotated[Profile, Field(description="smoke (seconds), ramp, soak (long), stress, spike.")] = "smoke",
        config: Annotated[str | None, Field(description="Endpoints file (default: LUNA_ENDPOINTS_FILE).")] = None,
        vus: Annotated[int | None, Field(ge=1, le=10_000, description="Virtual users (ramp/soak).")] = None,
        duration: Annotated[str | None, Field(description="Hold duration, k6 style: 30s, 5m.")] = None,
    ) -> LoadTestOutcome:
        """Run one k6 load profile against `target` and judge it against the SLOs of the
        endpoints file: verdict, reason, totals and per-endpoint p95/error rate. Takes as
        long as the profile (smoke ~30 s by default)."""
        result: LoadTestOutcome = await call(run_load_test, target, profile, config, vus, duration)
        return result


def _register_pipeline(server: Any, call: Any, loads: Any) -> None:
    """test_service: the whole pipeline."""

    @server.tool(annotations=loads)
    async def test_service(
        target: Annotated[str, Field(description="Base URL of the service, e.g. http://127.0.0.1:8787.")],
        profile: Annotated[Profile, Field(description="Load profile of the load stage.")] = "smoke",
        source: Annotated[str | None, Field(description="Spec/collection/HAR to discover endpoints from.")] = None,
        config: Annotated[str | None, Field(description="Endpoints file to load when discover is off.")] = None,
        commit: Annotated[str | None, Field(description="Commit under test (shown in the report).")] = None,
        environment: Annotated[str | None, Field(description="Environment name (shown in the report).")] = None,
        discover: Annotated[bool, Field(description="Discover the endpoints from `source` (or the target).")] = True,
        generate: Annotated[bool, Field(description="Generate test suites and run the API suite.")] = True,
        load: Annotated[bool, Field(description="Run the k6 load stage with the SLO verdict.")] = True,
        lighthouse: Annotated[bool, Field(description="Run the Lighthouse audit stage.")] = True,
        visual_qa: Annotated[bool, Field(description="Run the visual-QA stage.")] = True,
        notify: Annotated[bool, Field(description="Send the configured outgoing webhooks.")] = True,
    ) -> TestServiceOutcome:
        """Run the whole Luna pipeline against `target`: discover, generate, load test with
        SLO verdict and baseline comparison, Lighthouse, visual QA, one combined report,
        notify. Returns `passed`, `problems` (failing stages and SLOs, one line each) and
        every stage's outcome; its `pipeline_id` works with get_report."""
        result: TestServiceOutcome = await call(
            run_test_service,
            target,
            profile,
            source=source,
            config=config,
            commit=commit,
            environment=environment,
            discover=discover,
            generate=generate,
            load=load,
            lighthouse=lighthouse,
            visual_qa=visual_qa,
            notify=notify,
        )
        return result


def _register_reports(server: Any, call: Any, reads: Any) -> None:
    """get_report and list_runs: the results folder read back."""

    @server.tool(annotations=reads)
    async def get_report(
        run_id: Annotated[str, Field(description="A run id or pipeline id from list_runs/load_test/test_service.")],
    ) -> Report:
        """The report of one run or pipeline: status, markdown report, the JSON data
        (summary and verdict, or stage outcomes) and the report files on disk."""
        result: Report = await call(read_report, run_id)
        return result

    @server.tool(annotations=reads)
    async def list_runs(
        service: Annotated[str | None, Field(description="Only this service.")] = None,
        profile: Annotated[Profile | None, Field(description="Only this profile.")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many, newest first.")] = 20,
    ) -> list[RunInfo]:
        """Recent load runs and pipelines in Luna's results folder, newest first, with their
        verdicts; pass an id to get_report for details."""
        result: list[RunInfo] = await call(list_local_runs, service, profile, limit)
        return result


SuiteKindName = Literal["api", "ui", "k6", "lighthouse"]


def _register_suites_and_audits(server: Any, call: Any, hints: dict[str, Any]) -> None:
    loads, writes, audits = hints["loads"], hints["writes"], hints["audits"]

    @server.tool(annotations=writes)  # rewrites suites/<service>/, reads the URL's spec
    async def generate(
        url: Annotated[str | None, Field(description="Live service URL (reads its OpenAPI spec).")] = None,
        config: Annotated[str | None, Field(description="Endpoints file to generate from.")] = None,
        specs: Annotated[list[str] | None, Field(description="Spec files or URLs for schemas and pages.")] = None,
        service: Annotated[str | None, Field(description="Service name (default: from the file or spec).")] = None,
        kinds: Annotated[list[SuiteKindName] | None, Field(description="Parts to generate (default: all).")] = None,
    ) -> GenerateOutcome:
        """Generate the pytest API, Playwright UI, k6 and Lighthouse suites of a service into
        LUNA_SUITES_DIR/<service>/ (custom sections are kept). Returns the suite's name for run_suite."""
        result: GenerateOutcome = await call(generate_suites, url, config, specs, service, kinds)
        return result

    @server.tool(annotations=loads)
    async def run_suite(
        name: Annotated[str, Field(description="Suite name, as generate returned it.")],
        kinds: Annotated[list[SuiteKindName] | None, Field(description="Parts to run (default: api and ui).")] = None,
        base_url: Annotated[str | None, Field(description="Target (default: the suite's own).")] = None,
    ) -> SuiteRun:
        """Run a generated suite (flow `run_suite`): every test's outcome, JUnit file, headline."""
        result: SuiteRun = await call(run_generated_suite, name, kinds, base_url)
        return result

    @server.tool(annotations=audits)
    async def lighthouse(
        urls: Annotated[list[str], Field(min_length=1, max_length=50, description="Pages to audit (http(s) URLs).")],
        preset: Annotated[Literal["desktop", "mobile", "both"], Field(description="Lighthouse preset(s).")] = "desktop",
    ) -> LighthouseResult:
        """Lighthouse audit of the pages (flow `lighthouse_audit`), judged against the default budgets."""
        result: LighthouseResult = await call(run_lighthouse, urls, preset)
        return result

    @server.tool(annotations=audits)
    async def visual_qa(
        url: Annotated[str, Field(description="Page to review (http(s) URL).")],
        agents: Annotated[list[str] | None, Field(description="Persona ids (default: all).")] = None,
    ) -> VisualQAResult:
        """Visual QA of a page (flow `visual_qa`): deterministic probes, plus AI personas when
        VISUAL_QA_AI_KEY is set. Findings with severity, source and location."""
        result: VisualQAResult = await call(run_visual_qa, url, agents)
        return result


def _register_history(server: Any, call: Any, reads: Any) -> None:
    @server.tool(annotations=reads)
    async def history(
        service: Annotated[str, Field(description="Service name, as in the endpoints file.")],
        profile: Annotated[Profile | None, Field(description="Only this profile.")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many, newest first.")] = 50,
    ) -> list[RunRecord]:
        """Past runs of a service with their verdicts, from Prefect's history artifacts."""
        result: list[RunRecord] = await call(read_history, service, profile, limit)
        return result

    @server.tool(annotations=reads)
    async def diff(
        run_a: Annotated[str, Field(description="The older run (baseline).")],
        run_b: Annotated[str, Field(description="The newer run.")],
    ) -> Comparison:
        """Per-endpoint differences of run_b against run_a (p95, error rate, throughput, noise)."""
        result: Comparison = await call(diff_runs, run_a, run_b)
        return result


def run(http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until stopped: streamable HTTP at /mcp, or stdio."""
    server = build_server(host, port)
    if http:
        print(f"Luna MCP server on http://{host}:{port}/mcp", file=sys.stderr)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"warning: listening on {host} without authentication or DNS-rebinding protection; "
                "put an authenticating proxy in front of it",
                file=sys.stderr,
            )
        server.run("streamable-http")
        return
    import anyio
    from mcp.server.stdio import stdio_server

    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray writes to fd 1 (Prefect, subprocesses) now go to stderr
    sys.stdout = sys.stderr

    async def serve() -> None:
        out = anyio.wrap_file(TextIOWrapper(protocol, encoding="utf-8", write_through=True))
        async with stdio_server(stdout=out) as (read_stream, write_stream):
            low = server._mcp_server
            await low.run(read_stream, write_stream, low.create_initialization_options())

    anyio.run(serve)
