"""Luna's MCP server driven by the official SDK's own clients: over stdio (`luna mcp`) and
over streamable HTTP (`luna mcp --http`), against the demo API and a real k6 run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ROOT, Demo, Runner, free_port, write_catalog

pytestmark = pytest.mark.integration
LUNA = str(Path(sys.executable).parent / "luna")
TOOLS = {"test_service", "load_test", "discover", "get_report", "list_runs"}


@pytest.fixture
def finished_run(load_run: Runner, demo: Demo, clean_env: Path) -> str:
    """A real k6 smoke run (2 s) whose folder lands in LUNA_OUT_DIR."""
    catalog = write_catalog(
        clean_env / "endpoints.json", [{"name": "users", "group": "users", "method": "GET", "path": "/api/users"}]
    )
    result = load_run(demo.url, catalog, smoke_duration="2s", smoke_vus=1)
    assert (Path(result.run_dir) / "summary.json").is_file()
    return result.run_id


def structured(result: Any) -> Any:
    assert not result.isError, result.content
    data = result.structuredContent
    return data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data


async def exercise(session: ClientSession, demo: Demo, run_id: str) -> None:
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) >= TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.inputSchema["type"] == "object" and tool.outputSchema, tool.name
    assert tools["load_test"].inputSchema["properties"]["profile"]["enum"] == [
        "smoke",
        "ramp",
        "soak",
        "stress",
        "spike",
    ]
    assert "target" in tools["test_service"].inputSchema["required"]
    assert tools["list_runs"].annotations and tools["list_runs"].annotations.readOnlyHint is True
    assert tools["load_test"].annotations and tools["load_test"].annotations.readOnlyHint is False

    found = structured(await session.call_tool("discover", {"source": f"{demo.url}/openapi.json"}))
    assert found["kind"] == "openapi"
    assert ("GET", "/api/users") in [(e["method"], e["path"].split("?")[0]) for e in found["endpoints"]]

    runs = structured(await session.call_tool("list_runs", {"limit": 5}))
    assert [r["id"] for r in runs] == [run_id] and runs[0]["profile"] == "smoke" and runs[0]["kind"] == "load"

    report = structured(await session.call_tool("get_report", {"run_id": run_id}))
    assert report["id"] == run_id and run_id in report["markdown"]
    assert report["data"]["summary"]["total"]["requests"] > 0

    missing = await session.call_tool("get_report", {"run_id": "no-such-run"})
    bad = await session.call_tool("discover", {"source": str(ROOT / "no-such-spec.yaml")})
    for result in (missing, bad):
        assert result.isError
        text = result.content[0].text  # type: ignore[union-attr]
        assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert "list_runs" in missing.content[0].text  # type: ignore[union-attr]


def test_stdio(demo: Demo, finished_run: str) -> None:
    params = StdioServerParameters(command=LUNA, args=["mcp"], env=dict(os.environ), cwd=str(ROOT))

    async def main() -> None:
        with anyio.fail_after(90):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await exercise(session, demo, finished_run)

    anyio.run(main)


@pytest.fixture
def http_server(clean_env: Path) -> Iterator[str]:
    port = free_port()
    log = (clean_env / "mcp.log").open("w")
    proc = subprocess.Popen(
        [LUNA, "mcp", "--http", "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_streamable_http_on_localhost(demo: Demo, finished_run: str, http_server: str) -> None:
    async def main() -> None:
        with anyio.fail_after(90):
            async with streamable_http_client(http_server) as (read, write, _), ClientSession(read, write) as session:
                await exercise(session, demo, finished_run)

    anyio.run(main)
    # DNS-rebinding protection: a page on another origin cannot drive the local server.
    hostile = httpx.post(
        http_server,
        headers={
            "Host": "evil.example",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        timeout=5,
    )
    assert hostile.status_code in (400, 403, 421)
