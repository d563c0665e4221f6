"""Values for schema types and string formats, for the discovery loaders that must invent a
request value. Reserved names only (RFC 2606 example.com, loopback addresses), so a
service that follows a value contacts nobody."""

from __future__ import annotations

from typing import Any

FIXED_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# A value for each JSON Schema / OpenAPI string format.
FORMATS: dict[str, str] = {
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00Z",
    "duration": "P1D",
    "uuid": FIXED_UUID,
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "/sample",
    "iri-reference": "/sample",
    "uri-template": "https://example.com/{id}",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "byte": "c2FtcGxl",
    "binary": "sample",
    "password": "sample-password",
    "json-pointer": "/sample",
    "relative-json-pointer": "0",
    "regex": "^sample$",
    "int32": "1",
    "int64": "1",
    "decimal": "1.0",
}


def declared(schema: dict[str, Any]) -> tuple[bool, Any]:
    """(True, value) when the schema itself names a value to use."""
    for key in ("example", "default", "const"):
        if key in schema:
            return True, schema[key]
    for key in ("examples", "enum"):
        values = schema.get(key)
        if isinstance(values, list) and values:
            return True, values[0]
    return False, None


def type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def number_value(schema: dict[str, Any], kind: str) -> int | float:
    """1, moved into [minimum, maximum] (exclusive bounds respected)."""

    def bound(key: str) -> float | None:
        value = schema.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    low, high = bound("minimum"), bound("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1.0 if kind == "integer" else 0.5
    if isinstance(ex_low, int | float) and not isinstance(ex_low, bool):  # 3.1: a number
        low = float(ex_low) + step
    elif ex_low is True and low is not None:  # 3.0: a flag on minimum
        low += step
    if isinstance(ex_high, int | float) and not isinstance(ex_high, bool):
        high = float(ex_high) - step
    elif ex_high is True and high is not None:
        high -= step
    value = 1.0
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return int(value) if kind == "integer" else value


def string_value(schema: dict[str, Any]) -> str:
    text = FORMATS.get(str(schema.get("format")), "sample")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low <= 10_000:
        text += "x" * (low - len(text))
    if isinstance(high, int) and 0 <= high < len(text):
        text = text[:high]
    return text
