"""The Supabase adapter against a local HTTP server that checks the PostgREST RPC requests.

The SQL behind the RPC runs for real in tests/integration/test_store_supabase_rpc.py.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from supabase import acreate_client

from streams.resilience.breaker import State
from streams.store.base import PUBLISH_FUNCTION
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError
from streams.store.publisher import HealthPublisher, PublisherConfig
from streams.store.supabase import SupabaseHealthStore, is_retriable_code
from tests.support.waiting import eventually
from tests.unit.store.snapshots import T0, snap

KEY = "test-service-role-key"
SEED_KEYS = {"frames_processed", "errors_count", "avg_latency_ms", "circuit_breaker_state"}


@dataclass
class FakePostgrest:
    """Answers ``answers`` in order, then calls every camera updated, and keeps the snapshots."""

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
        if set(body) != {"snapshots"}:
            self.problems.append(f"body keys: {sorted(body)}")
        for row in body["snapshots"]:
            self.rows[row["id"]] = row
        answer = {"updated": sorted(self.rows), "stale": [], "unknown": []}
        return web.json_response(answer)

    def check(self, request: web.Request) -> None:
        expected = {
            "path": (request.path, f"/rest/v1/rpc/{PUBLISH_FUNCTION}"),
            "apikey": (request.headers.get("apikey"), KEY),
            "authorization": (request.headers.get("Authorization"), f"Bearer {KEY}"),
            "method": (request.method, "POST"),
        }
        self.problems += [f"{k}: {got!r}" for k, (got, want) in expected.items() if got != want]


@pytest.fixture
async def postgrest() -> AsyncIterator[tuple[FakePostgrest, str]]:
    fake = FakePostgrest()
    app = web.Application()
    app.router.add_post(f"/rest/v1/rpc/{PUBLISH_FUNCTION}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_rows_land_after_503s_with_the_spec_metadata(
    postgrest: tuple[FakePostgrest, str],
) -> None:
    fake, url = postgrest
    fake.answers = [(503, "upstream busy"), (503, json.dumps({"code": "PGRST001"}))]
    store = SupabaseHealthStore(url, KEY)
    publisher = HealthPublisher(
        store, PublisherConfig(backoff_initial_s=0.01, backoff_max_s=0.05), rng=random.Random(1)
    )
    publisher.start()
    publisher.offer(
        [
            snap("cam-1", T0, frames=7, org_id="org-1"),
            snap("cam-2", T0, circuit_breaker_state=State.HALF_OPEN),
        ]
    )
    await eventually(lambda: publisher.stats.published == 2)
    await publisher.stop()
    assert fake.problems == []
    assert fake.requests == 3
    assert publisher.stats.failed_attempts == 2
    row = fake.rows["cam-1"]
    assert set(row["metadata"]) >= SEED_KEYS
    assert row["metadata"]["frames_processed"] == 7
    assert row["metadata"]["circuit_breaker_state"] == "closed"
    assert fake.rows["cam-2"]["metadata"]["circuit_breaker_state"] == "half_open"
    assert row["online"] is True
    assert row["last_seen"].startswith("2023-11-14T22:13:19")
    assert row["observed_at"].startswith("2023-11-14T22:13:20")
    assert "org_id" not in row


async def test_a_missing_function_says_which_migration(
    postgrest: tuple[FakePostgrest, str],
) -> None:
    fake, url = postgrest
    missing = {"code": "PGRST202", "message": "Could not find the function"}
    fake.answers = [(404, json.dumps(missing))]
    store = SupabaseHealthStore(url, KEY)
    with pytest.raises(StoreRejectedError, match=r"0003_supabase_exact\.sql"):
        await store.update_cameras([snap("cam-1")])
    await store.close()


async def test_a_client_given_by_the_caller_is_used_and_left_open(
    postgrest: tuple[FakePostgrest, str],
) -> None:
    fake, url = postgrest
    client = await acreate_client(url, KEY)
    store = SupabaseHealthStore.from_client(client)
    outcome = await store.update_cameras([snap("cam-9")])
    await store.close()
    assert outcome.updated == ("cam-9",)
    assert fake.problems == []
    await client.postgrest.aclose()


async def test_a_refusal_is_not_retried(postgrest: tuple[FakePostgrest, str]) -> None:
    fake, url = postgrest
    fake.answers = [(400, json.dumps({"code": "42703", "message": "column x does not exist"}))]
    store = SupabaseHealthStore(url, KEY)
    with pytest.raises(StoreRejectedError, match="42703"):
        await store.update_cameras([snap("cam-1")])
    await store.close()


async def test_no_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = SupabaseHealthStore(f"http://127.0.0.1:{port}", KEY, timeout_s=2)
    with pytest.raises(StoreUnavailableError):
        await store.update_cameras([snap("cam-1")])
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
