"""Parameters of the `run_suite` flow (the Prefect UI builds its run form from these).

Here rather than in flows/run_suite.py so that `luna run-tests --no-prefect` builds them
without importing Prefect."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tasks.generation.model import SuiteKind

Preset = Literal["desktop", "mobile"]
PRESETS: tuple[Preset, ...] = ("desktop", "mobile")


class RunSuiteParams(BaseModel):
    """Which suite to run, against what, and what a failing test does to the run."""

    name: str = Field(
        min_length=1, description="Suite name (its folder under suites_dir, see `luna gen-list`) or path."
    )
    kinds: list[SuiteKind] | None = Field(
        None, description="Parts to run: api, ui, k6, lighthouse (default: api and ui, those it has)."
    )
    base_url: str | None = Field(None, description="Target (default: the URL the suite was generated from).")
    suites_dir: str = Field("suites", description="Folder that holds the suites.")
    out_dir: str | None = Field(None, description="Results folder (default: <LUNA_OUT_DIR>/suites/<suite>-<time>).")
    k6_duration: str = Field("10s", pattern=r"^(\d+(\.\d+)?(ms|s|m|h))+$", description="How long the k6 part runs.")
    k6_vus: int = Field(1, ge=1, le=1000, description="Virtual users per endpoint group in the k6 part.")
    lighthouse_presets: list[Preset] = Field(
        default_factory=lambda: list(PRESETS), min_length=1, description="Lighthouse presets to audit with."
    )
    on_failure: Literal["fail", "complete"] = Field(
        "fail", description="fail = the flow run ends Failed when a test fails (CI); complete = Completed anyway."
    )
