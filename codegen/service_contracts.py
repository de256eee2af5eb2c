"""A service's HTTP contract for other teams: OpenAPI 3.0 plus TypeScript types and client.

:func:`export_service_contracts` takes either a FastAPI app (anything with FastAPI's
``openapi()`` method: the platform's services) or camguard's worker (a
:class:`~streams.app.CamguardApp` or its Faust app, or None for every described endpoint), and
returns:

- ``schema``: the OpenAPI **3.0.3** document (:func:`codegen.openapi30.to_openapi_30` of the
  app's 3.1 one), ``info.title`` the service name and ``info.version`` the given version;
- ``types``: a TypeScript module with one declaration per component schema (the request and
  response models), rendered by :func:`streams.contract.typescript.openapi_typescript`;
- ``client``: a TypeScript module with one typed ``fetch`` function per operation
  (:func:`codegen.http_client.render_client`), importing the models from ``types_module``
  (``./types``: save ``types`` as ``types.ts`` beside it).

Both TypeScript modules are rendered from the 3.1 document, whose JSON Schema says exactly what
may be null. Nothing here needs Node; ``tests/integration/test_service_contracts_node.py``
compiles the output with tsc.
"""

from __future__ import annotations

import copy
from typing import Any, TypedDict

from codegen.http_client import render_client
from codegen.openapi30 import to_openapi_30
from streams.contract.openapi import export_service_contracts as export_worker_contracts
from streams.contract.typescript import openapi_typescript


class ServiceContracts(TypedDict):
    """What :func:`export_service_contracts` returns."""

    schema: dict[str, Any]
    types: str
    client: str


def openapi_31(app: Any, service_name: str, version: str) -> dict[str, Any]:
    """The app's own OpenAPI 3.1 document, titled ``service_name`` at ``version``."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        worker: dict[str, Any] = export_worker_contracts(app, service_name, version)["schema"]
        return worker
    document: dict[str, Any] = copy.deepcopy(openapi())  # FastAPI caches and shares it
    document["info"] = {**document.get("info", {}), "title": service_name, "version": version}
    return document


def export_service_contracts(
    app: Any, service_name: str, version: str, types_module: str = "./types"
) -> ServiceContracts:
    """``{"schema": OpenAPI 3.0.3, "types": TypeScript models, "client": TypeScript client}``.

    ``app``: a FastAPI app, a CamguardApp or Faust app (camguard's worker: its pages must all
    be described, else :class:`~streams.contract.openapi.UndescribedEndpointError`), or None.
    """
    document = openapi_31(app, service_name, version)
    header = (
        f"// {service_name} {version}: HTTP client generated from the OpenAPI document by\n"
        "// codegen/service_contracts.py. Do not edit.\n"
    )
    return {
        "schema": to_openapi_30(document),
        "types": openapi_typescript(document),
        "client": render_client(document, types_module, header),
    }
