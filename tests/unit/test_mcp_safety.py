"""The MCP tools as an agent would misuse them: `discover` writes only inside the project's
output folders, targets outside LUNA_ALLOWED_TARGETS (loopback only when unset) are refused
before anything is sent, and the annotations say what the tools really do."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.mcp import tools
from app.mcp.server import build_server
from luna.errors import LunaError

pytestmark = pytest.mark.unit

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


@pytest.fixture
def project(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(clean_env)
    monkeypatch.setenv("LUNA_OUT_DIR", "out")
    (clean_env / "spec.json").write_text(json.dumps(SPEC), encoding="utf-8")
    return clean_env


@pytest.mark.parametrize(
    "out", ["/etc/luna-owned.json", "../escape.json", "out/../../escape.json", "README.md", "k6/main.js"]
)
def test_discover_writes_only_inside_the_output_folders(project: Path, out: str) -> None:
    with pytest.raises(LunaError) as err:
        tools.discover_endpoints("spec.json", out=out, overwrite=True)
    assert "output folder" in err.value.one_line() and "\n" not in err.value.one_line()
    assert not (project.parent / "escape.json").exists()


def test_discover_writes_inside_the_output_folders(project: Path) -> None:
    done = tools.discover_endpoints("spec.json", out="out/endpoints.json")
    assert done.written_to and (project / "out" / "endpoints.json").is_file()
    assert tools.discover_endpoints("spec.json", out="k6/config/e.json").written_to


@pytest.mark.parametrize(
    "call",
    [
        # .invalid never resolves (RFC 2606): nothing can be sent even if the check failed
        lambda: tools.run_load_test("http://luna-agent.invalid:8080"),
        lambda: tools.run_test_service("http://luna-agent.invalid"),
        lambda: tools.run_lighthouse(["http://luna-agent.invalid/"]),
        lambda: tools.run_visual_qa("http://luna-agent.invalid/"),
        lambda: tools.run_generated_suite("x", base_url="http://luna-agent.invalid"),
        lambda: tools.discover_endpoints("http://luna-agent.invalid/openapi.json"),
        lambda: tools.generate_suites(url="http://luna-agent.invalid"),
    ],
)
def test_agents_reach_only_allowed_targets(project: Path, call: object) -> None:
    with pytest.raises(LunaError) as err:
        call()  # type: ignore[operator]
    assert "LUNA_ALLOWED_TARGETS" in err.value.one_line()


def test_the_allow_list_opens_named_origins_only(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNA_ALLOWED_TARGETS", "http://127.0.0.1:9")
    with pytest.raises(LunaError, match="LUNA_ALLOWED_TARGETS"):
        tools.run_load_test("http://127.0.0.1:10")  # another port is another origin
    with pytest.raises(LunaError) as err:
        tools.run_load_test("http://127.0.0.1:9", config="missing.json")  # allowed: fails later, on the file
    assert "LUNA_ALLOWED_TARGETS" not in err.value.one_line()


def test_annotations_are_honest(project: Path) -> None:
    listed = {t.name: t.annotations for t in asyncio.run(build_server().list_tools())}
    assert listed["discover"].destructiveHint is True and listed["discover"].idempotentHint is False
    for name in ("load_test", "test_service", "run_suite"):
        assert listed[name].destructiveHint is True and listed[name].idempotentHint is False, name
    assert all(listed[n].readOnlyHint for n in ("list_runs", "get_report"))
