"""Parameters of the `lighthouse_audit` flow (the Prefect UI builds its run form from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tasks.audit.budgets import Budgets


class LighthouseParams(BaseModel):
    urls: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8787/"],
        min_length=1,
        max_length=50,
        description="Pages to audit (full http(s) URLs).",
    )
    preset: Literal["desktop", "mobile", "both"] = Field("desktop", description="Lighthouse preset(s) to run.")
    budgets: Budgets = Field(default_factory=Budgets, description="Score minimums and metric maximums.")
    run_id: str | None = Field(None, description="Run id (default: generated).")
