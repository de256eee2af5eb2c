"""The Supabase adapter against a local HTTP server that checks the PostgREST requests."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from streams.store.exceptions import StoreRejectedError, StoreUnavailableError
from streams.store.publisher import HealthPublisher, PublisherConfig
from streams.store.supabase import SupabaseHealthStore, is_retriable_code
from tests.unit.store.snapshots import T0, eventually, snap

KEY = "test-service-role-key"
SEED_KEYS = {"frames_processed", "errors_count", "avg_latency_ms", "circuit_breaker_state"}


@dataclass
class FakePostgrest:
    """Answers ``answers`` in order (then 201) and keeps the rows of accepted requests."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    requests: int = 0
    problems: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.check(request)
        body = await request.json()
        if self.answers:
            status, text = self.answers.pop(0)
            return web.Response(status=status, text=text, content_type="application/json")
        for row in body:
            self.rows[row["id"]] = row
        return web.Response(status=201)

    def check(self, request: web.Request) -> None:
        prefer = request.headers.get("Prefer", "")
        expected = {
            "path": (request.path, "/rest/v1/cameras"),
            "on_conflict": (request.query.get("on_conflict"), "id"),
            "apikey": (request.headers.get("apikey"), KEY),
            "authorization": (request.headers.get("Authorization"), f"Bearer {KEY}"),
            "merge": ("resolution=merge-duplicates" in prefer, True),
            "method": (request.method, "POST"),
        }
        self.problems += [f"{k}: {got!r}" for k, (got, want) in expected.items() if got != want]


@pytest.fixture
async def postgrest() -> AsyncIterator[tuple[FakePostgrest, str]]:
    fake = FakePostgrest()
    app = web.Application()
    app.router.add_post("/rest/v1/cameras", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_rows_land_after_503s_with_the_seed_metadata(
    postgrest: tuple[FakePostgrest, str],
) -> None:
    fake, url = postgrest
    fake.answers = [(503, "upstream busy"), (503, json.dumps({"code": "PGRST001"}))]
    store = SupabaseHealthStore(url, KEY)
    publisher = HealthPublisher(
        store, PublisherConfig(backoff_initial_s=0.01, backoff_max_s=0.05), rng=random.Random(1)
    )
    publisher.start()
    publisher.offer([snap("cam-1", T0, frames=7, org_id="org-1"), snap("cam-2", T0)])
    await eventually(lambda: len(fake.rows) == 2)
    await publisher.stop()
    assert fake.problems == []
    assert fake.requests == 3
    assert publisher.stats.failed_attempts == 2
    row = fake.rows["cam-1"]
    assert set(row["metadata"]) >= SEED_KEYS
    assert row["metadata"]["frames_processed"] == 7
    assert row["online"] is True
    assert row["last_seen"].startswith("2023-11-14T22:13:19")
    assert "org_id" not in row


async def test_a_refusal_is_not_retried(postgrest: tuple[FakePostgrest, str]) -> None:
    fake, url = postgrest
    fake.answers = [(400, json.dumps({"code": "42703", "message": "column x does not exist"}))]
    store = SupabaseHealthStore(url, KEY)
    with pytest.raises(StoreRejectedError, match="42703"):
        await store.upsert_cameras([snap("cam-1")])
    await store.close()


async def test_no_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = SupabaseHealthStore(f"http://127.0.0.1:{port}", KEY, timeout_s=2)
    with pytest.raises(StoreUnavailableError):
        await store.upsert_cameras([snap("cam-1")])
    await store.close()


@pytest.mark.parametrize(
    ("code", "retriable"),
    [
        ("503", True),
        ("429", True),
        ("404", False),
        ("PGRST002", True),
        ("PGRST204", False),
        ("08006", True),
        ("57P01", True),
        ("40001", True),
        ("23505", False),
        (None, True),
    ],
)
def test_retriable_codes(code: str | None, retriable: bool) -> None:
    assert is_retriable_code(code) is retriable
