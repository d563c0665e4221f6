"""Run a generated suite and turn what it did into rows: test, outcome, duration, message.

- pytest kinds (``api``, ``ui``): ``python -m pytest <suite>/<kind> --junitxml=...`` with
  the Luna venv's interpreter; JUnit XML parsed with defusedxml.
- ``k6``: ``k6 run k6/script.js --summary-export=...``: one row per threshold and per check.
- ``lighthouse``: the npm Lighthouse per page and preset on Chromium: one row per budget.

A failing test is a row with outcome ``failed``; only a suite that cannot run at all
(missing folder, pytest usage error, nothing collected, a tool missing) raises.
Output lines go to `on_line` with every secret masked.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from luna.errors import SuiteRunError, ToolMissingError
from luna.masking import Masker
from luna.settings import LunaSettings
from tasks.generation.lighthouse_run import run_lighthouse_kind
from tasks.generation.model import MANIFEST, Manifest, SuiteKind
from tasks.generation.results import CaseResult, SuiteRun, parse_junit, write_junit
from tasks.generation.safe import GenerationError

LineSink = Callable[[str], None]
PYTEST_KINDS = ("api", "ui")


def find_suite(name: str, root: Path) -> Path:
    """A suite by slug (under `root`) or by folder path; it must hold luna-suite.json."""
    candidates = [root / name, Path(name)]
    for folder in candidates:
        if (folder / MANIFEST).is_file():
            return folder
    known = sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []
    from luna.errors import did_you_mean

    tip = did_you_mean(name, known) or (
        f"known suites: {', '.join(known)}" if known else "generate one with `luna gen-tests --url URL`"
    )
    raise GenerationError(f"no suite {name!r} in {root}", location=str(root), tip=tip)


def suite_env(settings: LunaSettings, base_url: str) -> dict[str, str]:
    """The environment a suite runs in: BASE_URL and the auth variables of Luna's settings."""
    env = dict(os.environ)
    env["BASE_URL"] = base_url
    for name in type(settings).model_fields:
        if not name.startswith("auth_"):
            continue
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if value:
            env[name.upper()] = str(value)
    chromium = getattr(settings, "luna_chromium", None)
    if chromium:
        env["LUNA_CHROMIUM"] = str(chromium)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def run_process(
    cmd: list[str], *, env: dict[str, str], cwd: Path, timeout_s: float, on_line: LineSink, secrets: Masker
) -> tuple[int, list[str]]:
    """Run in its own process group, stream masked lines; a watchdog kills the group at
    the deadline (even when the process prints nothing), and so does any error. Returns
    (exit code, last lines)."""
    tail: list[str] = []
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    expired = threading.Event()

    def kill() -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def on_deadline() -> None:
        expired.set()
        kill()

    watchdog = threading.Timer(timeout_s, on_deadline)
    watchdog.daemon = True
    watchdog.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = secrets(raw.rstrip("\n"))
            on_line(line)
            tail = (tail + [line])[-40:]
        code = proc.wait()
    finally:
        watchdog.cancel()
        kill()
        proc.wait(timeout=10)
    if expired.is_set():
        raise SuiteRunError(
            f"{Path(cmd[0]).name} ran longer than {timeout_s:.0f} s and was stopped",
            tip="check that the target answers, or run fewer parts at once",
        )
    return code, tail


# ---- pytest ------------------------------------------------------------------------------


def run_pytest_kind(
    suite_dir: Path,
    kind: SuiteKind,
    *,
    env: dict[str, str],
    out_dir: Path,
    on_line: LineSink,
    secrets: Masker,
    timeout_s: float = 900,
) -> tuple[list[CaseResult], Path]:
    folder = suite_dir / kind
    if not folder.is_dir():
        raise SuiteRunError(f"{suite_dir.name} has no {kind} suite", location=str(folder), tip="regenerate it")
    junit = out_dir / f"junit-{kind}.xml"
    junit.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", str(folder), f"--junitxml={junit}", "-p", "no:cacheprovider", "-q"]
    code, tail = run_process(cmd, env=env, cwd=Path.cwd(), timeout_s=timeout_s, on_line=on_line, secrets=secrets)
    if code in (3, 4, 5) or not junit.is_file():
        what = {3: "pytest hit an internal error", 4: "pytest usage error", 5: "no tests were collected"}
        last = next((line for line in reversed(tail) if line.strip()), "")
        raise SuiteRunError(
            f"{kind} suite did not run: {what.get(code, f'pytest exit code {code}')} ({last[:200]})",
            location=str(folder),
            tip="run `python -m pytest " + str(folder) + "` to see the full output",
        )
    return parse_junit(junit, kind), junit


# ---- k6 ----------------------------------------------------------------------------------


