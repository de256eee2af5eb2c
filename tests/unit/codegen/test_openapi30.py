"""OpenAPI 3.1 -> 3.0.3: each JSON Schema 2020-12 form pydantic and FastAPI emit, converted."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.openapi30 import SCHEMA_KEYWORDS, SchemaDowngrade, to_openapi_30

COMPONENTS: dict[str, Any] = {
    "Item": {"type": "object", "properties": {"name": {"type": "string"}}},
    "Color": {"enum": ["red", "blue"], "type": "string"},
    "Level": {"enum": [1, 2]},
    "Shape": {"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "string"}]},
}
ITEM = {"$ref": "#/components/schemas/Item"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "title": "Q"},
            {"type": "string", "maxLength": 5, "nullable": True, "title": "Q"},
        ),
        (
            {"anyOf": [ITEM, {"type": "null"}], "description": "the item"},
            {"type": "object", "nullable": True, "allOf": [ITEM], "description": "the item"},
        ),
        (
            {"anyOf": [{"$ref": "#/components/schemas/Color"}, {"type": "null"}]},
            {"type": "string", "nullable": True, "allOf": [{"$ref": "#/components/schemas/Color"}]},
        ),
        (
            {"anyOf": [{"$ref": "#/components/schemas/Level"}, {"type": "null"}]},
            {
                "type": "integer",
                "nullable": True,
                "allOf": [{"$ref": "#/components/schemas/Level"}],
            },
        ),
        (  # the component has no single type: 3.0.0's reading of nullable
            {"anyOf": [{"$ref": "#/components/schemas/Shape"}, {"type": "null"}]},
            {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Shape"}]},
        ),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            {
                "anyOf": [
                    {"type": "integer", "nullable": True},
                    {"type": "string", "nullable": True},
                ]
            },
        ),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        ),
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        (
            {"type": ["string", "integer"]},
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        ),
        ({"type": "null"}, {"type": "object", "nullable": True, "enum": [None]}),
        ({"type": "string", "const": "a"}, {"type": "string", "enum": ["a"]}),
        ({"type": "string", "examples": ["x", "y"]}, {"type": "string", "example": "x"}),
        (
            {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
            {
                "type": "number",
                "exclusiveMinimum": True,
                "exclusiveMaximum": True,
                "minimum": 0,
                "maximum": 1.5,
            },
        ),
        (  # already 3.0: unchanged
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        ),
        (
            {"$ref": "#/components/schemas/Item", "description": "d"},
            {"allOf": [ITEM], "description": "d"},
        ),
        (
            {"type": "string", "contentMediaType": "application/octet-stream"},
            {"type": "string", "format": "binary"},
        ),
        ({"type": "string", "contentEncoding": "base64"}, {"type": "string", "format": "byte"}),
        (
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            {
                "type": "array",
                "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        ({"type": "array"}, {"type": "array", "items": {}}),
        (
            {"type": "object", "$schema": "x", "$defs": {}, "x-kind": "k", "required": []},
            {"type": "object", "x-kind": "k"},
        ),
        ({"enum": ["a", None]}, {"enum": ["a", None], "nullable": True}),
        (True, {}),
        (False, {"not": {}}),
    ],
)
def test_schema_forms(schema: Any, expected: Any) -> None:
    assert SchemaDowngrade(COMPONENTS).schema(schema) == expected


def test_nested_schemas_are_converted_everywhere() -> None:
    nullable_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    schema = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": nullable_int},
            "map": {"type": "object", "additionalProperties": nullable_int},
            "all": {"allOf": [{"type": "object", "properties": {"c": {"const": 1}}}]},
            "not": {"not": {"const": 2}},
        },
    }
    out = SchemaDowngrade({}).schema(schema)["properties"]
    assert out["list"]["items"] == {"type": "integer", "nullable": True}
    assert out["map"]["additionalProperties"] == {"type": "integer", "nullable": True}
    assert out["all"]["allOf"][0]["properties"]["c"] == {"enum": [1]}
    assert out["not"] == {"not": {"enum": [2]}}


def _document() -> dict[str, Any]:
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "svc",
            "version": "1",
            "summary": "3.1 only",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "webhooks": {"ping": {}},
        "paths": {
            "/items/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": nullable}],
                "post": {
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "schema": nullable,
                            "examples": {"one": {"value": "a"}},
                        }
                    ],
                    "requestBody": {"content": {"application/json": {"schema": nullable}}},
                    "responses": {
                        "200": {
                            "description": "ok",
                            "headers": {"X-Rate": {"schema": nullable}},
                            "content": {"application/json": {"schema": nullable}},
                        }
                    },
                },
            }
        },
        "components": {
            "schemas": {"Item": {"type": "object", "properties": {"n": nullable}}},
            "parameters": {"Q": {"name": "q", "in": "query", "schema": nullable}},
            "pathItems": {},
        },
    }


def test_document_is_converted_and_the_input_kept() -> None:
    source = _document()
    before = repr(source)
    doc = to_openapi_30(source)
    assert repr(source) == before
    converted = {"type": "string", "nullable": True}
    assert doc["openapi"] == "3.0.3"
    assert doc["info"] == {"title": "svc", "version": "1", "license": {"name": "Apache-2.0"}}
    assert "webhooks" not in doc
    assert "jsonSchemaDialect" not in doc
    assert "pathItems" not in doc["components"]
    item = doc["paths"]["/items/{id}"]
    assert item["parameters"][0]["schema"] == converted
    post = item["post"]
    assert post["parameters"][0]["schema"] == converted
    assert post["parameters"][0]["examples"] == {"one": {"value": "a"}}  # a 3.0 Example map
    assert post["requestBody"]["content"]["application/json"]["schema"] == converted
    ok = post["responses"]["200"]
    assert ok["headers"]["X-Rate"]["schema"] == converted
    assert ok["content"]["application/json"]["schema"] == converted
    assert doc["components"]["schemas"]["Item"]["properties"]["n"] == converted
    assert doc["components"]["parameters"]["Q"]["schema"] == converted


def test_only_30_keywords_remain() -> None:
    doc = to_openapi_30(_document())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "type" in node and isinstance(node["type"], str):
                assert set(node) <= SCHEMA_KEYWORDS | {"x-kind"}
                assert node["type"] != "null"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc["components"])
    walk(doc["paths"])
