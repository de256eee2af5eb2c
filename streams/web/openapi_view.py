"""GET /openapi.json on the worker: the document of the worker's endpoints.

The document is :func:`streams.contract.openapi.export_service_contracts`' (the endpoints listed
in streams/contract/endpoints.py, the same document ``python -m codegen`` commits under
codegen/generated/http/); serving it here also checks that the app mounts no page the contract
does not list.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.contract.openapi import export_service_contracts, service_version


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
