"""Discovery is bounded (issue 13 items 8 and 10, and the $ref-chain and deep-nesting
defects): schemas that fan out finish within a memory cap, YAML alias bombs are refused,
a long non-circular $ref chain is not called circular, deep nesting is a classified
LoaderError with its location, and the size limit is the setting LUNA_DISCOVERY_MAX_BYTES.

The specs come from bench/spec_shapes.py (the same generator as bench/discovery_fanout.py).
The fan-out cases run in a child process capped at 1 GB of address space, so today's
unbounded expansion fails there (MemoryError) instead of taking the machine down."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.spec_shapes import dumps, fanout_spec, ref_chain_spec, ref_graph_spec, yaml_alias_bomb
from luna.catalog import load_catalog
from luna.errors import EndpointsFileError
from tasks.discovery.model import DiscoveryLimits, LoaderError
from tasks.discovery.openapi import from_openapi
from tasks.discovery.sources import load_document, load_source, settings_limits
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

CAPPED = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GB: the goal of issue 13
    from tasks.discovery.merge import merge
    from tasks.discovery.openapi import from_openapi
    found = from_openapi(open(sys.argv[1], encoding="utf-8").read(), source=sys.argv[1])
    data = merge([found], service="bench")
    print(json.dumps({"endpoints": len(found.endpoints), "warnings": found.warnings,
                      "bytes": len(json.dumps(data)), "schemas": sum(e.response_schema is not None for e in found.endpoints)}))
    """
)


def discover_capped(tmp_path: Path, document: str) -> dict[str, object]:
    path = tmp_path / "spec.json"
    path.write_text(document, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", CAPPED, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_4kb_fan_out_spec_finishes_within_1gb(tmp_path: Path) -> None:
    """Schema i refers to schema i-1 nine times, 30 deep: 9**30 values if written out."""
    document = dumps(fanout_spec(levels=30, fan=9))
    assert len(document) < 16_000
    result = discover_capped(tmp_path, document)
    assert result["endpoints"] == 1
    assert result["schemas"] == 0  # too large to keep: that response is not validated
    warnings = " | ".join(result["warnings"])  # type: ignore[arg-type]
    assert "1 generated values were cut at 2000 values (discovery budget" in warnings
    assert (
        "1 response schemas expand past 5000 values (discovery budget): their responses are not validated" in warnings
    )
    assert int(result["bytes"]) < 200_000  # type: ignore[call-overload]  # the body is cut, not 9**30 values


def test_a_450_operation_deep_ref_graph_spec_finishes_within_1gb(tmp_path: Path) -> None:
    result = discover_capped(tmp_path, dumps(ref_graph_spec(operations=450)))
    assert result["endpoints"] == 450
    assert int(result["bytes"]) < 50_000_000  # type: ignore[call-overload]


def test_shared_schemas_are_sampled_once_and_reused() -> None:
    """The same $ref gives the same (shared) sample wherever it is met: memoised."""
    found = from_openapi(dumps(ref_graph_spec(operations=20, schemas=40)), source="g.json")
    bodies = [e.body for e in found.endpoints if e.method in ("POST", "PATCH")]
    assert len(bodies) == 8 and all(isinstance(b, dict) and b for b in bodies)
    create, update = (e for e in found.endpoints if e.name in ("create0", "update0"))
    assert create.body == update.body  # one schema, one sample


def test_yaml_alias_bomb_is_refused() -> None:
    with pytest.raises(LoaderError) as info:
        from_openapi(yaml_alias_bomb(levels=9, fan=10), source="bomb.yaml")
    assert info.value.loader_kind == "unsafe" and "YAML aliases expand" in info.value.message
    assert info.value.location == "bomb.yaml"


def test_a_1000_link_ref_chain_is_resolved_not_called_circular() -> None:
    found = from_openapi(dumps(ref_chain_spec(links=1000)), source="chain.json")
    assert found.endpoints[0].body == {"ok": True}


def test_a_ref_chain_past_the_limit_says_it_is_not_circular() -> None:
    with pytest.raises(LoaderError) as info:
        from_openapi(dumps(ref_chain_spec(links=10_500)), source="chain.json")
    assert info.value.loader_kind == "too_large"
    assert "not circular" in info.value.message and "circular $ref" not in info.value.message
    assert info.value.location == "chain.json#/paths/~1chain/post"


DEEP = 100_000


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("spec.json", '{"openapi":"3.0.0","paths":{},"x":' + "[" * DEEP + "]" * DEEP + "}"),
        ("spec.yaml", "openapi: 3.0.0\npaths: {}\nx: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("rec.har", '{"log":{"version":"1.2","entries":' + "[" * DEEP + "]" * DEEP + "}}"),
        ("c.json", '{"info":{"name":"c"},"item":' + "[" * DEEP + "]" * DEEP + "}"),
    ],
)
def test_deep_nesting_is_a_classified_error_with_its_file(name: str, document: str) -> None:
    """It was "unexpected RecursionError", without a file."""
    with pytest.raises(LoaderError) as info:
        load_document(document.encode(), name)
    assert info.value.loader_kind == "syntax" and "nested too deeply" in info.value.message
    assert info.value.location == name


def test_deeply_nested_endpoints_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text('{"service":"s","endpoints":' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(EndpointsFileError) as info:
        load_catalog(path)
    assert "nested too deeply" in info.value.message and info.value.location == str(path)


def test_the_size_limit_is_a_setting_named_in_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "big.json"
    spec.write_text(
        json.dumps({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}, "x": "y" * 40_000})
    )
    monkeypatch.setenv("LUNA_DISCOVERY_MAX_BYTES", "20000")
    assert settings_limits().max_bytes == 20_000
    with pytest.raises(LoaderError) as info:
        load_source(str(spec))
    assert info.value.loader_kind == "too_large"
    assert "over the 20000 byte limit of LUNA_DISCOVERY_MAX_BYTES" in info.value.message
    assert "raise LUNA_DISCOVERY_MAX_BYTES" in (info.value.tip or "")
    monkeypatch.setenv("LUNA_DISCOVERY_MAX_BYTES", "100000")
    assert load_source(str(spec)).kind == "openapi"
    assert load_source(str(spec), limits=DiscoveryLimits(max_bytes=50_000)).kind == "openapi"
