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

from tasks.discovery.formats import FIXED_UUID, FORMATS, declared, number_value, string_value, type_of
from tasks.discovery.model import DiscoveryLimits, LoaderError, current_limits

__all__ = ["FIXED_UUID", "FORMATS", "Budget", "Inliner", "Sampler", "declared", "expanded_size", "jsonable"]

MAX_DEPTH = 3  # times one recursive $ref may be expanded inside itself
MAX_NESTING = 12
MAX_SCHEMA_DEPTH = 12  # response schemas are inlined this deep; cycles end there as {}
MAX_JSON_NODES = 200_000
# deref(node, base) -> (resolved node, its document's URL, the $ref key followed or None)
Deref = Callable[[Any, str], tuple[Any, str, str | None]]


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
    """Shared by Sampler and Inliner: the memo, the spec's work budget and the sizes.

    Values are built as shared structures: the value for a `$ref` met at a given nesting
    depth is built once and reused (so the work is linear in the schema graph, however
    many paths lead through it), with its size as a tree (how big it is once written out).
    A top-level value whose size is over the per-operation budget is cut (`cut` says so).
    """

    per_operation = 5_000

    def __init__(self, deref: Deref, budget: Budget | None) -> None:
        self.deref = deref
        self.budget = budget or Budget()
        self.memo: dict[tuple[str, int], tuple[Any, int]] = {}  # ($ref key, depth) -> (value, tree size)
        self.building: set[tuple[str, int]] = set()
        self.cut = False  # was the last top-level value over the per-operation budget?


def _measure(value: Any, limit: int) -> int:
    """Tree size of a value that did not come from the sampler (an example), capped."""
    return expanded_size(value, limit) if isinstance(value, dict | list) else 1


def _fit(value: Any, left: int, sizes: dict[int, int], depth: int = 0) -> tuple[Any, int]:
    """A copy of `value` with at most about `left` values: parts that do not fit become
    empty (`{}`, `[]`); parts that fit are kept whole (shared, not copied)."""
    if not isinstance(value, dict | list):
        return value, 1
    size = sizes.get(id(value))
    if size is None:
        size = sizes[id(value)] = _measure(value, left)
    if size <= left:
        return value, size
    if left <= 1 or depth > 64:
        return type(value)(), 1
    used = 1
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], n = _fit(item, left - used, sizes, depth + 1)
            used += n
        return out, used
    items: list[Any] = []
    for item in value:
        if used >= left:
            break
        kept, n = _fit(item, left - used, sizes, depth + 1)
        items.append(kept)
        used += n
    return items, used


class Sampler(_Bounded):
    """A request value from a schema (see the module docstring)."""

    def __init__(self, deref: Deref, budget: Budget | None = None) -> None:
        super().__init__(deref, budget)
        self.per_operation = self.budget.limits.sample_nodes_per_operation
        self.sizes: dict[int, int] = {}  # id of a built container -> its tree size
        self.alive: list[Any] = []  # keeps the built containers (and so their ids) alive

    def sample(self, schema: Any, base: str) -> Any:
        """One top-level value (one operation's body or parameter)."""
        value, size = self._sample(schema, base, 0, ())
        self.cut = size > self.per_operation
        return _fit(value, self.per_operation, self.sizes)[0] if self.cut else value

    def _built(self, value: Any, size: int) -> tuple[Any, int]:
        if isinstance(value, dict | list):
            self.sizes[id(value)] = size
            self.alive.append(value)
        return value, size

    def _sample(self, schema: Any, base: str, depth: int, stack: tuple[str, ...]) -> tuple[Any, int]:
        self.budget.spend()
        schema, base, key = self.deref(schema, base)
        if not isinstance(schema, dict):
            return None, 1
        empty: Any = {"object": {}, "array": []}.get(type_of(schema) or "")
        slot = (key, depth) if key is not None else None
        if slot is not None and slot in self.memo:
            return self.memo[slot]
        if key is not None and stack.count(key) >= MAX_DEPTH or depth > MAX_NESTING or slot in self.building:
            return empty, 1
        if slot is not None:
            self.building.add(slot)
        built = self._fresh(schema, base, depth, (*stack, key) if key else stack)
        if slot is not None:
            self.building.discard(slot)
            self.memo[slot] = built
        return built

    def _fresh(self, schema: dict[str, Any], base: str, depth: int, stack: tuple[str, ...]) -> tuple[Any, int]:
        found, value = declared(schema)
        if found:  # a spec's own value, maybe parsed YAML: made plain JSON once, here
            value = jsonable(value, location=self.budget.where())
            return self._built(value, _measure(value, self.per_operation))
        if isinstance(schema.get("allOf"), list):
            merged: Any = None
            size = 1
            for part in schema["allOf"]:
                value, n = self._sample(part, base, depth, stack)
                if isinstance(merged, dict) and isinstance(value, dict):
                    merged, size = {**merged, **value}, size + n - 1
                else:
                    merged, size = value, n
            return self._built(merged, size)
        for key_name in ("oneOf", "anyOf"):
            options = schema.get(key_name)
            if isinstance(options, list) and options:
                real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return self._sample((real or options)[0], base, depth, stack)
        kind = type_of(schema)
        if kind == "object":
            props = schema.get("properties")
            props = props if isinstance(props, dict) else {}
            required = schema.get("required")
            names = [str(n) for n in required] if isinstance(required, list) else []
            names += [str(n) for n, p in props.items() if str(n) not in names and self._declares(p, base)]
            out: dict[str, Any] = {}
            size = 1
            for prop in names:
                out[prop], inner = self._sample(props.get(prop, {"type": "string"}), base, depth + 1, stack)
                size += inner
            return self._built(out, size)
        if kind == "array":
            item, inner = self._sample(schema.get("items", {"type": "string"}), base, depth + 1, stack)
            return self._built([item], 1 + inner)
        if kind in ("integer", "number"):
            return number_value(schema, kind), 1
        if kind == "boolean":
            return True, 1
        if kind == "string":
            return string_value(schema), 1
        return None, 1

    def _declares(self, schema: Any, base: str) -> bool:
        """An optional property is sent only when it names its value (example, default, enum):
        an invented value in an optional field changes what the server does."""
        resolved = self.deref(schema, base)[0]
        return isinstance(resolved, dict) and declared(resolved)[0]


