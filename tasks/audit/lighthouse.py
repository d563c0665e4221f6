"""Run npm Lighthouse 12 against Debian's Chromium: one audit, or several at once with
bounded concurrency. A page that fails to load becomes a PageAudit with status 'error'
and Lighthouse's reason; only a missing tool raises. The one Lighthouse launcher: the audit
stage (`luna lighthouse`, the flows) and a generated suite's Lighthouse part
(tasks/generation/runner.py, with the suite's own config files) both call `audit_page`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from luna.errors import ConfigError
from luna.keys import slug
from luna.settings import LunaSettings
from luna.text import printable
from luna.urls import UrlRejected, web_url
from tasks.audit.browser import CHROME_FLAGS, chromium_path, lighthouse_path, new_run_dir, run_sync
from tasks.audit.budgets import Budgets, evaluate
from tasks.audit.model import CATEGORIES, METRIC_AUDITS, LighthouseResult, PageAudit, Preset

AUDIT_TIMEOUT_S = 180.0
Log = Callable[[str], None]


def check_url(url: str) -> str:
    try:
        return web_url(url)
    except UrlRejected as exc:
        raise ConfigError(
            f"not a usable http(s) URL: {printable(url)[:100]!r} ({exc})",
            tip="give a full URL such as http://127.0.0.1:8787/",
        ) from None


def command(url: str, preset: Preset, output_base: Path, config: Path | None = None) -> list[str]:
    """Lighthouse's command line; `config` is a config file of the preset's own (a generated
    suite's), else Lighthouse's presets."""
    cmd = [
        lighthouse_path(),
        url,
        "--output=json",
        "--output=html",
        f"--output-path={output_base}",
        "--quiet",
        f"--chrome-flags={' '.join(CHROME_FLAGS)}",
        "--max-wait-for-load=30000",
    ]
    if config is not None:
        cmd.append(f"--config-path={config}")
    elif preset == "desktop":
        cmd.append("--preset=desktop")  # mobile is Lighthouse's default form factor
    return cmd


def parse_report(data: dict[str, Any], url: str, preset: Preset) -> PageAudit:
    """A Lighthouse JSON report (LHR) as a PageAudit (budgets not yet judged)."""
    runtime = data.get("runtimeError")
    if runtime:
        return PageAudit(
            url=url,
            preset=preset,
            status="error",
            reason=f"{runtime.get('code', 'ERROR')}: {runtime.get('message', '')}".strip(),
            lighthouse_version=data.get("lighthouseVersion"),
        )
    scores: dict[str, float | None] = {}
    for cat_id, name in CATEGORIES.items():
        score = (data.get("categories", {}).get(cat_id) or {}).get("score")
        scores[name] = None if score is None else round(float(score) * 100, 1)
    metrics: dict[str, float | None] = {}
    audits = data.get("audits", {})
    for audit_id, name in METRIC_AUDITS.items():
        value = (audits.get(audit_id) or {}).get("numericValue")
        metrics[name] = None if value is None else round(float(value), 4 if name == "cls" else 1)
    errored = [
        f"{k}: {v.get('errorMessage', 'error')}" for k, v in audits.items() if v.get("scoreDisplayMode") == "error"
    ]
    warnings = [str(w) for w in data.get("runWarnings", [])] + [f"audit errored: {e}" for e in errored]
    return PageAudit(
        url=url,
        preset=preset,
        status="ok",
        scores=scores,
        metrics=metrics,
        lighthouse_version=data.get("lighthouseVersion"),
        warnings=warnings,
    )


async def audit_page(
    url: str,
    preset: Preset,
    budgets: Budgets,
    run_dir: Path,
    chrome: str,
    log: Log = lambda _: None,
    timeout_s: float = AUDIT_TIMEOUT_S,
    *,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
    name: str | None = None,
) -> PageAudit:
    """Audit one URL; never raises for a page problem (the reason is in the result).
    Past `timeout_s`, Lighthouse and its Chromium (their whole process tree) are stopped.
    `env` is Lighthouse's environment (default: this process's), `config` a Lighthouse config
    file for the preset, `name` the reports' file name (default: from the URL)."""
    base = run_dir / (name or f"{slug(urlsplit(url).netloc + urlsplit(url).path, 80)}-{preset}")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *command(url, preset, base, config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**(os.environ if env is None else env), "CHROME_PATH": chrome},
        start_new_session=True,  # Lighthouse starts Chromium: kill the whole group on timeout
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    except (TimeoutError, asyncio.CancelledError) as exc:
        await asyncio.to_thread(stop_tree, proc.pid)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return PageAudit(url=url, preset=preset, status="error", reason=f"audit timed out after {timeout_s:g} s")
    finally:
        if proc.returncode is None:
            await asyncio.to_thread(stop_tree, proc.pid)
    json_path, html_path = base.with_name(base.name + ".report.json"), base.with_name(base.name + ".report.html")
    duration = round(time.monotonic() - started, 2)
    if not json_path.is_file():
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"lighthouse exited {proc.returncode} without a report"
        reason = f"{await asyncio.to_thread(why_not_loaded, url)}; Lighthouse: {reason}"
        return PageAudit(url=url, preset=preset, status="error", reason=reason[:500], duration_s=duration)
    page = parse_report(json.loads(json_path.read_text(encoding="utf-8")), url, preset)
    if page.status == "error":
        page.reason = f"{await asyncio.to_thread(why_not_loaded, url)}; Lighthouse: {page.reason}"
    page.report_json = str(json_path)
    page.report_html = str(html_path) if html_path.is_file() else None
    page.duration_s = duration
    if page.status == "ok":
        page.budgets = evaluate(page, budgets)
    log(
        f"{url} [{preset}]: "
        + (page.reason if page.status == "error" else ", ".join(f"{k} {v}" for k, v in page.scores.items()))
    )
    return page


