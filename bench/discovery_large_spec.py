"""How long does discovery take on a spec with more than 1,000 operations, next to what a
spec parser alone takes on the same file?

No large public spec is available offline here, so the script generates one with the shape
of the big real ones (GitHub's and Stripe's REST descriptions): --resources resources
(default 250), each with a collection and an item path and 5 operations (list, create,
get, replace, delete; 1,250 operations by default); path, query and header parameters,
many through `#/components/parameters`; request and response bodies through
`#/components/schemas` with nested objects, arrays, allOf, enums and one self-referencing
schema per resource (a cycle); examples on half the operations, so the other half have
their bodies generated from the schema. Written as JSON (and YAML with --yaml) to a
temporary file.

Timed, --runs times each (default 5), alternating, medians reported:
  luna:       load_source(file) -> merge -> write the endpoints file (what `luna discover` does)
  prance:     prance.ResolvingParser(file, backend="openapi-spec-validator") (parse, validate,
              resolve every $ref; cycles cut by a recursion-limit handler)
  validator:  openapi_spec_validator.validate(parsed spec) (validation alone, the file already parsed)
  json.load:  parsing the file alone (the floor)

Goal: luna <= 2 s. Writes bench/results/discovery_large_spec-<date>.json.

    .venv/bin/python bench/discovery_large_spec.py
    .venv/bin/python bench/discovery_large_spec.py --resources 500 --runs 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, loadavg, machine, median, table, write_results

sys.path.insert(0, str(ROOT))


def generate(resources: int) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}, "code": {"type": "integer"}},
        },
        "Audit": {
            "type": "object",
            "properties": {
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string", "format": "email"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    }
    parameters: dict[str, Any] = {
        "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        "per_page": {"name": "per_page", "in": "query", "required": True, "schema": {"type": "integer", "example": 30}},
        "tenant": {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
    }
    paths: dict[str, Any] = {}
    for i in range(resources):
        name = f"Resource{i}"
        schemas[name] = {
            "allOf": [
                {"$ref": "#/components/schemas/Audit"},
                {
                    "type": "object",
                    "required": ["id", "name", "state"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "name": {"type": "string", "maxLength": 80},
                        "state": {"type": "string", "enum": ["open", "closed", "archived"]},
                        "owner": {
                            "type": "object",
                            "properties": {"login": {"type": "string"}, "site_admin": {"type": "boolean"}},
                        },
                        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}Item"}},
                        "parent": {"$ref": f"#/components/schemas/{name}"},  # a cycle
                    },
                },
            ]
        }
        schemas[f"{name}Item"] = {
            "type": "object",
            "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}, "qty": {"type": "number"}},
        }
        parameters[f"{name}Id"] = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ref = {"$ref": f"#/components/schemas/{name}"}
        body: dict[str, Any] = {"content": {"application/json": {"schema": ref}}}
        if i % 2 == 0:
            body["content"]["application/json"]["example"] = {"id": i, "name": f"r{i}", "state": "open"}
        ok = {"description": "ok", "content": {"application/json": {"schema": ref}}}
        error = {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        common = [{"$ref": "#/components/parameters/tenant"}]
        tag = [f"group{i % 20}"]
        paths[f"/v1/resource{i}"] = {
            "get": {
                "operationId": f"list{name}",
                "tags": tag,
                "parameters": [
                    *common,
                    {"$ref": "#/components/parameters/page"},
                    {"$ref": "#/components/parameters/per_page"},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "array", "items": ref}}},
                    },
                    "default": error,
                },
            },
            "post": {
                "operationId": f"create{name}",
                "tags": tag,
                "parameters": common,
                "requestBody": body,
                "responses": {"201": ok, "422": error},
            },
        }
        item = [*common, {"$ref": f"#/components/parameters/{name}Id"}]
        paths[f"/v1/resource{i}/{{id}}"] = {
            "get": {
                "operationId": f"get{name}",
                "tags": tag,
                "parameters": item,
                "responses": {"200": ok, "404": error},
            },
            "put": {
                "operationId": f"replace{name}",
                "tags": tag,
                "parameters": item,
                "requestBody": body,
                "responses": {"200": ok},
            },
            "delete": {
                "operationId": f"delete{name}",
                "tags": tag,
                "parameters": item,
                "responses": {"204": {"description": "gone"}},
            },
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Generated large API", "version": "1.0.0"},
        "servers": [{"url": "https://api.example.test/"}],
        "paths": paths,
        "components": {"schemas": schemas, "parameters": parameters},
    }


def time_luna(path: Path, out: Path) -> tuple[float, int]:
    from tasks.discovery.sources import load_source
    from tasks.discovery.tasks import write_endpoints_file

    t0 = time.perf_counter()
    found = load_source(str(path))
    catalog = write_endpoints_file([found], out, service="large", include_destructive=True, overwrite=True)
    return time.perf_counter() - t0, len(catalog.endpoints)


def time_prance(path: Path) -> float:
    import prance

    t0 = time.perf_counter()
    prance.ResolvingParser(
        str(path),
        backend="openapi-spec-validator",
        strict=False,
        recursion_limit_handler=lambda limit, ref, recursions: {},  # cycles: stop, as Luna does
    )
    return time.perf_counter() - t0


def time_validator(path: Path) -> float:
    from openapi_spec_validator import validate

    spec = json.loads(path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    validate(spec)
    return time.perf_counter() - t0


def time_json(path: Path) -> float:
    t0 = time.perf_counter()
    json.loads(path.read_bytes())
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=250)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-prance", action="store_true", help="prance is slow on large specs")
    args = parser.parse_args()
    spec = generate(args.resources)
    operations = sum(len(item) for item in spec["paths"].values())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        size = path.stat().st_size
        out = Path(tmp) / "endpoints.json"
        times: dict[str, list[float]] = {"luna": [], "prance": [], "validator": [], "json.load": []}
        endpoints = 0
        time_luna(path, out)  # warm: imports
        for _ in range(args.runs):
            elapsed, endpoints = time_luna(path, out)
            times["luna"].append(elapsed)
            if not args.skip_prance:
                times["prance"].append(time_prance(path))
            times["validator"].append(time_validator(path))
            times["json.load"].append(time_json(path))
    medians = {k: median(v) for k, v in times.items() if v}
    rows = [
        [
            k,
            f"{m:.3f}",
            f"{m / medians['luna']:.2f}" if medians.get("luna") else "-",
            " ".join(f"{x:.3f}" for x in times[k]),
        ]
        for k, m in medians.items()
        if m is not None
    ]
    print(f"spec: {operations} operations, {size / 1e6:.1f} MB JSON; luna wrote {endpoints} endpoints")
    print(table(["step", "median s", "x luna", "runs (s)"], rows))
    print(f"goal luna <= 2 s: {'met' if medians['luna'] <= 2 else 'NOT met'}")
    write_results(
        "discovery_large_spec",
        {
            "machine": machine(),
            "loadavg": loadavg(),
            "operations": operations,
            "spec_bytes": size,
            "endpoints_written": endpoints,
            "runs": times,
            "medians_s": medians,
        },
    )


if __name__ == "__main__":
    main()
