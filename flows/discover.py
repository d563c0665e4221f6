"""Flow `discover`: API specs, Postman collections and HAR files -> one endpoints file."""

from prefect import flow, unmapped
from pydantic import BaseModel, Field

from luna.settings import load_settings
from tasks.discovery.model import DiscoveryLimits, DiscoveryResult
from tasks.discovery.tasks import discover_source, write_endpoints


class DiscoverParams(BaseModel):
    """Where to discover endpoints from, and where the endpoints file goes."""

    sources: list[str] = Field(
        min_length=1,
        description="Files or URLs: OpenAPI/Swagger, Postman, HAR, WSDL, GraphQL (endpoint or SDL), or a base URL to probe.",
    )
    out: str = Field("k6/config/endpoints.json", description="Endpoints file to write.")
    service: str = Field("My API", min_length=1, description="Service name in the endpoints file.")
    include_destructive: bool = Field(
        False, description="Write destructive operations unmarked, so load runs run them (default: marked)."
    )
    postman_environment: str | None = Field(None, description="Postman environment file for {{variables}}.")
    overwrite: bool = Field(False, description="Replace the endpoints file if it exists.")
    target: str | None = Field(
        None,
        pattern=r"^https?://",
        description="URL of the service under test, recorded in the endpoints file (default: the first URL source's origin).",
    )


@flow(name="discover", log_prints=True)
def discover(params: DiscoverParams) -> DiscoveryResult:
    """Find the endpoints of every source and write one deduplicated endpoints file."""
    limits = DiscoveryLimits(max_bytes=load_settings().luna_discovery_max_bytes)
    found = discover_source.map(
        params.sources, postman_environment=unmapped(params.postman_environment), limits=unmapped(limits)
    )
    return write_endpoints(
        found,  # type: ignore[arg-type]  # Prefect resolves the futures to Discovery objects
        params.out,
        params.service,
        params.include_destructive,
        params.overwrite,
        params.target,
    )
