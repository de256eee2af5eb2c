"""OpenAPI 3.1 -> 3.0.3, for consumers that read only 3.0 (the platform's tooling does).

FastAPI and :mod:`streams.contract.openapi` emit 3.1, whose schemas are JSON Schema 2020-12. 3.0's
Schema Object is an older, narrower dialect; :func:`to_openapi_30` rewrites what differs and
leaves everything else as it was:

- ``anyOf``/``oneOf`` with a ``{"type": "null"}`` branch: the other branch merged in with
  ``nullable: true`` (several: each made nullable); a reference becomes
  ``{type: <its type>, nullable: true, allOf: [{$ref}]}`` (3.0.3 reads ``nullable`` only beside
  ``type``, so the referenced component's type is copied);
- ``type: [T, "null"]``: ``type: T, nullable: true``; ``type: [T, U]``: ``anyOf`` of both;
  ``type: "null"`` alone: ``{type: object, nullable: true, enum: [null]}``;
- ``const: v``: ``enum: [v]``; ``examples: [v, ...]`` in a schema: ``example: v``;
- ``exclusiveMinimum: n`` (a number): ``minimum: n, exclusiveMinimum: true`` (and maximum);
- ``$ref`` with sibling keywords: ``allOf: [{$ref}]`` beside them (3.0 ignores a reference's
  siblings, a field's description among them);
- ``contentMediaType`` / ``contentEncoding: base64``: ``format: binary`` / ``format: byte``;
- ``prefixItems``: ``items: {anyOf: [...]}`` with ``minItems``/``maxItems``;
- ``true`` / ``false`` schemas: ``{}`` / ``{not: {}}``;
- other 2020-12 keywords (``$schema``, ``$defs``, ``if``, ``unevaluatedProperties`` ...):
  dropped, ``x-`` extensions kept;
- ``webhooks``, ``jsonSchemaDialect``, ``info.summary``, ``license.identifier``,
  ``components.pathItems``: dropped.

A 3.0 document passes through unchanged apart from the version string. A part that does not
have the shape OpenAPI gives it (a path item that is a string, ``enum: null``) is left as it
is; a document nested deeper than Python recurses is an :class:`OpenApiDocumentError`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from codegen.exceptions import OpenApiDocumentError

OPENAPI_30 = "3.0.3"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: The keywords of OpenAPI 3.0's Schema Object.
SCHEMA_KEYWORDS = frozenset(
    {
        "$ref", "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxProperties", "minProperties", "required", "enum", "type", "allOf",
        "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description",
        "format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml",
        "externalDocs", "example", "deprecated",
    }
)  # fmt: skip
_ENCODING_FORMATS = {"base64": "byte", "binary": "binary"}
_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_UNIONS = ("anyOf", "oneOf", "type")
# 3.0 has no null type: any type, made nullable, restricted to null
_ONLY_NULL: dict[str, Any] = {"type": "object", "nullable": True, "enum": [None]}


def to_openapi_30(document: Mapping[str, Any]) -> dict[str, Any]:
    """A 3.0.3 copy of an OpenAPI 3.1 (or 3.0) ``document``; the input is not changed."""
    try:
        return _downgrade(copy.deepcopy(dict(document)))
    except RecursionError:
        raise OpenApiDocumentError("the document is nested too deeply to convert") from None


def _downgrade(doc: dict[str, Any]) -> dict[str, Any]:
    doc["openapi"] = OPENAPI_30
    doc.pop("webhooks", None)
    doc.pop("jsonSchemaDialect", None)
    info = doc.setdefault("info", {})
    if isinstance(info, dict):
        info.pop("summary", None)
        if isinstance(info.get("license"), dict):
            info["license"].pop("identifier", None)
    components = doc.get("components")
    components = components if isinstance(components, dict) else {}
    down = SchemaDowngrade(_dict(components.get("schemas")))
    if isinstance(doc.get("paths"), dict):
        doc["paths"] = {path: down.path_item(item) for path, item in doc["paths"].items()}
    components.pop("pathItems", None)
    sections: dict[str, Callable[[Any], Any]] = {
        "schemas": down.schema,
        "parameters": down.parameter,
        "requestBodies": down.content,
        "responses": down.response,
        "headers": down.parameter,
    }
    for section, convert in sections.items():
        if isinstance(components.get(section), dict):
            components[section] = {k: convert(v) for k, v in components[section].items()}
    return doc


class SchemaDowngrade:
    """Converts the schemas of one document (``components``: its 3.1 component schemas, read
    for the type of a referenced component). Works on copies: :func:`to_openapi_30` made one."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self.components = components

    def path_item(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        if isinstance(item.get("parameters"), list):
            item["parameters"] = [self.parameter(p) for p in item["parameters"]]
        for method in _HTTP_METHODS:
            if isinstance(item.get(method), dict):
                item[method] = self.operation(item[method])
        return item

    def operation(self, operation: dict[str, Any]) -> dict[str, Any]:
        if isinstance(operation.get("parameters"), list):
            operation["parameters"] = [self.parameter(p) for p in operation["parameters"]]
        if "requestBody" in operation:
            operation["requestBody"] = self.content(operation["requestBody"])
        if isinstance(operation.get("responses"), dict):
            responses = operation["responses"]
            operation["responses"] = {k: self.response(v) for k, v in responses.items()}
        for name, callback in _dict(operation.get("callbacks")).items():
            if isinstance(callback, dict) and "$ref" not in callback:
                operation["callbacks"][name] = {k: self.path_item(v) for k, v in callback.items()}
        return operation

    def parameter(self, parameter: Any) -> Any:
        """A Parameter or Header Object (their ``examples`` maps are valid 3.0)."""
        if isinstance(parameter, dict) and "schema" in parameter:
            parameter["schema"] = self.schema(parameter["schema"])
        return self.content(parameter)

    def response(self, response: Any) -> Any:
        if isinstance(response, dict):
            for name, header in _dict(response.get("headers")).items():
                response["headers"][name] = self.parameter(header)
        return self.content(response)

    def content(self, holder: Any) -> Any:
        """A request body, response or parameter: the schema of each media type."""
        for media in _dict(holder.get("content") if isinstance(holder, dict) else None).values():
            if isinstance(media, dict) and "schema" in media:
                media["schema"] = self.schema(media["schema"])
        return holder

    def schema(self, schema: Any) -> Any:
        """One JSON Schema 2020-12 schema (as pydantic and FastAPI emit them) as 3.0's."""
        if schema is True:
            return {}
        if schema is False:
            return {"not": {}}
        if not isinstance(schema, Mapping):
            return schema
        out = self._children({k: v for k, v in schema.items() if k not in _UNIONS})
        out = _keywords(out)
        if "type" in schema:
            out = _type(out, schema["type"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                out = self._union(out, key, schema[key])
        if "$ref" in out and len(out) > 1:
            out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
        if isinstance(out.get("enum"), list) and None in out["enum"]:
            out["nullable"] = True
        order = [k for k in schema if k in out] + [k for k in out if k not in schema]
        return {k: out[k] for k in order if k in SCHEMA_KEYWORDS or k.startswith("x-")}

    def _children(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Convert the sub-schemas of ``schema`` (its own unions are :meth:`_union`'s)."""
        if isinstance(schema.get("properties"), Mapping):
            schema["properties"] = {k: self.schema(v) for k, v in schema["properties"].items()}
        if isinstance(schema.get("additionalProperties"), Mapping):
            schema["additionalProperties"] = self.schema(schema["additionalProperties"])
        for key in ("items", "not"):
            if key in schema:
                schema[key] = self.schema(schema[key])
        if isinstance(schema.get("allOf"), list):
            schema["allOf"] = [self.schema(s) for s in schema["allOf"]]
        prefix = schema.pop("prefixItems", None)
        if isinstance(prefix, list) and "items" not in schema:
            schema["items"] = {"anyOf": [self.schema(s) for s in prefix]} if prefix else {}
            schema.setdefault("minItems", len(prefix))
            schema.setdefault("maxItems", len(prefix))
        return schema

    def _union(self, schema: dict[str, Any], key: str, branches: Any) -> dict[str, Any]:
        """``anyOf``/``oneOf``: a null branch makes the others nullable; one left is merged."""
        if not isinstance(branches, list):
            return {**schema, key: branches}
        converted = [(b, self.schema(b)) for b in branches]
        kept = [c for b, c in converted if not _is_null(b)]
        if len(kept) == len(branches) or not all(isinstance(c, dict) for c in kept):
            schema[key] = [c for _, c in converted]  # no null, or a branch that is no schema
            return schema
        if not kept:
            return {**schema, **_ONLY_NULL}
        if len(kept) > 1:
            return {**schema, key: [self.nullable(b) for b in kept]}
        merged = {**self.nullable(kept[0]), **schema}
        if "type" in merged:  # a reference's wrapper: its type and nullable go first
            head = {"type": merged.pop("type")}
            if "nullable" in merged:  # not when the branch was an anyOf made nullable inside
                head["nullable"] = merged.pop("nullable")
            merged = {**head, **merged}
        return merged

    def nullable(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` that also accepts null, in the form 3.0.3 reads (``nullable`` beside a
        ``type``); a schema that has no type keeps ``nullable`` alone (3.0.0's reading)."""
        ref = schema.get("$ref")
        wrapped: Any = schema.get("allOf")
        if ref is None and _one_ref(wrapped) and "type" not in schema:
            ref = wrapped[0]["$ref"]
        if ref is not None:
            base = {k: v for k, v in schema.items() if k != "$ref"}
            base.setdefault("allOf", [{"$ref": ref}])
            kind = self.component_type(ref)
            return {**({"type": kind} if kind else {}), "nullable": True, **base}
        branches = schema.get("anyOf")
        if (
            "type" not in schema
            and isinstance(branches, list)
            and all(isinstance(b, dict) for b in branches)
        ):
            return {**schema, "anyOf": [self.nullable(b) for b in branches]}
        return {**schema, "nullable": True}

    def component_type(self, ref: object) -> str | None:
        """The ``type`` of the component ``ref`` points at (an enum's from its values)."""
        target = self.components.get(ref.rsplit("/", 1)[-1]) if isinstance(ref, str) else None
        if not isinstance(target, Mapping):
            return None
        kind = target.get("type")
        if isinstance(kind, str) and kind != "null":
            return kind
        if "properties" in target:
            return "object"
        kinds = {_JSON_TYPES.get(type(v)) for v in _list(target.get("enum"))}
        return kinds.pop() if len(kinds) == 1 else None


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a part of the wrong shape)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _one_ref(wrapped: Any) -> bool:
    """``allOf: [{$ref}]``, the wrapper of a reference with siblings."""
    return (
        isinstance(wrapped, list)
        and len(wrapped) == 1
        and isinstance(wrapped[0], dict)
        and "$ref" in wrapped[0]
    )


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and (
        schema.get("type") == "null" or ("const" in schema and schema["const"] is None)
    )


def _keywords(schema: dict[str, Any]) -> dict[str, Any]:
    """The keywords whose meaning or form changed between the dialects."""
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    examples = schema.pop("examples", None)
    if isinstance(examples, list) and examples and "example" not in schema:
        schema["example"] = examples[0]
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value = schema.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            schema[bound] = value
            schema[exclusive] = True
    media = schema.pop("contentMediaType", None)
    encoding = schema.pop("contentEncoding", None)
    if "format" not in schema and (media is not None or encoding is not None):
        schema["format"] = _ENCODING_FORMATS.get(str(encoding), "binary")
    if schema.get("required") == []:
        del schema["required"]
    return schema


def _type(schema: dict[str, Any], kind: Any) -> dict[str, Any]:
    kinds = kind if isinstance(kind, list) else [kind]
    nullable = "null" in kinds
    kinds = [k for k in kinds if k != "null"]
    if not kinds:
        schema.update(_ONLY_NULL)
        nullable = False
    elif len(kinds) == 1:
        schema["type"] = kinds[0]
    else:
        schema["anyOf"] = [{"type": k, **({"nullable": True} if nullable else {})} for k in kinds]
        nullable = False
    if nullable:
        schema["nullable"] = True
    if schema.get("type") == "array":
        schema.setdefault("items", {})
    return schema
