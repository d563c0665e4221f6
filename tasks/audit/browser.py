"""Where the browser tools are: Debian's Chromium and the npm Lighthouse."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from luna.errors import ToolMissingError
from luna.settings import LunaSettings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
# Debian's /usr/bin/chromium is a wrapper script that prints a shell warning; the real
# binary beside it takes the same flags.
DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints",
)


def chromium_path(settings: LunaSettings) -> str:
    """LUNA_CHROMIUM, else Debian's Chromium binary, else `chromium` on PATH."""
    if settings.luna_chromium:
        if not Path(settings.luna_chromium).is_file():
            raise ToolMissingError(
                f"LUNA_CHROMIUM={settings.luna_chromium} does not exist", tip="point it at a Chromium executable"
            )
        return settings.luna_chromium
    if DEBIAN_CHROMIUM.is_file():
        return str(DEBIAN_CHROMIUM)
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    raise ToolMissingError("Chromium not found", tip="apt-get install chromium fonts-liberation, or set LUNA_CHROMIUM")


def lighthouse_path() -> str:
    path = ROOT / "node_modules" / ".bin" / "lighthouse"
    if not path.exists():
        raise ToolMissingError("Lighthouse not installed", location=str(path), tip="run `npm ci` in the project folder")
    return str(path)


def axe_path() -> Path:
    path = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        raise ToolMissingError("axe-core not installed", location=str(path), tip="run `npm ci` in the project folder")
    return path


def new_run_dir(out_dir: Path, kind: str, run_id: str | None = None) -> Path:
    """`<out>/<kind>/<run-id>/`, created; the id is time-sortable like load runs'."""
    run_id = run_id or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{kind}-{secrets.token_hex(2)}"
    if not run_id or any(c in run_id for c in "/\\") or run_id in (".", ".."):
        raise ValueError(f"invalid run id {run_id!r}")
    run_dir = out_dir / kind / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, also when the caller is itself inside an
    event loop (an async flow or notebook): then it runs in a worker thread's own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
