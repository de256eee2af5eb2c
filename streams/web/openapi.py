"""The worker's OpenAPI 3.1 document, its GET /openapi.json, and TypeScript models.

The document is built from :mod:`streams.web.endpoints`' registry (each view module describes its
endpoints next to the view, with pydantic models) by :mod:`streams.web.openapi_document`, and
lists only the worker's endpoints (the gateway serves its own). :data:`VIEW_PACKAGES` is the one
list of where view modules live; :func:`import_view_modules` imports all of them so the registry
is complete whichever views this process installed.

:func:`export_service_contracts` returns ``{"schema": <OpenAPI dict>, "types": <TypeScript>}``;
``python -m codegen`` writes both under codegen/generated/http/ and builds the typed client.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.exceptions import CamguardError
from streams.web.endpoints import Endpoint, OpenAPIDocument, describe, endpoints
from streams.web.openapi_document import (
    OPENAPI_VERSION,
    openapi_document,
    operation_id,
    server_document,
    service_version,
)

__all__ = [
    "OPENAPI_VERSION",
    "VIEW_PACKAGES",
    "OpenAPIDocument",
    "UndescribedEndpointError",
    "export_service_contracts",
    "import_view_modules",
    "install",
    "json_schema_ts",
    "mount",
    "openapi_document",
    "openapi_typescript",
    "operation_id",
    "server_document",
    "service_version",
    "ts_identifier",
    "undescribed_pages",
    "unserved_endpoints",
]

#: Packages (every submodule is imported) and modules that describe HTTP endpoints.
VIEW_PACKAGES: tuple[str, ...] = ("streams.web",)

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


def unserved_endpoints(app: Any) -> list[str]:
    """Described worker paths that a Faust ``app`` does not mount (the document would promise
    a page the server answers with 404)."""
    import_view_modules()
    mounted = {_route_key(path) for path in app.web.views}
    return sorted({e.path for e in endpoints("worker")} - mounted)


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
    document = server_document("worker", service_name, version)
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
