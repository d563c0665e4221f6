"""Prefect artifact keys: lowercase letters, digits and dashes only.

A service's part of a key is a readable slug of its name plus the first 8 hex digits of the
SHA-256 of the exact name, so two names never share a key (history, baseline, reports):
"My API" -> `my-api-<hash>` and "my_api" -> `my-api-<other hash>`; "決済サービス" ->
`service-<hash>` (no ASCII letters to keep). `service_key_pattern` is the SQL LIKE pattern
that finds one service's keys of a kind, every profile, and no other service's.
History written under the older slug-only keys is still read (`legacy_artifact_key`), with
its rows filtered by the exact name.
"""

from __future__ import annotations

import hashlib

HASH_DIGITS = 8


def slug(text: str, limit: int = 60) -> str:
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)[:limit].strip("-") or "service"


def service_key(service: str | None) -> str:
    """`<slug>-<8 hex of sha256(exact name)>`, e.g. my-api-1b2c3d4e."""
    name = service or ""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_DIGITS]
    return f"{slug(name or 'service', 40)}-{digest}"


def artifact_key(kind: str, service: str | None, profile: str) -> str:
    """`<kind>-<service key>-<profile>`, e.g. luna-history-my-api-1b2c3d4e-smoke."""
    return f"{kind}-{service_key(service)}-{profile}"


def service_key_pattern(kind: str, service: str) -> str:
    """LIKE pattern for every `artifact_key(kind, service, <profile>)`. Slugs hold no '_'
    or '%', and the hash makes the prefix unique to the exact name."""
    return f"{kind}-{service_key(service)}-%"


def legacy_artifact_key(kind: str, service: str | None, profile: str) -> str:
    """The key before the hash (Luna < 2026-12): read for history only, rows then filtered by
    their exact service name, so earlier runs still count and never another service's."""
    return f"{kind}-{slug(service or 'service')}-{profile}"
