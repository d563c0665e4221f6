"""What every discovery loader returns, the loader error, and the merge into an endpoints
file. Loaders share one naming scheme: `from_openapi`, `from_postman`, `from_har`, ...
each `(document: bytes | str, *, source: str, ...) -> Discovery`, raising LoaderError.

Loader error kinds (schemathesis-style): `syntax` (not JSON/YAML/XML), `format` (parsed,
but not this kind of document or an unsupported version), `invalid` (the document breaks
its own schema), `reference` (a $ref that cannot be resolved or leaves the allowed
origin), `too_large` (over the size limit or the expansion budget), `unsafe` (XML bombs, external
entities, YAML alias bombs).

Limits (`DiscoveryLimits`): the document size is the setting LUNA_DISCOVERY_MAX_BYTES
(default 20 MB); sample generation and schema inlining have node budgets per operation
and per spec. `load_source` makes the limits of the run current (`limits.active()`);
loaders called directly use the defaults.

Destructive detection is one function for every loader (`destructive_reason`): a DELETE,
or a write (POST/PUT/PATCH, a GraphQL mutation) whose operation id, path or summary has a
destructive word (delete, remove, purge, reset, bulk, admin, ...).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from luna.errors import LoaderError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # default of the setting LUNA_DISCOVERY_MAX_BYTES
MAX_BYTES_SETTING = "LUNA_DISCOVERY_MAX_BYTES"


class DiscoveryLimits(BaseModel):
    """How far discovery may go on one source. Budgets count values (JSON nodes)."""

    max_bytes: int = Field(MAX_DOCUMENT_BYTES, ge=1, description="Largest document read (LUNA_DISCOVERY_MAX_BYTES).")
    sample_nodes_per_operation: int = Field(2_000, ge=1, description="Values in one generated body or parameter.")
    schema_nodes_per_operation: int = Field(5_000, ge=1, description="Values in one inlined response schema.")
    nodes_per_spec: int = Field(
        2_000_000, ge=1, description="Sampled plus inlined values for a whole spec; past it: too_large."
    )

    @contextlib.contextmanager
    def active(self) -> Iterator[DiscoveryLimits]:
        """Make these the limits of the loaders called inside the block."""
        token = _LIMITS.set(self)
        try:
            yield self
        finally:
            _LIMITS.reset(token)


_LIMITS: ContextVar[DiscoveryLimits | None] = ContextVar("luna_discovery_limits", default=None)


def current_limits() -> DiscoveryLimits:
    """The limits `load_source` made current, else the defaults."""
    return _LIMITS.get() or DiscoveryLimits()


def too_large(size: int, source: str, limit: int | None = None) -> LoaderError:
    limit = limit or current_limits().max_bytes
    return LoaderError(
        "too_large",
        f"{size} bytes is over the {limit} byte limit of {MAX_BYTES_SETTING}",
        location=source,
        tip=f"raise {MAX_BYTES_SETTING} (bytes), split the document, or discover from a smaller export",
    )


class DiscoveredEndpoint(BaseModel):
    """One operation found in a source, in the endpoints file's terms."""

    name: str = Field(description="Readable unique-ish name; made unique and tag-safe on merge.")
    group: str = "default"
    type: Literal["rest", "graphql"] = "rest"
    method: str = "GET"
    path: str = Field(description="Path (with query string) appended to BASE_URL; starts with '/'.")
    weight: float | None = Field(None, description="None = reads weigh 3, writes 1.")
    body: Any = None
    query: str | None = None
    variables: dict[str, Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    checks: dict[str, Any] = Field(default_factory=dict)
    response_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema of the success response (specs only); generated API suites validate against it."
    )
    response_type: str | None = Field(None, description="Media type of the success response; text/html is a page.")
    destructive: bool = Field(
        False, description="DELETE, a write named like one (destructive_reason), or a write to production."
    )
    destructive_reason: str | None = Field(None, description="Why it is marked destructive, for the warnings.")
    needs_input: str | None = Field(
        None,
        description="Why Luna cannot call it with values of its own (tasks/discovery/needs.py); left out of loads.",
    )
    source: str = Field("", description="Where it was found, e.g. 'openapi.yaml#/paths/~1users/get'.")


class Discovery(BaseModel):
    """A loader's result: endpoints, plus warnings worth showing the user."""

    source: str
    kind: str = Field(description="openapi | swagger | postman | har | wsdl | graphql | url")
    title: str | None = None
    base_url: str | None = Field(None, description="Server URL the source declares, if any.")
    endpoints: list[DiscoveredEndpoint] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    api_found: bool = Field(True, description="False when probing a URL found no API description (only crawled pages).")


class DiscoveryResult(BaseModel):
    """What the `discover` flow hands on: the endpoints file written and what is in it."""

    out: str = Field(description="The endpoints file written.")
    service: str = Field(description="Service name in the endpoints file.")
    target: str | None = Field(None, description="URL of the service under test recorded in the file, if any.")
    endpoints: list[str] = Field(default_factory=list, description="Names of the endpoints written.")
    destructive: int = Field(0, description="How many of them are marked destructive.")
    warnings: list[str] = Field(default_factory=list, description="Every source's warnings, prefixed by source.")


