"""prefect.yaml against a real `prefect server start`: `prefect deploy --all` registers every
deployment (schedules inactive, webhook triggers as automations), and a deployment run
from the CLI is executed end to end by a process worker from the `luna-process` pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.serve import load_definitions, load_flow
from tests.conftest import ROOT, Demo

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@dataclass
class Deployed:
    api: str
    env: dict[str, str]
    output: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def deployment(self, flow_name: str, name: str) -> dict[str, Any]:
        response = httpx.get(f"{self.api}/deployments/name/{flow_name}/{name}", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def flow_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return list(self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}}))

    def prefect(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args],
            cwd=ROOT,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


_DEPLOYED: dict[str, Deployed] = {}  # by server: test_webhook*.py imports this fixture too


@pytest.fixture(scope="session")
def deployed(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The repository's prefect.yaml deployed with `prefect deploy --all` (once per server)."""
    if prefect_server in _DEPLOYED:
        yield _DEPLOYED[prefect_server]
        return
    home = tmp_path_factory.mktemp("prefect-client")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "PREFECT_"))},
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "LUNA_HOME": str(ROOT),
        "LUNA_OUT_DIR": str(home / "out"),
    }
    d = Deployed(prefect_server, env, "")
    pool = d.prefect("work-pool", "create", "luna-process", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    definition = (ROOT / "prefect.yaml").read_bytes()
    result = d.prefect("deploy", "--all", timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (ROOT / "prefect.yaml").read_bytes() == definition, "prefect deploy rewrote prefect.yaml"
    d.output = result.stdout
    _DEPLOYED[prefect_server] = d
    yield d


def delete_pipeline_runs(api: str) -> None:
    """Other tests on this session's server read `parameters["params"]` of every run; the
    flat-parameter test-service runs made here are removed when a test is done."""
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["test-service"]}}}, timeout=10)
    for run in runs.json():
        httpx.delete(f"{api}/flow_runs/{run['id']}", timeout=10)


def test_deploy_all_registers_every_deployment_with_schedules_off(deployed: Deployed) -> None:
    definitions = load_definitions()
    for definition in definitions:
        flow_name = load_flow(definition["entrypoint"]).name
        deployment = deployed.deployment(flow_name, definition["name"])
        assert deployment["work_pool_name"] == "luna-process", definition["name"]
        assert deployment["parameters"] == (definition.get("parameters") or {}), definition["name"]
        crons = sorted(s["schedule"]["cron"] for s in deployment["schedules"])
        assert crons == sorted(s["cron"] for s in definition.get("schedules") or []), definition["name"]
        assert not any(s["active"] for s in deployment["schedules"]), f"{definition['name']} has an active schedule"
    automations = deployed.post("/automations/filter")
    triggered = {
        action["deployment_id"]
        for automation in automations
        for action in automation["actions"]
        if action.get("type") == "run-deployment"
    }
    expected = {
        deployed.deployment(load_flow(d["entrypoint"]).name, d["name"])["id"] for d in definitions if d.get("triggers")
    }
    assert expected and expected <= triggered


def test_test_service_deployment_run_end_to_end(
    deployed: Deployed, demo: Demo, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`prefect deployment run 'test-service/smoke' -p target=URL`, executed by a process
    worker from the pool: the pipeline runs and leaves its combined report."""
    demo.reset()
    run = deployed.prefect(
        "deployment",
        "run",
        "test-service/smoke",
        "-p",
        f"target={demo.url}",
        "-p",
        "discover=false",  # the bundled endpoints file, whose SLOs the demo meets
        "-p",
        "generate=false",
        "-p",
        "lighthouse=false",
        "-p",
        "visual_qa=false",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    deployment = deployed.deployment("test-service", "smoke")
    [flow_run] = deployed.flow_runs(deployment["id"])
    assert flow_run["parameters"]["target"] == demo.url and flow_run["parameters"]["profile"] == "smoke"
    out = tmp_path / "out"
    request.addfinalizer(lambda: delete_pipeline_runs(deployed.api))
    worker = deployed.prefect(
        "worker",
        "start",
        "--pool",
        "luna-process",
        "--run-once",
        timeout=240,
        SMOKE_DURATION="3s",
        SMOKE_VUS="1",
        LUNA_OUT_DIR=str(out),
    )
    state = httpx.get(f"{deployed.api}/flow_runs/{flow_run['id']}", timeout=10).json()["state"]
    assert state["type"] == "COMPLETED", (state, worker.stdout[-3000:], worker.stderr[-3000:])
    [pipeline_file] = list(out.glob("pipelines/*/pipeline.json"))
    pipeline = json.loads(pipeline_file.read_text(encoding="utf-8"))
    assert pipeline["target"] == demo.url
    statuses = {s["name"]: s["status"] for s in pipeline["stages"]}
    assert statuses["load"] == "passed" and statuses["lighthouse"] == "skipped", statuses
    assert (pipeline_file.parent / "report.md").is_file()
    assert demo.stats()["total"] > 0  # the load reached the demo API


def test_mcp_test_service_tool_runs_the_pipeline(
    prefect_server: str, demo: Demo, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The agent path: the MCP `test_service` tool (over stdio, the SDK's client) runs the
    same flow as the deployments, and `get_report` returns the pipeline's combined report."""
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "PREFECT_", "AUTH_"))},
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "LUNA_OUT_DIR": str(tmp_path / "out"),
        "SMOKE_DURATION": "2s",
        "SMOKE_VUS": "1",
    }
    params = StdioServerParameters(command=str(BIN / "luna"), args=["mcp"], env=env, cwd=str(ROOT))
    request.addfinalizer(lambda: delete_pipeline_runs(prefect_server))
    arguments = {"target": demo.url, "discover": False, "generate": False, "lighthouse": False, "visual_qa": False}

    async def main() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        with anyio.fail_after(240):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                ran = await session.call_tool("test_service", arguments)
                assert not ran.isError, ran.content
                outcome = dict(ran.structuredContent or {})
                report = await session.call_tool("get_report", {"run_id": outcome["result"]["pipeline_id"]})
                assert not report.isError, report.content
                loaded = await session.call_tool("load_test", {"target": demo.url, "duration": "2s"})
                assert not loaded.isError, loaded.content
                return outcome, dict(report.structuredContent or {}), dict(loaded.structuredContent or {})

    outcome, report, load = anyio.run(main)
    assert load["verdict"] == "pass" and load["profile"] == "smoke" and load["requests"] > 0
    assert {e["name"] for e in load["endpoints"]} and all(e["slo_ok"] for e in load["endpoints"])
    assert outcome["passed"] is True and outcome["problems"] == []
    stages = {s["name"]: s["status"] for s in outcome["result"]["stages"]}
    assert stages["load"] == "passed" and stages["lighthouse"] == "skipped" and stages["discover"] == "skipped"
    assert report["kind"] == "pipeline" and report["id"] == outcome["result"]["pipeline_id"]
    assert outcome["result"]["pipeline_id"] in report["markdown"] or demo.url in report["markdown"]
