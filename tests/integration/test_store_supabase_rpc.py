"""The Supabase health store through supabase-py's ``rpc``, run for real on PostgreSQL.

A PostgREST stand-in (tests/integration/postgrest_rpc.py) executes
``public.camguard_publish_health`` under the role of the key, in a database shaped like a
Supabase project (the platform's ``orgs`` and ``cameras``, its API roles and default grants)
with camguard's migrations applied on top.
"""

from __future__ import annotations

import logging
import random
import uuid

import asyncpg
import pytest

from streams.store.exceptions import StoreRejectedError
from streams.store.publisher import HealthPublisher, PublisherConfig
from streams.store.supabase import SupabaseHealthStore
from tests.integration.camera_writes import (
    T0,
    camera_rows,
    check_camera_writes,
    register_cameras,
    snap,
)
from tests.integration.pg_shapes import apply_migrations, migrated_database, scratch_database
from tests.integration.postgrest_rpc import postgrest_rpc

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SERVICE_KEY = "service-role-key"
ANON_KEY = "anon-key"
ROLES = {SERVICE_KEY: "service_role", ANON_KEY: "anon"}


@pytest.mark.parametrize("shape", ["supabase", "supabase_policies"])
async def test_rpc_updates_registered_cameras_merged_and_never_overwritten_by_older_health(
    shape: str, postgres_dsn: str
) -> None:
    async with (
        migrated_database(postgres_dsn, shape) as dsn,
        postgrest_rpc(dsn, ROLES) as (url, server),
    ):
        await check_camera_writes(SupabaseHealthStore(url, SERVICE_KEY), dsn)
    assert set(server.calls) == {("camguard_publish_health", "service_role")}


async def test_the_publisher_counts_and_logs_unknown_cameras_over_rpc(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"rpcpub-{uuid.uuid4().hex[:6]}-"
    async with (
        migrated_database(postgres_dsn, "supabase") as dsn,
        postgrest_rpc(dsn, ROLES) as (url, _),
    ):
        await register_cameras(dsn, prefix, {"known": {"zone": "north"}})
        publisher = HealthPublisher(
            SupabaseHealthStore(url, SERVICE_KEY), PublisherConfig(), rng=random.Random(2)
        )
        with caplog.at_level(logging.WARNING, logger="streams.store.publisher"):
            for tick in range(3):
                publisher.offer([snap(prefix + "known", T0 + tick, tick),
                                 snap(prefix + "unregistered", T0 + tick, tick)])  # fmt: skip
                assert await publisher.publish_once() is None
        await publisher.stop()
        rows = await camera_rows(dsn, prefix)
    assert set(rows) == {prefix + "known"}
    assert rows[prefix + "known"]["metadata"]["frames_processed"] == 2
    assert rows[prefix + "known"]["metadata"]["zone"] == "north"
    stats = publisher.stats
    assert (stats.published, stats.unknown, stats.unknown_cameras) == (3, 3, 1)
    assert publisher.unknown_cameras == {prefix + "unregistered"}
    assert [prefix + "unregistered" in r.getMessage() for r in caplog.records] == [True]


async def test_the_public_api_roles_cannot_write_health(postgres_dsn: str) -> None:
    prefix = f"rpcanon-{uuid.uuid4().hex[:6]}-"
    async with (
        migrated_database(postgres_dsn, "supabase") as dsn,
        postgrest_rpc(dsn, ROLES) as (url, _),
    ):
        await register_cameras(dsn, prefix, {"a": {}})
        store = SupabaseHealthStore(url, ANON_KEY)
        with pytest.raises(StoreRejectedError, match="42501"):
            await store.update_cameras([snap(prefix + "a", T0, 5)])
        await store.close()
        conn = await asyncpg.connect(dsn)
        try:
            may = await conn.fetch(
                "select r, has_function_privilege(r, 'public.camguard_publish_health(jsonb)', "
                "'execute') as may from unnest(array['anon', 'authenticated', 'service_role']) r"
            )
        finally:
            await conn.close()
        rows = await camera_rows(dsn, prefix)
    assert {r["r"]: r["may"] for r in may} == {
        "anon": False,
        "authenticated": False,
        "service_role": True,
    }
    assert rows[prefix + "a"]["metadata"] == {}


async def test_without_migration_0003_the_rpc_is_refused_with_what_to_do(
    postgres_dsn: str,
) -> None:
    async with scratch_database(postgres_dsn, "supabase") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn, upto="0002_policy_webhook.sql")
        finally:
            await conn.close()
        async with postgrest_rpc(dsn, ROLES) as (url, _):
            store = SupabaseHealthStore(url, SERVICE_KEY)
            with pytest.raises(StoreRejectedError, match=r"0003_supabase_exact\.sql"):
                await store.update_cameras([snap("cam-1", T0, 1)])
            await store.close()
