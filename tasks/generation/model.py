"""What generation works from and what it leaves behind.

:class:`SuiteSpec` is the generator's one input: the service, its base URL, SLOs, the
endpoints (the endpoints file's entries plus, from a spec, each response's JSON Schema and
media type) and the pages. :class:`Manifest` is ``luna-suite.json`` in each suite folder:
where the suite came from, when, and a hash per generated file (to spot hand edits).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from luna.catalog import Checks, SLOs
from tasks.generation.safe import GenerationError

MANIFEST = "luna-suite.json"
SuiteKind = Literal["api", "ui", "k6", "lighthouse"]
KINDS: tuple[SuiteKind, ...] = ("api", "ui", "k6", "lighthouse")


class SuiteEndpoint(BaseModel):
    """One endpoint to test: an endpoints-file entry plus what a spec said about its response."""

    name: str
    group: str
    type: Literal["rest", "graphql"] = "rest"
    method: str
    path: str
    body: Any = None
    query: str | None = None
    variables: dict[str, Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    checks: Checks = Field(default_factory=Checks)
    data_file: str | None = Field(
        None, description="Absolute path of the endpoint's data file (copied into the suite)."
    )
    weight: float = 1
    slos: SLOs = Field(
        default_factory=SLOs, description="Effective SLOs (service SLOs with this endpoint's overrides)."
    )
    response_schema: dict[str, Any] | None = None
    response_type: str | None = None


class Page(BaseModel):
    """A page of the service (an HTML response) for the UI and Lighthouse suites."""

    name: str
    path: str
    slos: SLOs = Field(default_factory=SLOs)


class SuiteSpec(BaseModel):
    service: str
    slug: str
    base_url: str
    sources: list[str] = Field(default_factory=list)
    slos: SLOs = Field(default_factory=SLOs)
    endpoints: list[SuiteEndpoint]
    pages: list[Page] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class Manifest(BaseModel):
    """``luna-suite.json``: one per suite folder."""

    luna_suite: int = 1
    service: str
    slug: str
    base_url: str
    sources: list[str]
    generated_at: datetime
    kinds: list[SuiteKind]
    tests: dict[str, int] = Field(default_factory=dict, description="Generated tests (api) or pages (ui) per kind.")
    files: dict[str, str] = Field(default_factory=dict, description="Generated file -> sha256 of its generated part.")

    @classmethod
    def read(cls, suite_dir: Path) -> Manifest:
        path = suite_dir / MANIFEST
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise GenerationError(
                f"{suite_dir} has no {MANIFEST}",
                location=str(suite_dir),
                tip="generate it with `luna gen-tests`; `luna gen-list` shows the suites",
            ) from None
        except (json.JSONDecodeError, ValidationError, UnicodeDecodeError) as exc:
            raise GenerationError(
                f"{MANIFEST} is not valid ({type(exc).__name__})",
                location=str(path),
                tip="regenerate the suite with `luna gen-tests`",
            ) from None

    def write(self, suite_dir: Path) -> None:
        (suite_dir / MANIFEST).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
