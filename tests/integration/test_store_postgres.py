"""The Postgres health store against a real PostgreSQL with the Supabase migrations applied."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from streams.devstack import LocalPostgres
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError
from streams.store.postgres import PostgresHealthStore
from streams.store.publisher import HealthPublisher, PublisherConfig
from tests.integration.camera_writes import (
    T0,
    camera_rows,
    check_camera_writes,
    register_cameras,
    snap,
)
from tests.integration.pg_shapes import apply_migrations, migrated_database, scratch_database
from tests.support.waiting import eventually

IGNORED = (OSError, asyncpg.PostgresError)
"""A database going away or coming back mid-probe: no answer yet."""

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("shape", ["empty", "supabase", "legacy"])
async def test_registered_cameras_are_updated_merged_and_never_overwritten_by_older_health(
    shape: str, postgres_dsn: str
) -> None:
    async with migrated_database(postgres_dsn, shape) as dsn:
        await check_camera_writes(PostgresHealthStore(dsn), dsn)


async def test_without_migration_0003_the_rows_are_refused_with_what_to_do(
    postgres_dsn: str,
) -> None:
    async with scratch_database(postgres_dsn) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn, upto="0002_policy_webhook.sql")
        finally:
            await conn.close()
        store = PostgresHealthStore(dsn)
        with pytest.raises(StoreRejectedError, match=r"0003_supabase_exact\.sql"):
            await store.update_cameras([snap("cam-1", T0, 1)])
        await store.close()


class TcpGate:
    """A TCP forwarder to Postgres that can be shut (connections cut, new ones refused)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@contextlib.asynccontextmanager
async def outage(
    mode: str, postgres_dsn: str, local_postgres: LocalPostgres | None
) -> AsyncIterator[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    """(dsn for the store, stop(), start()) for a real restart or a cut connection."""
    if mode == "restart":
        if local_postgres is None:
            pytest.skip("Postgres is not run by the local script here; the gate mode covers it")
        yield (
            postgres_dsn,
            lambda: asyncio.to_thread(local_postgres.stop),
            lambda: asyncio.to_thread(local_postgres.start),
        )
        return
    port = int(postgres_dsn.rsplit(":", 1)[1].split("/")[0])
    gate = TcpGate(port)
    await gate.open()
    try:
        yield postgres_dsn.replace(f":{port}/", f":{gate.port}/"), gate.shut, gate.open
    finally:
        await gate.shut()


@pytest.mark.parametrize("mode", ["restart", "gate"])
async def test_an_outage_is_survived_without_blocking_and_the_latest_snapshot_lands(
    mode: str, postgres_dsn: str, local_postgres: LocalPostgres | None
) -> None:
    prefix = f"pgout-{mode}-{uuid.uuid4().hex[:6]}-"
    cameras = [f"{prefix}{i}" for i in range(20)]
    async with outage(mode, postgres_dsn, local_postgres) as (dsn, stop, start):
        store = PostgresHealthStore(dsn, timeout_s=2)
        publisher = HealthPublisher(
            store, PublisherConfig(backoff_initial_s=0.2, backoff_max_s=1), rng=random.Random(5)
        )
        publisher.start()
        await register_cameras(postgres_dsn, prefix, {str(i): {} for i in range(20)})
        publisher.offer([snap(c, T0, 0) for c in cameras])
        await eventually(
            lambda: _count(postgres_dsn, prefix, 0, len(cameras)), 60, "the rows", 0.1, IGNORED
        )
        await stop()
        for tick in range(1, 31):
            started = time.monotonic()
            taken = publisher.offer([snap(c, T0 + tick, tick) for c in cameras])
            assert len(taken) == len(cameras)
            assert time.monotonic() - started < 1.0, "offer never waits for the store"
            await asyncio.sleep(0.05)
        with pytest.raises(StoreUnavailableError):
            await PostgresHealthStore(dsn, timeout_s=2).update_cameras([snap("x", T0, 0)])
        assert publisher.pending == len(cameras)
        assert publisher.stats.failed_attempts >= 1
        await start()
        await eventually(
            lambda: _count(postgres_dsn, prefix, 30, len(cameras)), 60, "the rows", 0.1, IGNORED
        )
        await publisher.stop()
    assert publisher.stats.consecutive_failures == 0
    assert (publisher.stats.rejected, publisher.stats.unknown) == (0, 0)


async def _count(dsn: str, prefix: str, frames: int, expected: int) -> bool:
    found = await camera_rows(dsn, prefix)
    done = [r for r in found.values() if r["metadata"].get("frames_processed") == frames]
    return len(done) == expected
