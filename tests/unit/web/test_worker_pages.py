"""The worker's pages served by its Faust web server (no broker): methods, routing, contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from agents.worker import build_worker
from streams.contract.endpoints import endpoints
from streams.devstack import free_port
from streams.settings import Settings


@pytest.fixture
async def worker() -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    cg = build_worker(Settings(web_port=port, webhook_secret="secret"))
    await cg.app.web.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await cg.app.web.stop()


async def test_undeclared_methods_get_405_with_allow(worker: httpx.AsyncClient) -> None:
    undeclared = (("DELETE", "/healthz"), ("PUT", "/policies"), ("GET", "/webhooks/supabase"))
    for method, path in undeclared:
        answer = await worker.request(method, path)
        assert answer.status_code == 405, (method, path)
        declared = {e.method for e in endpoints("worker") if e.path == path}
        assert declared <= set(answer.headers["allow"].split(","))


async def test_the_gateway_page_is_not_the_worker_s(worker: httpx.AsyncClient) -> None:
    assert (await worker.get("/queue/stats")).status_code == 404
    document = (await worker.get("/openapi.json")).json()
    assert "/queue/stats" not in document["paths"]


async def test_an_unroutable_camera_is_503_with_retry_after_not_500(
    worker: httpx.AsyncClient,
) -> None:
    # Regression: before the producer runs, Faust's table_route raised NotReady (a 500).
    answer = await worker.get("/api/cameras/cam-1")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]
