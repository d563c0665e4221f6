"""The endpoints file (the seed README's "Endpoints Config"), as pydantic models.

`load_catalog(path)` is the only way in: it returns a validated :class:`Catalog` or raises
:class:`~luna.errors.EndpointsFileError` naming the file, the JSON pointer of the bad
value, and a tip (with the nearest valid key for a typo).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from luna.errors import EndpointsFileError, did_you_mean

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
# A body or GraphQL variables nested deeper than this is refused where it is read (with the
# file and pointer), not deep inside generation or a JSON dump as a bare RecursionError.
MAX_NESTING = 64


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in JSON-like data (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _shallow(value: Any) -> Any:
    depth = nesting_depth(value)
    if depth > MAX_NESTING:
        raise ValueError(f"nested {depth} levels deep; the limit is {MAX_NESTING}")
    return value


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class _Strict(BaseModel):
    # strict: JSON true is not a number (`"weight": true` would read as 1), "5" is not 5.
    model_config = ConfigDict(extra="forbid", strict=True)


class SLOs(_Strict):
    """Service-level objectives. Per-endpoint overrides take any subset of these."""

    p95_ms: float = Field(500, gt=0, description="95th percentile latency target, in ms.")
    error_rate: float = Field(0.01, ge=0, le=1, description="Largest acceptable share of failed requests.")
    apdex_score: float = Field(0.85, ge=0, le=1, description="Smallest acceptable Apdex score.")
    apdex_t_ms: float = Field(500, gt=0, description="Apdex T: satisfied if <= T, tolerating if <= 4T.")
    check_pass_rate: float = Field(
        1.0, ge=0, le=1, description="Smallest acceptable share of passing checks (1 = every check passes)."
    )
    abort_on_breach: bool = Field(
        False,
        description="Stop k6 as soon as the run as a whole breaches p95_ms or error_rate (k6's abortOnFail); "
        "the run fails on what was measured until then.",
    )
    abort_after_s: float = Field(
        10, ge=0, description="abort_on_breach judges only after this many seconds of the run (k6's delayAbortEval)."
    )


class SLOOverride(_Strict):
    p95_ms: float | None = Field(None, gt=0)
    error_rate: float | None = Field(None, ge=0, le=1)
    apdex_score: float | None = Field(None, ge=0, le=1)
    apdex_t_ms: float | None = Field(None, gt=0)
    check_pass_rate: float | None = Field(None, ge=0, le=1)


class Checks(_Strict):
    """Pass/fail assertions on each response; every key is optional."""

    status: int | list[int] | None = Field(None, description="Expected HTTP status code(s).")
    body_path: str | None = Field(None, min_length=1, description="Dot-path that must exist and be non-null.")
    header_present: str | None = Field(None, min_length=1, description="Response header that must be present.")
    max_duration_ms: float | None = Field(None, gt=0, description="Request must complete within N ms.")
    body_contains: str | None = Field(None, min_length=1, description="Substring the body must contain.")
    no_graphql_errors: bool | None = Field(None, description="GraphQL `errors` must be absent.")
    has_data: bool | None = Field(None, description="GraphQL `data` must be non-null.")

    @model_validator(mode="after")
    def _status_range(self) -> Checks:
        codes = self.status if isinstance(self.status, list) else [] if self.status is None else [self.status]
        for code in codes:
            if not 100 <= code <= 599:
                raise ValueError(f"status {code} is not an HTTP status code (100-599)")
        return self


class Endpoint(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Unique identifier, used as the metric tag.")
    group: str = Field(min_length=1, max_length=100, description="Group label for aggregation.")
    type: Literal["rest", "graphql"] = "rest"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] | None = None
    path: str = Field(pattern=r"^/", description="Path appended to BASE_URL.")
    weight: float = Field(1, gt=0, le=1_000_000, description="Relative selection probability.")
    body: Annotated[Any, AfterValidator(_shallow)] = None
    query: str | None = Field(None, min_length=1)
    variables: Annotated[dict[str, Any] | None, AfterValidator(_shallow)] = None
    headers: dict[str, str] = Field(default_factory=dict)
    checks: Checks = Field(default_factory=Checks)
    data_file: str | None = Field(None, min_length=1, description="CSV (or JSON array) file of rows.")
    slos: SLOOverride | None = None
    destructive: bool = Field(
        False,
        description="Marked by discovery (a DELETE, or a write against a production-looking target): "
        "left out of load runs unless the run includes destructive operations.",
    )
    needs_input: str | None = Field(
        None,
        min_length=1,
        description="Marked by discovery: why Luna cannot call it with values of its own (a value the server "
        "issues, an operation that issues an anti-forgery token). Load runs and generated suites leave it out; give it "
        "real values and remove the mark to run it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _upper_method(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return data

    @model_validator(mode="after")
    def _by_type(self) -> Endpoint:
        if self.type == "graphql":
            if not self.query:
                raise ValueError("a graphql endpoint needs a 'query'")
            if self.body is not None:
                raise ValueError("'body' is for rest endpoints; a graphql endpoint sends 'query' and 'variables'")
            self.method = self.method or "POST"
        else:
            if self.query is not None or self.variables is not None:
                raise ValueError("'query' and 'variables' are for graphql endpoints; a rest endpoint sends 'body'")
            self.method = self.method or "GET"
        return self

    def effective_slos(self, service: SLOs) -> SLOs:
        if self.slos is None:
            return service
        return service.model_copy(update=self.slos.model_dump(exclude_none=True))


class DiscoveryNote(_Strict):
    """What discovery recorded: where the endpoints came from and what it could not find."""

    sources: list[str] = Field(default_factory=list, description="The sources discovered.")
    api_found: bool = Field(True, description="False when probing a URL found no API, only pages.")
    declared_servers: list[str] = Field(
        default_factory=list, description="Servers the sources declare: information only, never a target."
    )
    warnings: list[str] = Field(default_factory=list, description="What the user must know (no API found).")


class Catalog(_Strict):
    service: str = Field(min_length=1, max_length=200)
    target: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="The URL the user named at discovery (--target, --url, BASE_URL); generated suites default to it.",
    )
    discovery: DiscoveryNote | None = Field(None, description="Written by `luna discover`.")
    slos: SLOs = Field(default_factory=SLOs)
    endpoints: list[Endpoint] = Field(min_length=1)

    def destructive(self) -> list[str]:
        return [e.name for e in self.endpoints if e.destructive]

    def needs_input(self) -> list[str]:
        return [e.name for e in self.endpoints if e.needs_input]

    @field_validator("endpoints")
    @classmethod
    def _unique_names(cls, endpoints: list[Endpoint]) -> list[Endpoint]:
        seen: dict[str, int] = {}
        for i, endpoint in enumerate(endpoints):
            if endpoint.name in seen:
                raise ValueError(
                    f"endpoint name '{endpoint.name}' is used twice (endpoints {seen[endpoint.name]} "
                    f"and {i}); names must be unique"
                )
            seen[endpoint.name] = i
        return endpoints


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(p) for p in loc)


def _valid_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model found at `loc` (the parent of an unknown key)."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            inner = getattr(candidate, "__args__", (candidate,))
            found = next((c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)), None)
            if found is None and isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found = candidate
            if found is not None:
                current = found
                break
        else:
            return []
    return list(current.model_fields)


def parse_catalog(data: Any, *, source: str) -> Catalog:
    """Validate already-parsed JSON; `source` names it in errors."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        # model_validator errors on a list item carry no field: point at the item.
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            tip = did_you_mean(key, _valid_keys(Catalog, loc[:-1]))
            message = f"unknown key '{key}'"
        else:
            tip = None
            message = err["msg"].removeprefix("Value error, ")
            if isinstance(err.get("input"), bool) and err["type"] in ("float_type", "int_type"):
                message = f"expected a number, not {json.dumps(err['input'])}"
            if err["type"] == "string_pattern_mismatch" and loc[-1] == "name":
                tip = "names are metric tags: use letters, digits, '_', '.' and '-' (max 100)"
            elif err["type"] == "string_pattern_mismatch" and loc[-1] == "path":
                tip = "paths start with '/' and are appended to BASE_URL"
        if tip is None:
            tip = "see the Endpoints Config section of README.md"
        location = f"{source}#{_pointer(loc)}" if loc else source
        raise EndpointsFileError(message, location=location, tip=tip) from None


def load_catalog(path: Path) -> Catalog:
    """Read and validate an endpoints file."""
    if not path.is_file():
        raise EndpointsFileError(
            f"{path} does not exist",
            tip="pass --config FILE or create k6/config/endpoints.json (luna discover can write one)",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EndpointsFileError(
            f"not valid JSON: {exc.msg}", location=f"{path}:{exc.lineno}:{exc.colno}", tip="fix the JSON syntax"
        ) from None
    except UnicodeDecodeError:
        raise EndpointsFileError(f"{path} is not UTF-8 text", tip="save the file as UTF-8 JSON") from None
    except RecursionError:
        raise EndpointsFileError(
            "JSON nested too deeply to read", location=str(path), tip="flatten the file's nesting"
        ) from None
    return parse_catalog(data, source=str(path))
