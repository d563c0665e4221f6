"""`luna`: the command line. Prefect is imported only by the commands that run a flow,
after the CLI has chosen which Prefect API to use, so `luna env`/`doctor` stay instant.

Each command group lives in its own module under `app/cli/` (listed in COMMAND_MODULES);
this module only builds the parser and turns errors into one line and an exit code.

Exit codes: 0 passed, 1 a threshold or SLO crossed, 2 bad input, configuration or a run
that could not produce a result, 130 the run was interrupted (Ctrl-C, cancelled, k6 killed).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from pydantic import ValidationError

from app import operations
from app.cli.common import console as _console
from app.cli.common import err as _err
from app.cli.load import build_params, print_result, run_load
from luna.errors import LunaError
from luna.text import SafeStream

__all__ = ["COMMAND_MODULES", "OPERATION_COMMANDS", "build_params", "main", "parser", "print_result", "run_load"]
__all__ += ["_console"]  # kept for command modules that import it from here

# Command groups, in the order `luna --help` lists them. Each has `register(sub)`, which adds
# its sub-parsers with `set_defaults(handler=...)`; importing it must stay cheap (no Prefect).
COMMAND_MODULES = (
    "app.cli.load",
    "app.cli.history",
    "app.cli.discover",
    "app.cli.local",
    "app.cli.server",
    "app.cli.suites",
    "app.cli.audit",
    "app.cli.service",
    "app.cli.pipeline",
    "app.cli.results",
)

# The operation each CLI command runs (tests/unit/test_operations.py: the same set as LunaClient and MCP).
OPERATION_COMMANDS = {
    "load_test": "run",
    "test_service": "test-service",
    "discover": "discover",
    "generate": "gen-tests",
    "run_suite": "run-tests",
    "lighthouse": "lighthouse",
    "visual_qa": "vqa",
    "history": "history",
    "diff": "diff",
    "list_runs": "runs",
    "get_report": "report",
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="luna", description="Load tests with k6, orchestrated by Prefect.")
    sub = root.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "mcp":  # stdout is the JSON-RPC channel there
        return _main(args)
    # Names, summaries and server bodies come from input: no escape sequence or control
    # character of theirs reaches the terminal, whichever print wrote them (luna/text.py).
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        return _main(args)
    finally:
        sys.stdout, sys.stderr = saved


def _main(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except LunaError as exc:
        _err(exc.one_line())
        return exc.exit_code
    except ValidationError as exc:  # a parameter model refused a flag's value
        _err(operations.field_error(exc, lambda f: "--" + f.replace("_", "-"), "see `luna --help`").one_line())
        return 2
    except KeyboardInterrupt:
        _err("interrupted; k6 was stopped and the partial results kept in the run folder")
        return 130
    except Exception as exc:  # the one place that turns a surprise into one line
        if os.environ.get("LUNA_DEBUG"):
            raise
        _err(
            f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "Tip: LUNA_DEBUG=1 shows the traceback"
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
