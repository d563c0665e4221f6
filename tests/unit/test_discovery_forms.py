"""Form bodies (application/x-www-form-urlencoded) in OpenAPI 3 and Swagger 2.0: sent as a
form with its Content-Type, not as JSON (a validating server such as Prism refuses JSON with
415), in the load and in the generated API suite alike."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks.discovery.openapi import from_openapi

pytestmark = pytest.mark.unit
FORM = "application/x-www-form-urlencoded"


def one(spec: dict[str, Any]) -> Any:
    (endpoint,) = from_openapi(json.dumps(spec), source="spec.json").endpoints
    return endpoint


def openapi(content: dict[str, Any]) -> dict[str, Any]:
    op = {"requestBody": {"required": True, "content": content}, "responses": {"202": {"description": "ok"}}}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/subscribe": {"post": op}}}


FIELDS = {
    "type": "object",
    "required": ["email", "tags"],
    "properties": {"email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"enum": ["a"]}}},
}


def test_openapi_form_body_is_urlencoded_with_its_content_type() -> None:
    found = from_openapi(json.dumps(openapi({FORM: {"schema": FIELDS}})), source="spec.json")
    (endpoint,) = found.endpoints
    assert endpoint.headers["Content-Type"] == FORM
    assert isinstance(endpoint.body, str) and endpoint.body.startswith("email=")
    assert "tags=a" in endpoint.body and "%40" in endpoint.body  # a list as repeated fields; '@' encoded
    assert not any("sends the body as JSON" in w for w in found.warnings)


def test_a_form_example_is_encoded_too() -> None:
    endpoint = one(openapi({FORM: {"schema": FIELDS, "example": {"email": "a@b.io", "tags": ["a", "a"]}}}))
    assert endpoint.body == "email=a%40b.io&tags=a&tags=a"


def test_json_stays_json_when_the_operation_takes_both() -> None:
    endpoint = one(openapi({FORM: {"schema": FIELDS}, "application/json": {"schema": FIELDS}}))
    assert isinstance(endpoint.body, dict) and "Content-Type" not in endpoint.headers


def swagger(params: list[dict[str, Any]], consumes: list[str] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"parameters": params, "responses": {"302": {"description": "redirect"}}}
    if consumes is not None:
        op["consumes"] = consumes
    return {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/redirect-to": {"post": op}}}


def test_swagger_form_data_is_a_form() -> None:
    params = [{"in": "formData", "name": "url", "required": True, "type": "string", "x-example": "/get"}]
    endpoint = one(swagger(params))
    assert endpoint.body == "url=%2Fget" and endpoint.headers["Content-Type"] == FORM


def test_swagger_file_uploads_are_not_turned_into_a_form() -> None:
    params = [{"in": "formData", "name": "file", "type": "file", "required": True}]
    endpoint = one(swagger(params, consumes=["multipart/form-data"]))
    assert "Content-Type" not in endpoint.headers
