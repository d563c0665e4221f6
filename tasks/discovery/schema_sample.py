"""Sample values from (JSON) schemas, and self-contained response schemas, within budgets.

`Sampler(deref).sample(schema, base)` prefers what the schema declares (example, examples,
default, const, enum) and otherwise generates a value from the type and `format` (see
FORMATS: date, date-time, uuid, email, uri, ipv4, ...) within minimum/maximum and
minLength/maxLength. An object gets its required properties and the optional ones that
declare a value; other optional properties are left out. `Inliner(deref).inline(schema, base)` inlines `$ref`s into one JSON
Schema (cycles and depth end as `{}`, which accepts anything).

Both are bounded, so any spec finishes or fails quickly (`DiscoveryLimits`):
- a recursive `$ref` is expanded at most MAX_DEPTH times inside itself, nesting stops at
  MAX_NESTING (sample) or MAX_SCHEMA_DEPTH (inline);
- one operation's value is cut (deeper parts become empty) past a node budget; `cut`
  tells the caller, who warns;
- the result for each `$ref` is computed once and reused (memoised per `$ref`) when it
  did not depend on where it was met (no cut inside it): a deep `$ref` graph costs its
  size, not the number of paths through it;
- the work for a whole spec has a budget (`Budget`); past it, LoaderError `too_large`.
`jsonable(value)` turns parsed YAML (dates, non-string keys, shared aliases) into plain
JSON values, refusing self-referencing or exploding alias structures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tasks.discovery.model import DiscoveryLimits, LoaderError, current_limits

MAX_DEPTH = 3  # times one recursive $ref may be expanded inside itself
MAX_NESTING = 12
MAX_SCHEMA_DEPTH = 12  # response schemas are inlined this deep; cycles end there as {}
MAX_JSON_NODES = 200_000
FIXED_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# A value for each JSON Schema / OpenAPI string format. Reserved names only (RFC 2606
# example.com, loopback addresses), so a service that follows a value contacts nobody.
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


def _number(schema: dict[str, Any], kind: str) -> int | float:
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


def _string(schema: dict[str, Any]) -> str:
    text = FORMATS.get(str(schema.get("format")), "sample")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low <= 10_000:
        text += "x" * (low - len(text))
    if isinstance(high, int) and 0 <= high < len(text):
        text = text[:high]
    return text


class Budget:
    """The work one spec may cost (schema nodes visited); past it, LoaderError too_large."""

    def __init__(self, limits: DiscoveryLimits | None = None, where: Callable[[], str] = lambda: "spec") -> None:
        self.limits = limits or current_limits()
        self.left = self.limits.nodes_per_spec
        self.where = where

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise LoaderError(
                "too_large",
                f"the spec's schemas expand past the discovery budget of {self.limits.nodes_per_spec} values "
                "(a $ref graph that fans out)",
                location=self.where(),
                tip="add examples to the large schemas, or discover a smaller part of the spec",
            )


class _Bounded:
    """Shared by Sampler and Inliner: the per-operation budget, memo and cut tracking."""

    per_operation = 5_000

    def __init__(self, deref: Deref, budget: Budget | None) -> None:
        self.deref = deref
        self.budget = budget or Budget()
        self.memo: dict[str, tuple[Any, int, int]] = {}  # $ref key -> (value, size, height)
        self.left = 0
        self.cuts = 0  # cuts since the start (anything depending on the context)
        self.cut = False  # did the last top-level call hit the per-operation budget?

    def start(self) -> None:
        self.left, self.cut = self.per_operation, False

    def take(self, size: int = 1) -> bool:
        """Spend `size` output values; False (and a cut) when the operation's budget is out."""
        if size > self.left:
            self.cuts, self.cut = self.cuts + 1, True
            return False
        self.left -= size
        return True

    def reuse(self, key: str | None, depth: int, limit: int) -> tuple[bool, Any]:
        if key is None or key not in self.memo:
            return False, None
        value, size, height = self.memo[key]
        if depth + height > limit or not self.take(size):
            return False, None
        return True, value

    def keep(self, key: str | None, value: Any, cuts_before: int, left_before: int, height: int) -> None:
        if key is not None and self.cuts == cuts_before:
            self.memo[key] = (value, left_before - self.left, height)


def _height(value: Any) -> int:
    if isinstance(value, dict) and value:
        return 1 + max(_height(v) for v in value.values())
    if isinstance(value, list) and value:
        return 1 + max(_height(v) for v in value)
    return 0


