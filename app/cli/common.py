"""What every `luna` command shares: the error line, the rich console, number formats and
the console filter that keeps k6's lines and the verdict line out of the terminal.
Importing this module stays cheap (rich and Prefect are imported inside the functions)."""

from __future__ import annotations

import sys
from typing import Any


def err(text: str) -> None:
    print(f"luna: {text}", file=sys.stderr)


def console() -> Any:
    """Rich console; when piped, wide enough that run ids and paths are never cut."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def fmt_number(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def fmt_percent(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def quiet_console(k6_lines: bool) -> None:
    """The verdict line goes to the Prefect run log only (the CLI prints the verdict once,
    after the table); with a progress bar in the terminal, k6's own lines too."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    class NoK6Lines(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if getattr(record, "luna_verdict_line", False):
                return False
            return not (k6_lines and getattr(record, "luna_k6_line", False))

    for name in ("prefect", "prefect.task_runs", "prefect.flow_runs", ""):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(NoK6Lines())
