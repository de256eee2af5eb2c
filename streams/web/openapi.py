"""The OpenAPI 3.1 document of every described endpoint, GET /openapi.json, and TypeScript.

The document is built from :mod:`streams.web.endpoints`' registry (each view module describes its
endpoints next to the view, with pydantic models). :data:`VIEW_PACKAGES` is the one list of where
view modules live; :func:`import_view_modules` imports all of them so the registry is complete
whichever views this process installed.

:func:`export_service_contracts` returns ``{"schema": <OpenAPI dict>, "types": <TypeScript>}``;
``python -m codegen`` writes both under codegen/generated/http/ and builds the typed client.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from faust.web import Request, Response, View
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from streams.app import CamguardApp
from streams.exceptions import CamguardError
from streams.web.endpoints import Endpoint, describe, endpoints

#: Packages (every submodule is imported) and modules that describe HTTP endpoints.
VIEW_PACKAGES: tuple[str, ...] = ("streams.web", "streams.anonymize.stats")

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document (only the top-level keys are described)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


describe(Endpoint("GET", "/openapi.json", "This OpenAPI document", OpenAPIDocument, tags=("meta",)))


def import_view_modules(packages: Iterable[str] = VIEW_PACKAGES) -> list[str]:
    """Import every view module so that all endpoints are described; returns their names."""
    names: list[str] = []
    for name in packages:
        module = importlib.import_module(name)
        names.append(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            names.append(f"{name}.{info.name}")
            importlib.import_module(names[-1])
    return names


class _ResponsesComplete(GenerateJsonSchema):
    """Responses are ``model_dump()`` output: every field is present, defaults included."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return self.mode == "serialization" or super().field_is_required(field, total)


def operation_id(endpoint: Endpoint) -> str:
    """``GET /api/cameras/{camera_id}`` -> ``getApiCamerasByCameraId``."""
    words = [endpoint.method.lower()]
    for segment in endpoint.path.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)\}", segment)
        parts = re.split(r"[^A-Za-z0-9]+", param.group(1) if param else segment)
        words += (["By"] if param else []) + [p[:1].upper() + p[1:] for p in parts if p]
    return "".join(words)


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", endpoint.path)
    ]
    params += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "description": q.description,
            "schema": {"type": q.type},
        }
        for q in endpoint.query
    ]
    return params


def _operation(endpoint: Endpoint, refs: Mapping[Any, dict[str, Any]]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": endpoint.summary}
    if endpoint.response_model is not None:
        schema = refs[(endpoint.response_model, "serialization")]
        ok["content"] = {endpoint.content_type: {"schema": schema}}
    elif endpoint.content_type.startswith("text/"):
        ok["content"] = {endpoint.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {"200": ok}
    for status, description in sorted(endpoint.errors.items()):
        responses[str(status)] = {"description": description}
    operation: dict[str, Any] = {
        "operationId": operation_id(endpoint),
        "summary": endpoint.summary,
        "tags": list(endpoint.tags),
        "responses": responses,
    }
    if endpoint.query or "{" in endpoint.path:
        operation["parameters"] = _parameters(endpoint)
    if endpoint.request_model is not None:
        schema = refs[(endpoint.request_model, "validation")]
        content = {"application/json": {"schema": schema}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def openapi_document(
    described: Sequence[Endpoint], title: str, version: str, description: str = ""
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``described`` (deterministic: sorted paths and schemas)."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for endpoint in described:
        if endpoint.response_model is not None:
            wanted.append((endpoint.response_model, "serialization"))
        if endpoint.request_model is not None:
            wanted.append((endpoint.request_model, "validation"))
    unique = sorted(set(wanted), key=lambda m: (m[0].__module__, m[0].__qualname__, m[1]))
    refs, definitions = models_json_schema(
        unique, ref_template=_REF, schema_generator=_ResponsesComplete
    )
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in sorted(described, key=lambda e: (e.path, e.method)):
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    schemas = definitions.get("$defs", {})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(schemas)}},
    }


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


class UndescribedEndpointError(CamguardError):
    """The app serves pages that streams/web/endpoints.py does not describe.

    Describe each listed path with ``describe(Endpoint(...))`` next to its view, so that the
    OpenAPI document and the TypeScript client cover it.
    """

    reason = "undescribed_endpoint"

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__("pages served but not described: " + ", ".join(paths))
        self.paths = tuple(paths)


def _route_key(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path).rstrip("/") or "/"


def undescribed_pages(app: Any) -> list[str]:
    """Paths of our pages mounted on a Faust ``app`` that no described endpoint covers.

    Faust's own pages (stats, router, tables, index: views defined in ``faust.*``) are not ours
    to describe.
    """
    import_view_modules()
    described = {_route_key(e.path) for e in endpoints()}
    mounted: Mapping[str, Any] = app.web.views
    return sorted(
        path
        for path, view in mounted.items()
        if not type(view).__module__.startswith("faust.") and _route_key(path) not in described
    )


def service_version() -> str:
    """camguard's version from the installed distribution (a checkout has one: ``make`` installs
    it editable); ``0.0.0`` when camguard runs from a bare source tree."""
    try:
        return metadata.version("camguard")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def export_service_contracts(app: Any, service_name: str, version: str) -> dict[str, Any]:
    """``{'schema': OpenAPI 3.1 dict, 'types': TypeScript source}`` for ``service_name``.

    Every view module in :data:`VIEW_PACKAGES` is imported first, so the document describes
    every endpoint, installed or not. ``app`` (a Faust app or a CamguardApp; None skips the
    check) must not serve pages that are not described: :class:`UndescribedEndpointError` lists
    them.
    """
    import_view_modules()
    if app is not None:
        missing = undescribed_pages(app.app if isinstance(app, CamguardApp) else app)
        if missing:
            raise UndescribedEndpointError(missing)
    document = openapi_document(endpoints(), service_name, version, f"HTTP API of {service_name}")
    return {"schema": document, "types": openapi_typescript(document)}


def install(cg: CamguardApp) -> None:
    """Serve GET /openapi.json on the worker's app."""
    mount(cg.app, cg.settings.service_name)


def mount(app: Any, service_name: str) -> None:
    """Serve GET /openapi.json on a Faust ``app``: the same document ``make codegen`` commits."""
    version = service_version()

    @app.page("/openapi.json")
    class OpenAPIView(View):
        async def get(self, request: Request) -> Response:
            return self.json(export_service_contracts(app, service_name, version)["schema"])
