"""The gateway's HTTP pages against its own OpenAPI document: what it serves, what it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestServer

from streams.contract.endpoints import endpoints
from streams.contract.gateway_http import QueueStats, QueueStatsResponse
from streams.contract.http import Liveness
from streams.gateway.metrics import GatewaySnapshot
from streams.gateway.web import build_web_app, gateway_openapi
from streams.spool.producer import ProducerStats

QUEUE = QueueStats(
    name="frames",
    memory_queue_size=0,
    disk_queue_size=0,
    total_queued=0,
    in_flight=0,
    memory_bytes=0,
    disk_bytes=0,
    disk_file_bytes=0,
    disk_segments=0,
    oldest_item_age_s=None,
    enqueued_total=0,
    dequeued_total=0,
    acked_total=0,
    nacked_total=0,
    spilled_total=0,
    drained_total=0,
    recovered_total=0,
    full_errors_total=0,
    sink_up=True,
    disk_full=False,
    durable=True,
    dropped={},
    dropped_total=0,
    quarantined=(),
    truncated_bytes=0,
)
PRODUCER = ProducerStats(
    sink_connected=True,
    breaker_state="CLOSED",
    delivered_total=0,
    batches_total=0,
    retried_total=0,
    rejected_total=0,
    outages_total=0,
    last_error=None,
    last_delivery_ms=None,
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    server = TestServer(build_web_app(lambda: GatewaySnapshot(QUEUE, PRODUCER, {})))
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url(""))) as http:
            yield http
    finally:
        await server.close()


async def test_openapi_json_is_the_gateway_document(client: httpx.AsyncClient) -> None:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    document = answer.json()
    assert document == gateway_openapi()
    assert set(document["paths"]) == {"/healthz", "/metrics", "/openapi.json", "/queue/stats"}


async def test_every_documented_page_answers_as_documented(client: httpx.AsyncClient) -> None:
    for endpoint in endpoints("gateway"):
        answer = await client.request(endpoint.method, endpoint.path)
        assert answer.status_code == 200, endpoint.path
        assert answer.headers["content-type"].split(";")[0] == endpoint.content_type
    Liveness.model_validate_json((await client.get("/healthz")).content)
    QueueStatsResponse.model_validate_json((await client.get("/queue/stats")).content)


async def test_undeclared_methods_get_405_with_allow(client: httpx.AsyncClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = await client.request(method, "/queue/stats")
        assert answer.status_code == 405
        assert "GET" in answer.headers["allow"]
    assert (await client.get("/webhooks/supabase")).status_code == 404
