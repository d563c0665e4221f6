"""Sample values from (JSON) schemas, for discovery loaders that must invent a request.

`Sampler(deref).sample(schema, base)` prefers what the schema declares (example, examples,
default, const, enum) and otherwise generates a value from the type and format. `$ref`s
are followed through `deref`; a recursive schema is expanded at most MAX_DEPTH times
inside itself, nesting stops at MAX_NESTING and a node budget caps the size, so sampling
always ends.
`jsonable(value)` turns parsed YAML (dates, non-string keys, shared aliases) into plain
JSON values, refusing self-referencing or exploding alias structures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tasks.discovery.model import LoaderError

MAX_DEPTH = 3  # times one recursive $ref may be expanded inside itself
MAX_NESTING = 12
MAX_NODES = 5_000
MAX_JSON_NODES = 200_000
FIXED_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
FORMATS: dict[str, Any] = {
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00",
    "uuid": FIXED_UUID,
    "uri": "https://example.com",
    "url": "https://example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "byte": "c2FtcGxl",
    "password": "sample-password",
}

# deref(node, base) -> (resolved node, its document's URL, the $ref key followed or None)
Deref = Callable[[Any, str], tuple[Any, str, str | None]]


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


def _type_of(schema: dict[str, Any]) -> str | None:
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


class Sampler:
    def __init__(self, deref: Deref) -> None:
        self.deref = deref
        self.nodes = 0

    def sample(self, schema: Any, base: str, depth: int = 0, stack: tuple[str, ...] = ()) -> Any:
        self.nodes += 1
        schema, base, key = self.deref(schema, base)
        if not isinstance(schema, dict):
            return None
        if key is not None and stack.count(key) >= MAX_DEPTH or depth > MAX_NESTING or self.nodes > MAX_NODES:
            return {"object": {}, "array": []}.get(_type_of(schema) or "")
        stack = (*stack, key) if key else stack
        found, value = declared(schema)
        if found:
            return value
        if isinstance(schema.get("allOf"), list):
            merged: Any = None
            for part in schema["allOf"]:
                value = self.sample(part, base, depth, stack)
                merged = {**merged, **value} if isinstance(merged, dict) and isinstance(value, dict) else value
            return merged
        for key_name in ("oneOf", "anyOf"):
            options = schema.get(key_name)
            if isinstance(options, list) and options:
                real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return self.sample((real or options)[0], base, depth, stack)
        return self._by_type(schema, base, depth, stack)

    def _by_type(self, schema: dict[str, Any], base: str, depth: int, stack: tuple[str, ...]) -> Any:
        kind = _type_of(schema)
        if kind == "object":
            props = schema.get("properties")
            props = props if isinstance(props, dict) else {}
            required = schema.get("required")
            names = [str(n) for n in required] if isinstance(required, list) and required else list(props)
            return {str(n): self.sample(props.get(n, {"type": "string"}), base, depth + 1, stack) for n in names}
        if kind == "array":
            return [self.sample(schema.get("items", {"type": "string"}), base, depth + 1, stack)]
        if kind in ("integer", "number"):
            low = schema.get("minimum")
            value = low if isinstance(low, int | float) and not isinstance(low, bool) and low > 1 else 1
            return int(value) if kind == "integer" else value
        if kind == "boolean":
            return True
        if kind == "string":
            text = FORMATS.get(str(schema.get("format")), "sample")
            low, high = schema.get("minLength"), schema.get("maxLength")
            if isinstance(low, int) and len(text) < low <= 10_000:
                text += "x" * (low - len(text))
            if isinstance(high, int) and 0 <= high < len(text):
                text = text[:high]
            return text
        return None


def jsonable(value: Any, *, location: str) -> Any:
    """Plain JSON data from parsed YAML/JSON; LoaderError 'unsafe' for alias bombs or cycles."""
    count = 0

    def walk(node: Any, active: frozenset[int]) -> Any:
        nonlocal count
        count += 1
        if count > MAX_JSON_NODES or id(node) in active:
            raise LoaderError(
                "unsafe",
                "an example refers to itself or expands too far (YAML aliases)",
                location=location,
                tip="remove the recursive or repeated YAML anchors from the example",
            )
        if isinstance(node, dict):
            inner = active | {id(node)}
            return {str(k): walk(v, inner) for k, v in node.items()}
        if isinstance(node, list | tuple | set):
            inner = active | {id(node)}
            return [walk(v, inner) for v in node]
        if isinstance(node, dt.date | dt.datetime):
            return node.isoformat()
        if isinstance(node, bytes):
            return node.decode("utf-8", "replace")
        return node

    return walk(value, frozenset())
