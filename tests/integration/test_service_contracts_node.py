"""export_service_contracts' output with the real Node tools: the ``types`` and ``client`` of a
FastAPI service and of camguard's worker compile under ``tsc --strict``, the ``schema`` passes
Redocly's OpenAPI 3.0 structural validation, and the compiled FastAPI client talks to the real
FastAPI app over HTTP (an aiohttp server hands each request to the app through httpx's ASGI
transport)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI

from agents.worker import build_worker
from codegen.service_contracts import export_service_contracts
from streams.devstack import free_port
from streams.settings import Settings
from tests.unit.codegen.fusion_app import fusion_app

CODEGEN = Path(__file__).resolve().parents[2] / "codegen"
TSC_OPTIONS = [
    "--strict",
    "--noUncheckedIndexedAccess",
    "--noImplicitOverride",
    "--target", "ES2022",
    "--module", "commonjs",
    "--types", "node",
    "--typeRoots", str(CODEGEN / "node_modules" / "@types"),
]  # fmt: skip

FUSION_CALLS = """
import {
  ApiError,
  addDetectionTracksTrackIdDetectionsPost,
  getTrackTracksTrackIdGet,
  healthHealthGet,
  type ClientOptions,
} from "./client";
import type * as models from "./types";

async function main(): Promise<void> {
  const baseUrl = process.argv[2];
  if (baseUrl === undefined) {
    throw new Error("usage: calls BASE_URL");
  }
  const options: ClientOptions = { baseUrl, headers: { authorization: "Bearer t" } };
  const detection: models.Detection = { camera_id: "cam 1/a", score: 0.5, zone: null };
  const added: models.Fused = await addDetectionTracksTrackIdDetectionsPost(options, {
    path: { track_id: 7 },
    query: { dry_run: true, zone: "north" },
    headers: { "x-request-id": "r-1" },
    body: detection,
  });
  const track: models.Fused = await getTrackTracksTrackIdGet(options, { path: { track_id: 9 } });
  const health: Record<string, string> = await healthHealthGet(options);
  let refused: unknown = null;
  try {
    await getTrackTracksTrackIdGet(options, { path: { track_id: 9 }, query: { limit: 0 } });
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    refused = { status: err.status, operationId: err.operationId };
  }
  process.stdout.write(`${JSON.stringify({ added, track, health, refused })}\\n`);
}

/** Never called: tsc must reject each marked line, so the types are not `any`. */
export async function wrongCalls(options: ClientOptions): Promise<void> {
  // @ts-expect-error track_id is a number
  await getTrackTracksTrackIdGet(options, { path: { track_id: "9" } });
  // @ts-expect-error the body is required
  await addDetectionTracksTrackIdDetectionsPost(options, { path: { track_id: 1 }, headers: {} });
  // @ts-expect-error score is a number
  const bad: models.Detection = { camera_id: "c", score: "high" };
  // @ts-expect-error the result has no such field
  (await healthHealthGet(options)).status.nope;
  void bad;
}

main().catch((err: unknown) => {
  process.stderr.write(`calls failed: ${err instanceof Error ? err.stack : String(err)}\\n`);
  process.exit(1);
});
"""

WORKER_CALLS = """
import { getApiCameras, getApiCamerasByCameraId, getPolicies, type ClientOptions } from "./client";
import type * as models from "./types";