SKIPPED_KEYS = ("example", "examples", "xml", "externalDocs", "discriminator")


class Inliner(_Bounded):
    """A self-contained JSON Schema: `$ref`s inlined (see the module docstring); OpenAPI
    3.0's `nullable` becomes a null type. A schema larger than the per-operation budget
    once written out is not returned (None: the response is not validated), never cut:
    a cut schema could reject valid responses."""

    def __init__(self, deref: Deref, budget: Budget | None = None) -> None:
        super().__init__(deref, budget)
        self.per_operation = self.budget.limits.schema_nodes_per_operation

    def inline(self, node: Any, base: str) -> Any:
        value, size = self._inline(node, base, 0, ())
        self.cut = size > self.per_operation
        return None if self.cut else value

    def _inline(self, node: Any, base: str, depth: int, stack: tuple[str, ...]) -> tuple[Any, int]:
        self.budget.spend()
        slot = None
        if isinstance(node, dict) and "$ref" in node:
            node, base, key = self.deref(node, base)
            if key is not None:
                slot = (key, depth)
                if slot in self.memo:
                    return self.memo[slot]
                if key in stack or slot in self.building:
                    return {}, 1  # a cycle: accept anything below
                stack = (*stack, key)
        if depth > MAX_SCHEMA_DEPTH:
            return {}, 1
        if not isinstance(node, dict | list):
            return node, 1
        if slot is not None:
            self.building.add(slot)
        if isinstance(node, list):
            parts = [self._inline(v, base, depth + 1, stack) for v in node]
            built: tuple[Any, int] = ([v for v, _ in parts], 1 + sum(n for _, n in parts))
        else:
            built = self._mapping(node, base, depth, stack)
        if slot is not None:
            self.building.discard(slot)
            self.memo[slot] = built
        return built

    def _mapping(self, node: dict[str, Any], base: str, depth: int, stack: tuple[str, ...]) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        size = 1
        for key, value in node.items():
            if key in SKIPPED_KEYS or str(key).startswith("x-"):
                continue
            if key == "properties" and isinstance(value, dict):
                props = {str(k): self._inline(v, base, depth + 1, stack) for k, v in value.items()}
                out[key] = {k: v for k, (v, _) in props.items()}
                size += 1 + sum(n for _, n in props.values())
            elif isinstance(value, dict | list):
                out[key], n = self._inline(value, base, depth + 1, stack)
                size += n
            else:
                out[key] = value
                size += 1
        if out.pop("nullable", False) is True:
            out, size = {"anyOf": [out, {"type": "null"}]}, size + 3
        return out, size


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
    active: set[int] = set()  # the containers on the path from the root: a repeat is a cycle

    def unsafe() -> LoaderError:
        return LoaderError(
            "unsafe",
            "an example refers to itself or expands too far (YAML aliases)",
            location=location,
            tip="remove the recursive or repeated YAML anchors from the example",
        )

    def walk(node: Any) -> Any:
        nonlocal count
        count += 1
        if count > MAX_JSON_NODES:
            raise unsafe()
        if isinstance(node, dict | list | tuple | set):
            if id(node) in active:
                raise unsafe()
            active.add(id(node))
            try:
                if isinstance(node, dict):
                    return {str(k): walk(v) for k, v in node.items()}
                return [walk(v) for v in node]
            finally:
                active.discard(id(node))
        if isinstance(node, dt.date | dt.datetime):
            return node.isoformat()
        if isinstance(node, bytes):
            return node.decode("utf-8", "replace")
        return node

    return walk(value)