def run_k6_kind(
    suite_dir: Path,
    *,
    env: dict[str, str],
    settings: LunaSettings,
    out_dir: Path,
    on_line: LineSink,
    secrets: Masker,
    duration: str = "10s",
    vus: int = 1,
) -> tuple[list[CaseResult], Path]:
    script = suite_dir / "k6" / "script.js"
    if not script.is_file():
        raise SuiteRunError(f"{suite_dir.name} has no k6 script", location=str(script), tip="regenerate it")
    summary = out_dir / "k6-summary.json"
    summary.unlink(missing_ok=True)
    k6 = settings.k6_path()
    cmd = [k6, "run", "--quiet", f"--summary-export={summary}", "-e", f"DURATION={duration}", "-e", f"VUS={vus}"]
    cmd.append(str(script))
    started = time.monotonic()
    try:
        code, tail = run_process(cmd, env=env, cwd=suite_dir, timeout_s=3600, on_line=on_line, secrets=secrets)
    except FileNotFoundError:
        raise ToolMissingError(f"k6 not found at {k6}", tip="uv sync installs it; or set K6_BINARY") from None
    took = time.monotonic() - started
    if code not in (0, 99) or not summary.is_file():
        last = next((line for line in reversed(tail) if line.strip()), "")
        raise SuiteRunError(f"k6 ended with exit code {code}: {last[:300]}", location=str(script), tip="run it by hand")
    data = json.loads(summary.read_text(encoding="utf-8"))
    cases: list[CaseResult] = []
    for metric, info in sorted(data.get("metrics", {}).items()):
        for rule, crossed in (info.get("thresholds") or {}).items():
            cases.append(
                CaseResult(
                    test=f"threshold {metric}: {rule}",
                    kind="k6",
                    outcome="failed" if crossed else "passed",
                    duration_s=took,
                    message=f"crossed ({_metric_value(info)})" if crossed else "",
                )
            )
    for check in (data.get("root_group") or {}).get("checks", {}).values():
        fails, passes = int(check.get("fails", 0)), int(check.get("passes", 0))
        cases.append(
            CaseResult(
                test=f"check {check.get('name', '')}",
                kind="k6",
                outcome="failed" if fails else "passed",
                message=f"{fails} of {fails + passes} failed" if fails else "",
            )
        )
    return cases, summary


def _metric_value(info: dict[str, Any]) -> str:
    if "p(95)" in info:
        return f"p95 {info['p(95)']:.1f} ms"
    if "value" in info:
        return f"rate {info['value']:.3f}"
    return ", ".join(f"{k} {v}" for k, v in info.items() if k != "thresholds")[:100]


# ---- one suite, every kind asked for -----------------------------------------------------


def run_suite_dir(
    suite_dir: Path,
    kinds: list[SuiteKind] | None,
    *,
    settings: LunaSettings,
    out_dir: Path,
    base_url: str | None = None,
    on_line: LineSink = lambda line: None,
    k6_duration: str = "10s",
    k6_vus: int = 1,
    lighthouse_presets: tuple[str, ...] = ("desktop", "mobile"),
) -> SuiteRun:
    """Run the suite's kinds (default: the pytest kinds it has) and collect every row."""
    suite_dir = suite_dir.resolve()
    manifest = Manifest.read(suite_dir)
    chosen = _chosen_kinds(manifest, kinds, suite_dir)
    target = (base_url or manifest.base_url).rstrip("/")
    out_dir = out_dir.resolve()
    env = suite_env(settings, target)
    secrets = Masker.from_settings(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = SuiteRun(
        suite=manifest.slug,
        service=manifest.service,
        suite_dir=str(suite_dir),
        out_dir=str(out_dir),
        base_url=target,
        kinds=chosen,
        started_at=datetime.now(UTC),
    )
    started = time.monotonic()
    for kind in chosen:
        cases, file = _run_kind(
            kind,
            suite_dir,
            base_url=target,
            env=env,
            settings=settings,
            out_dir=out_dir,
            on_line=on_line,
            secrets=secrets,
            k6_duration=k6_duration,
            k6_vus=k6_vus,
            lighthouse_presets=lighthouse_presets,
        )
        # A service can echo a credential into a failure message: rows are masked too.
        run.cases += [c.model_copy(update={"test": secrets(c.test), "message": secrets(c.message)}) for c in cases]
        run.files[kind] = str(file)
    run.duration_s = round(time.monotonic() - started, 3)
    run.files["junit"] = str(write_junit(run, out_dir / "junit.xml"))
    (out_dir / "suite-run.json").write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return run


def _chosen_kinds(manifest: Manifest, kinds: list[SuiteKind] | None, suite_dir: Path) -> list[SuiteKind]:
    """The kinds asked for (default: the pytest kinds the suite has); a kind the suite lacks raises."""
    chosen = list(kinds) if kinds else [k for k in manifest.kinds if k in PYTEST_KINDS]
    missing = [k for k in chosen if k not in manifest.kinds]
    if missing:
        raise SuiteRunError(
            f"suite {manifest.slug} has no {', '.join(missing)} part (it has {', '.join(manifest.kinds)})",
            location=str(suite_dir),
            tip="UI and Lighthouse parts need pages: regenerate with --page PATH or from a spec with HTML pages",
        )
    return chosen


def _run_kind(
    kind: SuiteKind,
    suite_dir: Path,
    *,
    base_url: str,
    env: dict[str, str],
    settings: LunaSettings,
    out_dir: Path,
    on_line: LineSink,
    secrets: Masker,
    k6_duration: str,
    k6_vus: int,
    lighthouse_presets: tuple[str, ...],
) -> tuple[list[CaseResult], Path]:
    """One part of the suite: its rows and the file they came from."""
    if kind in PYTEST_KINDS:
        return run_pytest_kind(suite_dir, kind, env=env, out_dir=out_dir, on_line=on_line, secrets=secrets)
    if kind == "k6":
        return run_k6_kind(
            suite_dir,
            env=env,
            settings=settings,
            out_dir=out_dir,
            on_line=on_line,
            secrets=secrets,
            duration=k6_duration,
            vus=k6_vus,
        )
    return run_lighthouse_kind(
        suite_dir,
        base_url=base_url,
        env=env,
        out_dir=out_dir,
        on_line=on_line,
        secrets=secrets,
        presets=lighthouse_presets,
    )
