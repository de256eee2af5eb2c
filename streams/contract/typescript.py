"""TypeScript declarations of an OpenAPI document's component schemas (no Node needed).

:func:`json_schema_ts` renders the JSON Schema subset pydantic emits; :func:`openapi_typescript`
a whole document's models (``models.ts`` under codegen/generated/http/, and the ``types`` of a
service's exported contract); codegen's typed client (codegen/http_client.py) uses both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def ts_identifier(name: str) -> str:
    """A component name as a TypeScript identifier (``Model-Input`` -> ``Model_Input``)."""
    return re.sub(r"\W", "_", name)


def json_schema_ts(schema: Mapping[str, Any], indent: str = "") -> str:
    """The TypeScript type of a JSON Schema (the subset pydantic emits)."""
    combined = _combined_ts(schema, indent)
    if combined is not None:
        return combined
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(json_schema_ts({**schema, "type": k}, indent) for k in kind)
    if kind == "array":
        items = json_schema_ts(schema.get("items", {}), indent)
        return f"{items}[]" if re.fullmatch(r"\w+", items) else f"Array<{items}>"
    if kind == "object" or "properties" in schema:
        return _object_ts(schema, indent)
    simple = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
    return simple.get(str(kind), "null" if kind == "null" else "unknown")


def _combined_ts(schema: Mapping[str, Any], indent: str) -> str | None:
    """References, unions, single ``allOf``, ``const`` and ``enum``; None for anything else."""
    if "$ref" in schema:
        return ts_identifier(_ref_name(schema["$ref"]))
    branches = schema.get("anyOf", schema.get("oneOf"))
    if branches is not None:
        return " | ".join(dict.fromkeys(json_schema_ts(s, indent) for s in branches))
    if len(schema.get("allOf", ())) == 1:
        return json_schema_ts(schema["allOf"][0], indent)
    if "const" in schema:
        return _literal(schema["const"])
    if "enum" in schema:
        return " | ".join(_literal(v) for v in schema["enum"])
    return None


def _object_ts(schema: Mapping[str, Any], indent: str) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", not properties)
    if not properties:
        values = "unknown" if extra is True else json_schema_ts(extra or {}, indent)
        return f"Record<string, {values}>"
    required = set(schema.get("required", ()))
    inner = indent + "  "
    lines = ["{"]
    for name, prop in properties.items():
        if prop.get("description"):
            lines.append(f"{inner}/** {_doc(prop['description'])} */")
        optional = "" if name in required else "?"
        key = name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else _literal(name)
        lines.append(f"{inner}{key}{optional}: {json_schema_ts(prop, inner)};")
    if extra:  # typed extras would clash with the properties' types; unknown never does
        lines.append(f"{inner}[key: string]: unknown;")
    lines.append(indent + "}")
    return "\n".join(lines)


def _doc(text: str) -> str:
    return " ".join(str(text).split()).replace("*/", "*\\/")


def openapi_typescript(document: Mapping[str, Any]) -> str:
    """TypeScript declarations of the document's component schemas (no Node needed)."""
    info = document["info"]
    out = [
        f"// {info['title']} {info['version']}: HTTP models, generated from the OpenAPI document\n"
        # the path the header names is part of the committed output (codegen/generated/)
        "// by streams/web/openapi.py. Do not edit."
    ]
    for name, schema in document["components"]["schemas"].items():
        doc = f"/** {_doc(schema['description'])} */\n" if schema.get("description") else ""
        ident = ts_identifier(name)
        body = json_schema_ts(schema)
        if body.startswith("{"):
            out.append(f"{doc}export interface {ident} {body}")
        else:
            out.append(f"{doc}export type {ident} = {body};")
    return "\n\n".join(out) + "\n"
