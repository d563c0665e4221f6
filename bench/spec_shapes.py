"""Deterministic OpenAPI specs with the shapes that make discovery fan out (standard
library only; used by bench/discovery_fanout.py and tests/unit/test_discovery_budgets.py).

- `ref_graph_spec`: the shape of a large payments API: `operations` operations (list,
  create, get, update, delete per resource) over `schemas` component schemas, each schema
  refers to up to `refs` earlier ones (a deep, shared `$ref` DAG: the number of paths
  through it grows exponentially with its depth), plus a self-reference per resource, string
  formats, enums, nullable anyOf, arrays and allOf. No examples: every body and response
  schema comes from the schema graph.
- `fanout_spec`: the 4 KB attack: schema i refers to schema i-1 `fan` times, `levels` deep
  (fan ** levels values if expanded).
- `ref_chain_spec`: a non-circular chain of `links` pure `$ref`s (S0 -> S1 -> ... -> Sn).
- `yaml_alias_bomb`: YAML whose anchors expand to fan ** levels values inside an example.
"""

from __future__ import annotations

import json
import random
from typing import Any

FORMATS = ("date-time", "date", "uuid", "email", "uri", "ipv4")


def _schema(i: int, rng: random.Random, refs: int) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "format": "uuid"},
        "created": {"type": "string", "format": FORMATS[i % len(FORMATS)]},
        "status": {"type": "string", "enum": ["active", "pending", "closed"]},
        "amount": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
    }
    if i:
        window = list(range(max(0, i - 25), i))
        for n, k in enumerate(rng.sample(window, min(refs, len(window)))):
            ref = {"$ref": f"#/components/schemas/S{k}"}
            shape = n % 4
            if shape == 0:
                props[f"r{n}"] = ref
            elif shape == 1:
                props[f"r{n}"] = {"type": "array", "items": ref}
            elif shape == 2:
                props[f"r{n}"] = {"anyOf": [ref, {"type": "null"}]}
            else:
                props[f"r{n}"] = {"allOf": [ref, {"description": "expanded"}]}
    required = ["id", "status"] + [name for name in props if name.startswith("r")][: max(1, refs // 2)]
    return {"type": "object", "required": required, "properties": props}


def ref_graph_spec(operations: int = 450, schemas: int = 300, refs: int = 6, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    components = {f"S{i}": _schema(i, rng, refs) for i in range(schemas)}
    paths: dict[str, Any] = {}
    resources = max(1, operations // 5)
    for r in range(resources):
        top = f"#/components/schemas/S{schemas - 1 - (r % 40)}"
        components[f"Node{r}"] = {
            "type": "object",
            "properties": {
                "value": {"$ref": top},
                "children": {"type": "array", "items": {"$ref": f"#/components/schemas/Node{r}"}},
            },
        }
        body = {"content": {"application/json": {"schema": {"$ref": top}}}}
        ok = {"description": "ok", "content": {"application/json": {"schema": {"$ref": top}}}}
        tree = {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/Node{r}"}}},
        }
        item = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        optional = {"name": "expand", "in": "query", "schema": {"type": "string"}}
        paths[f"/v1/res{r}"] = {
            "get": {"operationId": f"list{r}", "parameters": [optional], "responses": {"200": tree}},
            "post": {"operationId": f"create{r}", "requestBody": body, "responses": {"201": ok}},
        }
        paths[f"/v1/res{r}/{{id}}"] = {
            "parameters": [item],
            "get": {"operationId": f"get{r}", "responses": {"200": ok}},
            "patch": {"operationId": f"update{r}", "requestBody": body, "responses": {"200": ok}},
            "delete": {"operationId": f"delete{r}", "responses": {"204": {"description": "gone"}}},
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "ref graph", "version": "1"},
        "paths": paths,
        "components": {"schemas": components},
    }


def fanout_spec(levels: int = 30, fan: int = 9) -> dict[str, Any]:
    schemas: dict[str, Any] = {"S0": {"type": "string"}}
    for i in range(1, levels + 1):
        props = {f"a{n}": {"$ref": f"#/components/schemas/S{i - 1}"} for n in range(fan)}
        schemas[f"S{i}"] = {"type": "object", "required": list(props), "properties": props}
    top = {"$ref": f"#/components/schemas/S{levels}"}
    op = {
        "operationId": "bomb",
        "requestBody": {"content": {"application/json": {"schema": top}}},
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": top}}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "fan-out", "version": "1"},
        "paths": {"/bomb": {"post": op}},
        "components": {"schemas": schemas},
    }


def ref_chain_spec(links: int = 1000) -> dict[str, Any]:
    schemas: dict[str, Any] = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(links)}
    schemas[f"S{links}"] = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "chain", "version": "1"},
        "paths": {
            "/chain": {
                "post": {"operationId": "chain", "requestBody": body, "responses": {"200": {"description": "ok"}}}
            }
        },
        "components": {"schemas": schemas},
    }


def yaml_alias_bomb(levels: int = 9, fan: int = 10) -> str:
    lines = ["openapi: 3.0.3", "info: {title: aliases, version: '1'}", "x-bomb:", "  l0: &l0 [lol]"]
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join(f'*l{i - 1}' for _ in range(fan))}]")
    lines += [
        "paths:",
        "  /bomb:",
        "    post:",
        "      requestBody:",
        "        content:",
        "          application/json:",
        f"            example: *l{levels}",
        "      responses: {'200': {description: ok}}",
    ]
    return "\n".join(lines) + "\n"


def dumps(spec: dict[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"))