def why_not_loaded(url: str) -> str:
    """A plain reason for a page Lighthouse could not load (one GET, 5 s)."""
    try:
        response = httpx.get(url, timeout=5, follow_redirects=True)
    except httpx.ConnectError:
        return "page did not load: connection refused or host not found"
    except httpx.TimeoutException:
        return "page did not load: no answer within 5 s"
    except httpx.HTTPError as exc:
        return f"page did not load: {type(exc).__name__}"
    if response.status_code >= 400:
        return f"page did not load: HTTP {response.status_code}"
    return "page did not load"


def stop_tree(pid: int, grace_s: float = 5.0) -> None:
    """Stop Lighthouse and every process under it. chrome-launcher starts Chromium
    detached (its own session), so killing Lighthouse's process group is not enough: the
    tree is listed first, Lighthouse gets SIGINT (its handler closes Chromium), and what
    is still alive after `grace_s` gets SIGKILL."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        root.send_signal(signal.SIGINT)
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def audit_pages(
    urls: Sequence[str],
    presets: Sequence[Preset],
    budgets: Budgets,
    run_dir: Path,
    settings: LunaSettings,
    log: Log = lambda _: None,
) -> list[PageAudit]:
    """Every URL under every preset, at most LUNA_LIGHTHOUSE_CONCURRENCY at once, in input order."""
    chrome = chromium_path(settings)
    lighthouse_path()
    gate = asyncio.Semaphore(settings.luna_lighthouse_concurrency)

    async def one(url: str, preset: Preset) -> PageAudit:
        async with gate:
            return await audit_page(url, preset, budgets, run_dir, chrome, log)

    return list(await asyncio.gather(*(one(u, p) for u in urls for p in presets)))


def presets_for(preset: str) -> list[Preset]:
    choices: dict[str, list[Preset]] = {"desktop": ["desktop"], "mobile": ["mobile"], "both": ["desktop", "mobile"]}
    if preset not in choices:
        raise ConfigError(f"unknown preset {preset!r}", tip="use desktop, mobile or both")
    return choices[preset]


def run_lighthouse(
    urls: Sequence[str],
    preset: str,
    settings: LunaSettings,
    budgets: Budgets | None = None,
    run_id: str | None = None,
    log: Log = lambda _: None,
) -> LighthouseResult:
    """Audit `urls` (preset desktop, mobile or both) and keep the JSON and HTML reports and
    `lighthouse.json` in `<LUNA_OUT_DIR>/lighthouse/<run-id>/`."""
    if not urls:
        raise ConfigError("no URL to audit", tip="give at least one http(s) URL")
    checked = [check_url(u) for u in urls]
    presets = presets_for(preset)
    run_dir = new_run_dir(settings.luna_out_dir, "lighthouse", run_id)
    started = datetime.now(UTC)
    pages = run_sync(audit_pages(checked, presets, budgets or Budgets(), run_dir, settings, log))
    result = LighthouseResult(
        run_id=run_dir.name, run_dir=str(run_dir), started_at=started, finished_at=datetime.now(UTC), pages=pages
    )
    result.write()
    return result
