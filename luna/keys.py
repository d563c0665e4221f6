"""Prefect artifact keys: lowercase letters, digits and dashes only."""

from __future__ import annotations


def slug(text: str, limit: int = 60) -> str:
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)[:limit].strip("-") or "service"


def artifact_key(kind: str, service: str | None, profile: str) -> str:
    """`<kind>-<service-slug>-<profile>`, e.g. luna-history-my-api-smoke."""
    return f"{kind}-{slug(service or 'service')}-{profile}"
