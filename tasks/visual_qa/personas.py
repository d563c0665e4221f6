"""The persona file (`personas.yaml` beside this module, or LUNA's own copy) and the
viewports the personas look through."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from luna.errors import ConfigError, did_you_mean

PERSONAS_FILE = Path(__file__).with_name("personas.yaml")
ViewportName = Literal["desktop", "tablet", "mobile"]
Shot = Literal["fold", "full"]
ALL_SHOTS: tuple[Shot, ...] = ("fold", "full")


class Viewport(BaseModel):
    name: ViewportName
    width: int
    height: int
    mobile: bool


VIEWPORTS: dict[str, Viewport] = {
    "desktop": Viewport(name="desktop", width=1366, height=768, mobile=False),
    "tablet": Viewport(name="tablet", width=820, height=1180, mobile=True),
    "mobile": Viewport(name="mobile", width=390, height=844, mobile=True),
}


class Persona(BaseModel):
    """One tester persona: who they are, what they look at and for."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    name: str = Field(min_length=1)
    focus: str = Field(min_length=1)
    viewport: ViewportName
    instructions: str = Field(min_length=1)
    looks_for: list[str] = Field(min_length=1)
    screenshots: list[Shot] = Field(default_factory=lambda: list(ALL_SHOTS), min_length=1)


def load_personas(path: Path = PERSONAS_FILE) -> list[Persona]:
    """Every persona in the file, validated; a bad entry raises ConfigError naming it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"persona file {path} not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(
            "persona file is not valid YAML", location=where, tip="check quoting and indentation"
        ) from None
    if not isinstance(data, list):
        raise ConfigError("persona file must be a list of personas", location=str(path))
    personas: list[Persona] = []
    for i, entry in enumerate(data):
        where = f"{path} entry {i + 1}" + (f" ({entry.get('id')})" if isinstance(entry, dict) else "")
        try:
            personas.append(Persona.model_validate(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "entry"
            tip = did_you_mean(field, Persona.model_fields) if err["type"] == "extra_forbidden" else None
            raise ConfigError(f"persona field {field}: {err['msg']}", location=where, tip=tip) from None
    seen: set[str] = set()
    for p in personas:
        if p.id in seen:
            raise ConfigError(f"persona id {p.id!r} appears twice", location=str(path), tip="ids must be unique")
        seen.add(p.id)
    return personas


def select(personas: list[Persona], agents: str | list[str] | None) -> list[Persona]:
    """The personas named in `agents` (ids, comma-separated or a list; 'all' or empty = all)."""
    if agents is None:
        return personas
    names = [a.strip() for a in (re.split(r"[,\s]+", agents) if isinstance(agents, str) else agents) if a.strip()]
    if not names or names == ["all"]:
        return personas
    by_id = {p.id: p for p in personas}
    for name in names:
        if name not in by_id:
            raise ConfigError(
                f"unknown persona {name!r}",
                tip=did_you_mean(name, by_id) or "`luna vqa-agents` lists the persona ids",
            )
    return [by_id[n] for n in dict.fromkeys(names)]
