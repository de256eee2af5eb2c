"""The OpenAPI 3.1 document of one server's endpoints, and whether a server keeps to it.

:func:`openapi_document` turns :class:`~streams.contract.http.Endpoint` descriptions into a
deterministic document; :func:`server_document` is that of everything one server (worker or
gateway) serves, as listed in :mod:`streams.contract.endpoints`. Both servers serve theirs at
``GET /openapi.json`` and ``python -m codegen`` commits them with their TypeScript types.

:func:`undescribed_pages` and :func:`unserved_endpoints` compare a Faust app's mounted pages with
the worker's list (read through ``app.web.views``, so this module imports no Faust).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from streams.contract.endpoints import endpoints
from streams.contract.http import Endpoint, Server
from streams.contract.typescript import openapi_typescript
from streams.exceptions import CamguardError

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"


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


def server_document(server: Server, service_name: str, version: str) -> dict[str, Any]:
    """The document of every endpoint registered for ``server``, titled ``service_name``."""
    return openapi_document(endpoints(server), service_name, version, f"HTTP API of {service_name}")


def service_version() -> str:
    """camguard's version from the installed distribution (a checkout has one: ``make`` installs
    it editable); ``0.0.0`` when camguard runs from a bare source tree."""
    try:
        return metadata.version("camguard")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class UndescribedEndpointError(CamguardError):
    """The app serves pages that streams/contract/endpoints.py does not list.

    List each page in ``WORKER_ENDPOINTS`` with its models, so that the OpenAPI document and the
    TypeScript client cover it.
    """

    reason = "undescribed_endpoint"

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__("pages served but not described: " + ", ".join(paths))
        self.paths = tuple(paths)


def _route_key(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path).rstrip("/") or "/"


def _mounted(app: Any) -> Mapping[str, Any]:
    """The pages of a Faust app, or of the one a CamguardApp holds (``.app``)."""
    faust_app = app if hasattr(app, "web") else app.app
    views: Mapping[str, Any] = faust_app.web.views
    return views


def undescribed_pages(app: Any) -> list[str]:
    """Paths of our pages mounted on a Faust ``app`` that no listed worker endpoint covers.

    Faust's own pages (stats, router, tables, index: views defined in ``faust.*``) are not ours
    to describe.
    """
    described = {_route_key(e.path) for e in endpoints("worker")}
    return sorted(
        path
        for path, view in _mounted(app).items()
        if not type(view).__module__.startswith("faust.") and _route_key(path) not in described
    )


def unserved_endpoints(app: Any) -> list[str]:
    """Listed worker paths that a Faust ``app`` does not mount (the document would promise a
    page the server answers with 404)."""
    mounted = {_route_key(path) for path in _mounted(app)}
    return sorted({e.path for e in endpoints("worker")} - mounted)


def export_service_contracts(app: Any, service_name: str, version: str) -> dict[str, Any]:
    """``{'schema': OpenAPI 3.1 dict, 'types': TypeScript source}`` of the worker's endpoints.

    ``app`` (a Faust app or a CamguardApp; None skips the check) must not serve pages that are
    not listed: :class:`UndescribedEndpointError` names them.
    """
    if app is not None:
        missing = undescribed_pages(app)
        if missing:
            raise UndescribedEndpointError(missing)
    document = server_document("worker", service_name, version)
    return {"schema": document, "types": openapi_typescript(document)}