export async function calls(options: ClientOptions): Promise<number> {
  const cameras: models.CameraList = await getApiCameras(options);
  const one = await getApiCamerasByCameraId(options, { path: { camera_id: "cam-1" } });
  await getPolicies(options, { query: { org_id: "org-1", camera_id: "cam-1" } });
  // @ts-expect-error camera_id is required
  await getApiCamerasByCameraId(options, { path: {} });
  return Object.keys(cameras).length + Object.keys(one).length;
}
"""

VALIDATE_JS = """
const { lintFromString, createConfig } = require("@redocly/openapi-core");
(async () => {
  const source = require("fs").readFileSync(process.argv[1], "utf8");
  const config = await createConfig({ rules: { struct: "error", "no-unresolved-refs": "error" } });
  const problems = await lintFromString({ source, absoluteRef: "/openapi.json", config });
  process.stdout.write(JSON.stringify(problems.map((p) => ({
    rule: p.ruleId, message: p.message, where: p.location[0] && p.location[0].pointer,
  }))));
})().catch((err) => { process.stderr.write(String(err)); process.exit(1); });
"""


def _node(args: list[str], cwd: Path = CODEGEN) -> subprocess.CompletedProcess[str]:
    if not (CODEGEN / "node_modules" / "typescript").is_dir():
        pytest.fail("codegen/node_modules missing: run `make node-deps` (npm ci in codegen/)")
    env = {**os.environ, "NODE_PATH": str(CODEGEN / "node_modules")}
    return subprocess.run(
        ["node", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=240
    )


def _write_project(directory: Path, contracts: Any, calls: str) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "types.ts").write_text(contracts["types"])
    (directory / "client.ts").write_text(contracts["client"])
    (directory / "calls.ts").write_text(calls)
    return [str(directory / name) for name in ("types.ts", "client.ts", "calls.ts")]


def _tsc(*args: str) -> None:
    tsc = str(CODEGEN / "node_modules" / "typescript" / "bin" / "tsc")
    done = _node([tsc, *TSC_OPTIONS, *args])
    assert done.returncode == 0, done.stdout + done.stderr


def _validate_openapi_30(document: dict[str, Any], tmp_path: Path) -> list[Any]:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document))
    done = _node(["-e", VALIDATE_JS, str(source)])
    assert done.returncode == 0, done.stderr
    problems: list[Any] = json.loads(done.stdout)
    return problems


@pytest.fixture
async def fusion_url() -> AsyncIterator[str]:
    """The FastAPI app served over real HTTP (aiohttp in front of httpx's ASGI transport)."""
    app: FastAPI = fusion_app()
    asgi = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fusion")

    async def forward(request: web.Request) -> web.Response:
        answer = await asgi.request(
            request.method,
            request.rel_url.path_qs,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=await request.read(),
        )
        return web.Response(
            status=answer.status_code,
            body=answer.content,
            content_type=answer.headers.get("content-type", "").split(";")[0] or None,
        )

    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(server)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await asgi.aclose()


async def test_fastapi_contracts_compile_validate_and_call_the_app(
    tmp_path: Path, fusion_url: str
) -> None:
    contracts = export_service_contracts(fusion_app(), "fusion", "2.0.0")
    files = _write_project(tmp_path / "src", contracts, FUSION_CALLS)
    _tsc("--outDir", str(tmp_path / "out"), *files)
    assert _validate_openapi_30(contracts["schema"], tmp_path) == []

    node = await asyncio.create_subprocess_exec(
        "node", str(tmp_path / "out" / "calls.js"), fusion_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(node.communicate(), timeout=60)
    assert node.returncode == 0, stderr.decode()
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["added"] == {
        "track_id": 7,
        "detection": {"camera_id": "cam 1/a", "score": 0.5, "zone": None},
        "tags": ["dry_run=True", "zone=north", "request=r-1"],
    }
    assert result["track"]["track_id"] == 9
    assert result["health"] == {"status": "ok"}
    assert result["refused"] == {"status": 422, "operationId": "get_track_tracks__track_id__get"}


def test_worker_contracts_compile_and_validate(tmp_path: Path) -> None:
    contracts = export_service_contracts(build_worker(Settings()), "fusion", "2.0.0")
    files = _write_project(tmp_path / "src", contracts, WORKER_CALLS)
    _tsc("--noEmit", *files)
    assert _validate_openapi_30(contracts["schema"], tmp_path) == []


def test_the_validator_refuses_a_31_document(tmp_path: Path) -> None:
    """The check above has teeth: FastAPI's own 3.1 document, labelled 3.0, is refused."""
    document = fusion_app().openapi()
    problems = _validate_openapi_30({**document, "openapi": "3.0.3"}, tmp_path)
    messages = " ".join(p["message"] for p in problems)
    assert "`examples` is not expected" in messages
    assert "Expected type `boolean`" in messages  # a numeric exclusiveMinimum
