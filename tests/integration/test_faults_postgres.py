"""PostgreSQL taken away while a worker publishes camera health (a real cluster of its own).

Events flow the whole time. While PostgreSQL is down the worker keeps folding events (its
camera views keep counting: the health publisher does not stall the events path) and stays
up; once PostgreSQL is back, each camera's row gets the worker's latest snapshot, which
counts every event produced, including those folded during the outage (at least once: a
rebalance may fold some twice, and the row must then say so too).

The outage lasts ``CAMGUARD_FAULT_PG_DOWN_S`` seconds: 60 in ``make test`` (CI time), 300 —
the 5 minutes of the issue — with ``make faults``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from streams.app import EVENTS
from streams.devstack import LocalPostgres, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.faults import camera_event, camera_ids
from tests.integration.worker_process import Worker, local_cameras, worker_env
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

DOWN_S = float(os.environ.get("CAMGUARD_FAULT_PG_DOWN_S", "60"))


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    # not under pytest's tmp_path: PostgreSQL runs as 'postgres' when we are root, and must
    # reach its folder (pytest's are private to us)
    run_dir = Path(tempfile.mkdtemp(prefix="camguard-fault-pg-"))
    os.chmod(run_dir, 0o755)
    cluster = LocalPostgres(port=free_port(), run_dir=run_dir / "pg")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


async def rows(dsn: str, cameras: list[str]) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        found = await conn.fetch("select id, metadata from cameras where id = any($1)", cameras)
    finally:
        await conn.close()
    return {r["id"]: json.loads(r["metadata"] or "{}") for r in found}


async def test_postgres_down_does_not_stall_health_and_the_latest_snapshot_lands_after(
    kafka_bootstrap: str, own_postgres: LocalPostgres, tmp_path: Path
) -> None:
    cameras = camera_ids("pg", 3)
    app_id = f"fault-pg-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        kafka_bootstrap,
        app_id=app_id,
        pg_dsn=own_postgres.dsn,
        health_publish_interval_s="1",
        breaker_jitter_ratio="0",
    )
    env.pop("CAMGUARD_SUPABASE_URL", None)
    settings = Settings(broker=f"kafka://{kafka_bootstrap}", app_id=app_id)
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)
    conn = await asyncpg.connect(own_postgres.dsn)
    try:  # the platform registers cameras; health only updates their rows
        await conn.executemany("insert into cameras (id) values ($1)", [(c,) for c in cameras])
    finally:
        await conn.close()

    produced: Counter[str] = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    stop_sending = asyncio.Event()

    async def keep_sending() -> None:
        while not stop_sending.is_set():
            for camera in cameras:
                await producer.send(EVENTS, camera_event(camera), key=camera.encode())
                produced[camera] += 1
            await producer.flush()
            await asyncio.sleep(0.2)

    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    sender = asyncio.create_task(keep_sending())
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def counted() -> dict[str, int]:
                assert worker.proc.poll() is None, worker.tail()
                found = await local_cameras(client, worker, "fault-pg-")
                return {k: v["events"] for k, v in found.items() if k in cameras}

            async def published() -> bool | None:
                assert worker.proc.poll() is None, worker.tail()
                found = await rows(own_postgres.dsn, cameras)
                return True if all(found.get(c) for c in cameras) else None

            await eventually(published, 180, "health in PostgreSQL before the outage")
            own_postgres.stop()
            down_at = time.monotonic()
            before = await counted()
            await asyncio.sleep(DOWN_S - (time.monotonic() - down_at))
            during = await counted()
            assert worker.proc.poll() is None, worker.tail()
            assert all(during.get(c, 0) > before.get(c, 0) for c in cameras), (
                f"events kept being folded while PostgreSQL was down: {before} -> {during}"
            )
            own_postgres.start()
            stop_sending.set()
            await sender
            final = dict(produced)

            async def caught_up() -> dict[str, int] | None:
                views = await counted()  # at least once: a rebalance may fold some twice
                return views if all(views.get(c, 0) >= final[c] for c in cameras) else None

            try:
                await eventually(caught_up, 180, "the worker to fold every event")
            except AssertionError:
                print("views", await counted(), "produced", final, worker.tail(), sep="\n")
                raise

            async def latest_landed() -> dict[str, dict[str, Any]] | None:
                views = await counted()  # the worker's latest snapshot, events stopped
                found = await rows(own_postgres.dsn, cameras)
                done = all(found.get(c, {}).get("frames_processed") == views[c] for c in cameras)
                return found if done else None

            try:
                landed = await eventually(latest_landed, 120, "the latest snapshot in PostgreSQL")
            except AssertionError:
                print(await rows(own_postgres.dsn, cameras), final, worker.tail(), sep="\n")
                raise
    finally:
        stop_sending.set()
        await asyncio.gather(sender, return_exceptions=True)
        await producer.stop()
        worker.stop()
    assert all(landed[c]["frames_processed"] >= final[c] for c in cameras), (landed, final)
