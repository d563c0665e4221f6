"""One way to run each operation: the CLI, LunaClient and the MCP server expose the same
set of public operations, and no front end runs a flow itself."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import anyio
import pytest

from app import operations
from app.cli.main import OPERATION_COMMANDS, parser
from app.client import LunaClient
from app.mcp.server import build_server

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = set(operations.PUBLIC_OPERATIONS)
FRONT_ENDS = [*sorted((ROOT / "app" / "cli").glob("*.py")), ROOT / "app" / "client.py"]
FRONT_ENDS += [p for front in ("repl", "mcp", "gateway") for p in sorted((ROOT / "app" / front).glob("*.py"))]


def test_every_public_operation_is_a_function_of_the_application_layer() -> None:
    for name in PUBLIC:
        assert inspect.isfunction(getattr(operations, name)), name
    assert len(PUBLIC) == len(operations.PUBLIC_OPERATIONS)


def test_the_cli_has_one_command_per_operation() -> None:
    assert set(OPERATION_COMMANDS) == PUBLIC
    sub = next(a for a in parser()._actions if a.dest == "command")
    commands = set(sub.choices)  # type: ignore[arg-type]
    missing = {op: cmd for op, cmd in OPERATION_COMMANDS.items() if cmd not in commands}
    assert missing == {}


def test_the_client_has_one_method_per_operation() -> None:
    methods = {n for n, v in vars(LunaClient).items() if callable(v) and not n.startswith("_")}
    assert methods - set(LunaClient.CONVENIENCE) == PUBLIC


def test_the_mcp_server_has_one_tool_per_operation() -> None:
    tools = anyio.run(build_server().list_tools)
    assert {t.name for t in tools} == PUBLIC


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_front_ends_run_no_flow_themselves(path: Path) -> None:
    """Flows are run by app/operations.py only; a front end imports no `flows` module."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert sorted(m for m in imported if m == "flows" or m.startswith("flows.")) == []
