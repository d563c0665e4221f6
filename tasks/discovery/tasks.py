"""The discovery stage as Prefect tasks: load each source, merge, write the endpoints file,
publish a table of what was found and the warnings."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from luna.catalog import Catalog
from luna.errors import ConfigError
from luna.keys import artifact_key
from luna.markdown import md
from tasks.discovery.merge import merge_catalog
from tasks.discovery.model import (
    Discovery,
    DiscoveryLimits,
    DiscoveryResult,
    mark_production_writes,
)
from tasks.discovery.sources import load_source, origin


@task(name="discover-source")
def discover_source(source: str, limits: DiscoveryLimits, postman_environment: str | None = None) -> Discovery:
    """One source -> endpoints (raises LoaderError with kind, location and tip)."""
    found = load_source(source, postman_environment=postman_environment, limits=limits)
    get_run_logger().info(
        "%s: %s, %d endpoints, %d warnings", source, found.kind, len(found.endpoints), len(found.warnings)
    )
    return found


def write_endpoints_file(
    discoveries: list[Discovery],
    out: Path,
    *,
    service: str,
    include_destructive: bool,
    overwrite: bool = False,
    target: str | None = None,
) -> Catalog:
    """Merge and write; returns what was written, as a Catalog. Writes against a
    production-looking target (or source server) are marked destructive first. `target` is
    the URL the user named: it is recorded in the file (generated suites default to it);
    without one, the origin of the first source that is a URL is (the user named it). A
    spec's own servers are never recorded as it. Sources without any endpoint raise before
    anything is written."""
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists", tip="pass another output file, or allow overwriting (--force)")
    mark_production_writes(discoveries, target)
    target = target or next(
        (origin(d.source) for d in discoveries if d.source.startswith(("http://", "https://"))), None
    )
    data, catalog = merge_catalog(discoveries, service=service, include_destructive=include_destructive, target=target)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return catalog


@task(name="write-endpoints")
def write_endpoints(
    discoveries: list[Discovery],
    out: str,
    service: str,
    include_destructive: bool,
    overwrite: bool = False,
    target: str | None = None,
) -> DiscoveryResult:
    """Merge and write the endpoints file; publish the discovery artifacts."""
    catalog = write_endpoints_file(
        discoveries,
        Path(out),
        service=service,
        include_destructive=include_destructive,
        overwrite=overwrite,
        target=target,
    )
    publish_discovery(discoveries, catalog, out)
    return discovery_result(discoveries, catalog, out)


def discovery_result(discoveries: list[Discovery], catalog: Catalog, out: str) -> DiscoveryResult:
    """The typed hand-off of an endpoints file just written (`catalog` is what was written)."""
    return DiscoveryResult(
        out=out,
        service=catalog.service,
        target=catalog.target,
        endpoints=[e.name for e in catalog.endpoints],
        destructive=len(catalog.destructive()),
        warnings=[f"{d.source}: {w}" for d in discoveries for w in d.warnings],
    )


def publish_discovery(discoveries: list[Discovery], catalog: Catalog, out: str) -> None:
    """The discovery artifacts (inside a task or flow): a table of the endpoints written,
    and the warnings as markdown."""
    service = catalog.service
    create_table_artifact(
        key=artifact_key("luna-discovery", service, "endpoints"),
        table=[
            {
                "name": e.name,
                "group": e.group,
                "type": e.type,
                "method": e.method,
                "path": e.path,
                "weight": int(e.weight) if e.weight.is_integer() else e.weight,  # 3, as the file says, not 3.0
                "destructive": e.destructive,
            }
            for e in catalog.endpoints
        ],
        description=f"{len(catalog.endpoints)} endpoints written to {out}",
    )
    warnings = [f"- {d.source}: {w}" for d in discoveries for w in d.warnings]
    marked = len(catalog.destructive())
    if marked:
        warnings.append(
            f"- marked {marked} destructive operations; load runs leave them out unless include_destructive"
        )
    create_markdown_artifact(
        key=artifact_key("luna-discovery", service, "warnings"),
        markdown="# Discovery warnings\n\n" + ("\n".join(md(w) for w in warnings) if warnings else "None."),
    )
