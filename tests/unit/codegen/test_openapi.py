"""The OpenAPI document, its TypeScript models and the typed client, from endpoint descriptions."""

from __future__ import annotations

import json
from typing import Any

import faust
import pytest
from pydantic import BaseModel, Field

from agents.worker import build_worker
from codegen.http_client import render_client
from codegen.http_contracts import render_conformance
from streams.contract.endpoints import endpoints
from streams.contract.http import Endpoint, QueryParam
from streams.contract.openapi import (
    UndescribedEndpointError,
    export_service_contracts,
    openapi_document,
    operation_id,
    undescribed_pages,
    unserved_endpoints,
)
from streams.contract.typescript import openapi_typescript
from streams.gateway.web import gateway_openapi
from streams.settings import Settings


class Breaker(BaseModel):
    """Breaker of one camera."""

    state: str = Field(description="CLOSED, OPEN or HALF_OPEN")
    retry_after_ms: int | None = None


class Camera(BaseModel):
    """Health of one camera."""

    camera_id: str
    online: bool
    breaker: Breaker
    tags: list[str] = []
    attributes: dict[str, float] = {}


class Rename(BaseModel):
    """A rename request."""

    name: str
    note: str | None = None


CAMERA = Endpoint(
    "GET",
    "/api/cameras/{camera_id}",
    "One camera",
    Camera,
    query=(QueryParam("verbose", "include history", type="boolean"),),
    errors={404: "unknown camera"},
    tags=("cameras",),
)
RENAME = Endpoint("POST", "/api/cameras/{camera_id}/name", "Rename", Camera, request_model=Rename)
METRICS = Endpoint("GET", "/metrics", "Prometheus text", None, content_type="text/plain")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document([RENAME, METRICS, CAMERA], "svc", "1.2.3")


def test_operations_are_named_from_method_and_path() -> None:
    assert operation_id(CAMERA) == "getApiCamerasByCameraId"
    assert operation_id(RENAME) == "postApiCamerasByCameraIdName"
    assert operation_id(Endpoint("GET", "/queue/stats", "", None)) == "getQueueStats"


def test_document_describes_parameters_bodies_and_errors(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "1.2.3"
    get = document["paths"]["/api/cameras/{camera_id}"]["get"]
    assert get["parameters"] == [
        {"name": "camera_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "verbose",
            "in": "query",
            "required": False,
            "description": "include history",
            "schema": {"type": "boolean"},
        },
    ]
    assert get["responses"]["404"] == {"description": "unknown camera"}
    ok = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Camera"}
    post = document["paths"]["/api/cameras/{camera_id}/name"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Rename"}
    text = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert text == {"text/plain": {"schema": {"type": "string"}}}


def test_response_fields_are_all_required_request_defaults_are_not(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert sorted(schemas) == ["Breaker", "Camera", "Rename"]
    assert set(schemas["Camera"]["required"]) == {
        "camera_id",
        "online",
        "breaker",
        "tags",
        "attributes",
    }
    assert schemas["Rename"]["required"] == ["name"]


def test_document_is_deterministic_whatever_the_registration_order() -> None:
    one = openapi_document([CAMERA, RENAME, METRICS], "svc", "1")
    two = openapi_document([METRICS, RENAME, CAMERA], "svc", "1")
    assert json.dumps(one) == json.dumps(two)


def test_models_typescript(document: dict[str, Any]) -> None:
    source = openapi_typescript(document)
    assert "/** Health of one camera. */\nexport interface Camera {" in source
    assert "  breaker: Breaker;" in source
    assert "  tags: string[];" in source
    assert "  attributes: Record<string, number>;" in source
    assert "  /** CLOSED, OPEN or HALF_OPEN */\n  state: string;" in source
    assert "  retry_after_ms: number | null;" in source
    assert "  note?: string | null;" in source


def test_client_has_a_typed_function_per_operation(document: dict[str, Any]) -> None:
    client = render_client(document)
    assert 'import type * as models from "./models";' in client
    assert (
        "export async function getApiCamerasByCameraId(options: ClientOptions, "
        "params: GetApiCamerasByCameraIdParams): Promise<GetApiCamerasByCameraIdResult>"
    ) in client
    assert '"/api/cameras/" + segment(params.path.camera_id)' in client
    assert "export type GetApiCamerasByCameraIdResult = models.Camera;" in client
    assert "  query?: {\n    /** include history */\n    verbose?: boolean;\n  };" in client
    assert "@throws {@link ApiError} 404: unknown camera" in client
    assert "  body: models.Rename;" in client
    assert "    json: params.body,\n" in client
    assert "export type GetMetricsResult = string;" in client
    assert "return response.text();" in client


def test_conformance_asserts_every_component(document: dict[str, Any]) -> None:
    conformance = render_conformance(document)
    for name in ("Breaker", "Camera", "Rename"):
        assert f'Assert<Same<components["schemas"]["{name}"], models.{name}>>' in conformance


def test_export_describes_every_registered_endpoint() -> None:
    contracts = export_service_contracts(None, "camguard", "0.1.0")
    paths = contracts["schema"]["paths"]
    for endpoint in endpoints():
        assert endpoint.method.lower() in paths[endpoint.path]
    assert "/openapi.json" in paths
    assert "export interface OpenAPIDocument" in contracts["types"]


def test_pages_served_but_not_described_are_refused() -> None:
    app = faust.App("contracts-test", autodiscover=False)

    @app.page("/undescribed/thing/")
    async def thing(web: Any, request: Any) -> Any:
        return web.json({})

    @app.page("/healthz/")  # listed in streams/contract/endpoints.py
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({})

    assert undescribed_pages(app) == ["/undescribed/thing/"]
    with pytest.raises(UndescribedEndpointError, match="/undescribed/thing/"):
        export_service_contracts(app, "camguard", "0.1.0")


def test_every_page_the_worker_serves_is_described_and_every_described_page_served() -> None:
    worker = build_worker(Settings())
    assert undescribed_pages(worker.app) == []
    assert unserved_endpoints(worker.app) == []
    contracts = export_service_contracts(worker, "camguard", "0.1.0")
    assert "/openapi.json" in contracts["schema"]["paths"]


def test_the_worker_document_lists_no_gateway_page() -> None:
    # Regression: /queue/stats (gateway only) was in the worker's document, which the worker
    # answered with 404 where the document promised 200.
    paths = export_service_contracts(None, "camguard", "0.1.0")["schema"]["paths"]
    assert "/queue/stats" not in paths
    assert "QueueStatsResponse" not in export_service_contracts(None, "camguard", "0")["types"]
    assert {e.path for e in endpoints("gateway")} == {
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/queue/stats",
    }
    gateway = gateway_openapi("0.1.0")
    assert set(gateway["paths"]) == {e.path for e in endpoints("gateway")}
    assert gateway["info"]["title"] == "camguard-gateway"
    assert "/webhooks/supabase" not in gateway["paths"]
    # The same path on both servers is two endpoints, each in its own server's document.
    worker_health = paths["/healthz"]["get"]["summary"]
    assert worker_health != gateway["paths"]["/healthz"]["get"]["summary"]
