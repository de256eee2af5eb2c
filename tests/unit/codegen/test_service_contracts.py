"""export_service_contracts for a FastAPI app and for camguard's worker (tsc compiles the output
in tests/integration/test_service_contracts_node.py)."""

from __future__ import annotations

import json
from typing import Any

from agents.worker import build_worker
from codegen.http_client import function_name, render_client
from codegen.service_contracts import export_service_contracts
from streams.settings import Settings
from tests.unit.codegen.fusion_app import fusion_app


def test_fastapi_app_exports_openapi_30_types_and_client() -> None:
    app = fusion_app()
    before = json.dumps(app.openapi())
    contracts = export_service_contracts(app, "fusion", "2.0.0")
    assert json.dumps(app.openapi()) == before  # FastAPI's cached document is not changed

    schema = contracts["schema"]
    assert schema["openapi"] == "3.0.3"
    assert schema["info"] == {"title": "fusion", "version": "2.0.0"}
    detection = schema["components"]["schemas"]["Detection"]["properties"]
    assert detection["zone"] == {"type": "string", "nullable": True, "title": "Zone"}
    assert detection["score"]["exclusiveMinimum"] is True
    assert detection["camera_id"]["example"] == "cam-1"
    post = schema["paths"]["/tracks/{track_id}/detections"]["post"]
    assert [p["name"] for p in post["parameters"]] == [
        "track_id",
        "dry_run",
        "zone",
        "x-request-id",
    ]

    types = contracts["types"]
    assert "/** One detection request. */\nexport interface Detection {" in types
    assert "  zone?: string | null;" in types
    assert "export interface Fused {" in types

    client = contracts["client"]
    assert client.startswith("// fusion 2.0.0: HTTP client generated")
    assert 'import type * as models from "./types";' in client
    assert "export type AddDetectionTracksTrackIdDetectionsPostResult = models.Fused;" in client
    assert "  body: models.Detection;" in client
    assert '    "x-request-id"?: string | null;' in client
    assert '"/tracks/" + segment(params.path.track_id) + "/detections"' in client
    assert "export async function healthHealthGet(options: ClientOptions)" in client
    assert "export type HealthHealthGetResult = Record<string, string>;" in client


def test_the_worker_exports_the_same_shape() -> None:
    worker = build_worker(Settings())
    contracts = export_service_contracts(worker, "camguard", "0.1.0")
    assert contracts["schema"]["openapi"] == "3.0.3"
    assert contracts["schema"]["info"]["version"] == "0.1.0"
    assert "/api/cameras/{camera_id}" in contracts["schema"]["paths"]
    assert "export interface CameraList" in contracts["types"]
    assert "export async function getApiCamerasByCameraId(" in contracts["client"]
    assert export_service_contracts(None, "camguard", "0.1.0")["schema"] == contracts["schema"]


def test_function_names() -> None:
    assert function_name("read_item_items__item_id__get") == "readItemItemsItemIdGet"
    assert function_name("getApiCameras") == "getApiCameras"
    assert function_name("delete") == "deleteOp"
    assert function_name("2fa") == "op2fa"


def test_names_the_module_uses_itself_and_repeated_ids_get_unique_names() -> None:
    ok: dict[str, Any] = {"200": {"description": "ok"}}
    document = {
        "paths": {
            "/a": {"get": {"operationId": "send", "responses": ok}},
            "/b": {"get": {"operationId": "list", "responses": ok}},
            "/c": {"get": {"operationId": "list", "responses": ok}},
        }
    }
    client = render_client(document)
    for name in ("send2", "list", "list2"):
        assert f"export async function {name}(options: ClientOptions)" in client
    assert "import type" not in client  # no component schemas: nothing to import