def check_size(document: bytes | str, source: str) -> None:
    """LoaderError `too_large` past the current LUNA_DISCOVERY_MAX_BYTES."""
    size = len(document.encode() if isinstance(document, str) else document)
    if size > current_limits().max_bytes:
        raise too_large(size, source)


# Stems of words that mark a write as destructive (matched at the start of each word of the
# operation id, path and summary: "bulk_delete", "deleteUser", "Reset Limit", "/admin/...").
DESTRUCTIVE_STEMS = (
    "delet",
    "remov",
    "destroy",
    "purg",
    "drop",
    "wipe",
    "eras",
    "truncat",
    "reset",
    "clear",
    "flush",
    "revok",
    "terminat",
    "kill",
    "shutdown",
    "restart",
    "cancel",
    "bulk",
    "paus",
    "disabl",
    "deactivat",
    "archiv",
    "suspend",
    "admin",
)


def words(text: str | None) -> list[str]:
    """Lower-case words of an identifier or sentence: camelCase, snake_case, paths."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text or "")
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def destructive_reason(method: str, *, write: bool, **texts: str | None) -> str | None:
    """Why an operation is destructive, or None. A DELETE always is; a write (POST, PUT,
    PATCH, a GraphQL mutation) is when a word of its texts (operation id, path, summary,
    GraphQL field name: the keyword names say which) starts with a destructive stem.
    Reads never are: the HTTP method says they are safe. The one function for every loader."""
    if method.upper() == "DELETE":
        return "a DELETE"
    if not write:
        return None
    found = [(where, word) for where, text in texts.items() for word in words(text)]
    for stem in DESTRUCTIVE_STEMS:  # the strongest word first: 'delete' before 'bulk'
        for where, word in found:
            if word.startswith(stem):
                return f"'{word}' in its {where.replace('_', ' ')}"
    return None


def destructive_summary(endpoints: list[DiscoveredEndpoint], limit: int = 8) -> str | None:
    """One warning naming the writes marked by their words (DELETEs go without saying)."""
    named = [e for e in endpoints if e.destructive and e.destructive_reason and e.method != "DELETE"]
    if not named:
        return None
    shown = ", ".join(
        f"{e.name if e.type == 'graphql' else e.method + ' ' + e.path.split('?')[0]} ({e.destructive_reason})"
        for e in named[:limit]
    )
    more = f" and {len(named) - limit} more" if len(named) > limit else ""
    return f"marked {len(named)} writes destructive by their names: {shown}{more}"


NON_PRODUCTION_LABELS = frozenset(
    [
        "dev",
        "develop",
        "development",
        "test",
        "testing",
        "qa",
        "uat",
        "stage",
        "staging",
        "stg",
        "sandbox",
        "preview",
        "demo",
        "local",
        "localhost",
        "ci",
        "perf",
        "load",
        "mock",
        "example",
        "internal",
    ]
)
NON_PRODUCTION_SUFFIXES = (".local", ".localhost", ".test", ".example", ".invalid", ".internal", ".lan", ".home.arpa")


def production_looking(url: str | None) -> bool:
    """Does this target look like production? Loopback, private and link-local addresses,
    reserved names (.test, .local, ...) and hosts with a label such as dev, test, qa,
    staging, sandbox or preview do not; anything else does. Writes against a production-
    looking target are marked destructive."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = set(re.split(r"[.\-]", host))
        return not (host.endswith(NON_PRODUCTION_SUFFIXES) or labels & NON_PRODUCTION_LABELS or "." not in host)
    return not (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved)


def mark_production_writes(discoveries: list[Discovery], target: str | None = None) -> int:
    """Mark writes (POST/PUT/PATCH, GraphQL mutations) destructive when the target (or,
    without one, the source's own server URL) looks like production; returns how many."""
    marked = 0
    for discovery in discoveries:
        where = target or discovery.base_url
        if not production_looking(where):
            continue
        count = 0
        for ep in discovery.endpoints:
            write = ep.method.upper() in ("POST", "PUT", "PATCH") and not (
                ep.type == "graphql" and not (ep.query or "").lstrip().startswith("mutation")
            )
            if write and not ep.destructive:
                ep.destructive, count = True, count + 1
        if count:
            discovery.warnings.append(
                f"{where} looks like production: {count} write operations marked destructive "
                "(left out unless include_destructive)"
            )
        marked += count
    return marked


def no_api_warning(discoveries: list[Discovery]) -> str | None:
    """The warning for sources that gave pages but no API description, or None."""
    missing = [d for d in discoveries if not d.api_found]
    if not missing:
        return None
    pages = sum(len(d.endpoints) for d in missing)
    where = ", ".join(d.source for d in missing)
    return (
        f"no API found at {where}: no spec or GraphQL endpoint answered, only {pages} page(s) were crawled, "
        "so no API is exercised; pass the spec (--source / --spec) to test the API"
    )