class Sampler(_Bounded):
    """A request value from a schema (see the module docstring)."""

    def __init__(self, deref: Deref, budget: Budget | None = None) -> None:
        super().__init__(deref, budget)
        self.per_operation = self.budget.limits.sample_nodes_per_operation

    def sample(self, schema: Any, base: str) -> Any:
        """One top-level value (one operation's body or parameter)."""
        self.start()
        return self._sample(schema, base, 0, ())

    def _sample(self, schema: Any, base: str, depth: int, stack: tuple[str, ...]) -> Any:
        self.budget.spend()
        schema, base, key = self.deref(schema, base)
        if not isinstance(schema, dict):
            return None
        empty: Any = {"object": {}, "array": []}.get(_type_of(schema) or "")
        found, value = self.reuse(key, depth, MAX_NESTING)
        if found:
            return value
        if key is not None and stack.count(key) >= MAX_DEPTH or depth > MAX_NESTING:
            self.cuts += 1
            return empty
        if not self.take():
            return empty
        cuts, left = self.cuts, self.left + 1
        value = self._fresh(schema, base, depth, (*stack, key) if key else stack)
        self.keep(key, value, cuts, left, _height(value))
        return value

    def _declares(self, schema: Any, base: str) -> bool:
        """An optional property is sent only when it names its value (example, default, enum):
        an invented value in an optional field changes what the server does."""
        resolved = self.deref(schema, base)[0]
        return isinstance(resolved, dict) and declared(resolved)[0]

    def _fresh(self, schema: dict[str, Any], base: str, depth: int, stack: tuple[str, ...]) -> Any:
        found, value = declared(schema)
        if found:
            return value
        if isinstance(schema.get("allOf"), list):
            merged: Any = None
            for part in schema["allOf"]:
                value = self._sample(part, base, depth, stack)
                merged = {**merged, **value} if isinstance(merged, dict) and isinstance(value, dict) else value
            return merged
        for key_name in ("oneOf", "anyOf"):
            options = schema.get(key_name)
            if isinstance(options, list) and options:
                real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return self._sample((real or options)[0], base, depth, stack)
        kind = _type_of(schema)
        if kind == "object":
            props = schema.get("properties")
            props = props if isinstance(props, dict) else {}
            required = schema.get("required")
            names = [str(n) for n in required] if isinstance(required, list) else []
            names += [str(n) for n, p in props.items() if str(n) not in names and self._declares(p, base)]
            return {n: self._sample(props.get(n, {"type": "string"}), base, depth + 1, stack) for n in names}
        if kind == "array":
            return [self._sample(schema.get("items", {"type": "string"}), base, depth + 1, stack)]
        if kind in ("integer", "number"):
            return _number(schema, kind)
        if kind == "boolean":
            return True
        if kind == "string":
            return _string(schema)
        return None


SKIPPED_KEYS = ("example", "examples", "xml", "externalDocs", "discriminator")


class Inliner(_Bounded):
    """A self-contained JSON Schema: `$ref`s inlined (see the module docstring); OpenAPI
    3.0's `nullable` becomes a null type."""

    def __init__(self, deref: Deref, budget: Budget | None = None) -> None:
        super().__init__(deref, budget)
        self.per_operation = self.budget.limits.schema_nodes_per_operation

    def inline(self, node: Any, base: str) -> Any:
        self.start()
        return self._inline(node, base, 0, ())

    def _inline(self, node: Any, base: str, depth: int, stack: tuple[str, ...]) -> Any:
        self.budget.spend()
        key = None
        if isinstance(node, dict) and "$ref" in node:
            node, base, key = self.deref(node, base)
            found, memo = self.reuse(key, depth, MAX_SCHEMA_DEPTH)
            if found:
                return memo
            if key in stack:
                self.cuts += 1
                return {}
        if depth > MAX_SCHEMA_DEPTH:
            self.cuts += 1
            return {}
        if not isinstance(node, dict | list):
            return node
        if not self.take():
            return {}
        cuts, left = self.cuts, self.left + 1
        inner = (*stack, key) if key else stack
        if isinstance(node, list):
            value: Any = [self._inline(v, base, depth + 1, inner) for v in node]
        else:
            value = self._mapping(node, base, depth, inner)
        self.keep(key, value, cuts, left, _height(value))
        return value

    def _mapping(self, node: dict[str, Any], base: str, depth: int, stack: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in SKIPPED_KEYS or str(key).startswith("x-"):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {str(k): self._inline(v, base, depth + 1, stack) for k, v in value.items()}
            elif isinstance(value, dict | list):
                out[key] = self._inline(value, base, depth + 1, stack)
            else:
                out[key] = value
        if out.pop("nullable", False) is True:
            out = {"anyOf": [out, {"type": "null"}]}
        return out


def expanded_size(value: Any, limit: int) -> int:
    """How many values `value` has once shared parts (YAML aliases) are copied out; stops
    counting past `limit` (and a structure that contains itself counts as past it).
    Linear in the parsed size: each shared node is measured once, without recursion."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list) or id(node) in sizes:
            continue
        children = [c for c in (node.values() if isinstance(node, dict) else node) if isinstance(c, dict | list)]
        if not done:
            if id(node) in visiting:
                return limit + 1  # a cycle: it contains itself
            visiting.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        scalars = len(node) - len(children)
        size = 1 + scalars + sum(sizes.get(id(c), limit + 1) for c in children)
        if size > limit:
            return limit + 1
        sizes[id(node)] = size
    return sizes.get(id(value), 1)


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
