"""The generation stage's entry points (plain functions, no Prefect): generate a suite
from an endpoints file and/or sources, and list the suites generated so far."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from luna.catalog import Catalog, load_catalog
from luna.settings import LunaSettings
from tasks.discovery.model import Discovery, DiscoveryLimits
from tasks.generation.inputs import build_spec, discover_url
from tasks.generation.model import KINDS, MANIFEST, Manifest, SuiteKind
from tasks.generation.safe import GenerationError
from tasks.generation.write import GeneratedSuite, write_suite


class GenerateParams(BaseModel):
    """What to generate suites from, and where they go."""

    url: str | None = Field(
        None, description="Live service URL: its OpenAPI spec is read from the URL or URL/openapi.json."
    )
    config: str | None = Field(None, description="Endpoints file to generate from (the endpoints to test).")
    specs: list[str] = Field(
        default_factory=list, description="Spec files or URLs (OpenAPI, Postman, HAR) for schemas, pages or endpoints."
    )
    service: str | None = Field(None, max_length=200, description="Service name (default: from the file or spec).")
    base_url: str | None = Field(
        None,
        description="Target the suite defaults to (default: the URL; else the endpoints file's recorded target; "
        "else BASE_URL). A spec's servers/host is never used.",
    )
    pages: list[str] = Field(default_factory=list, description="Extra page paths for the UI and Lighthouse suites.")
    kinds: list[SuiteKind] = Field(default_factory=lambda: list(KINDS), min_length=1, description="Suites to generate.")
    out_dir: str = Field("suites", description="Folder that holds one folder per service.")
    include_destructive: bool = Field(False, description="Keep DELETE operations found by discovery.")

    @model_validator(mode="after")
    def _some_source(self) -> GenerateParams:
        if not (self.url or self.config or self.specs):
            raise ValueError("give a live URL, an endpoints file or a spec")
        return self


def generate_suite(params: GenerateParams, settings: LunaSettings) -> GeneratedSuite:
    """Read the inputs, build the spec, write ``<out_dir>/<service>/`` (raises LunaError).

    The suite's default target is the URL the user named: `base_url` (--target), the live
    URL (--url), the endpoints file's recorded `target`, else BASE_URL. The servers or host
    a spec declares are shown as information and never become the target."""
    from tasks.discovery.sources import load_source

    discoveries: list[Discovery] = []
    sources: list[str] = []
    base_url = params.base_url
    limits = DiscoveryLimits(max_bytes=settings.luna_discovery_max_bytes)
    if params.url:
        found, base = discover_url(params.url, limits=limits)
        discoveries.append(found)
        sources.append(found.source)
        base_url = base_url or base
    for source in params.specs:
        found = load_source(source, limits=limits)
        discoveries.append(found)
        sources.append(source)
    catalog: Catalog | None = None
    if params.config:
        catalog = load_catalog(Path(params.config))
        sources.insert(0, params.config)
        base_url = base_url or catalog.target
    target = (base_url or settings.base_url).rstrip("/")
    spec = build_spec(
        catalog=catalog,
        discoveries=discoveries,
        base_url=target,
        service=params.service,
        pages=params.pages,
        sources=sources,
        include_destructive=params.include_destructive,
        data_root=Path(params.config).parent if params.config else None,
    )
    return write_suite(spec, Path(params.out_dir), list(params.kinds))


def list_suites(root: Path) -> list[tuple[Path, Manifest | None, str | None]]:
    """Every folder of `root` with a manifest: (folder, manifest or None, problem or None)."""
    out: list[tuple[Path, Manifest | None, str | None]] = []
    if not root.is_dir():
        return out
    for path in sorted(root.glob(f"*/{MANIFEST}")):
        try:
            out.append((path.parent, Manifest.read(path.parent), None))
        except GenerationError as exc:
            out.append((path.parent, None, exc.message))
    return out
