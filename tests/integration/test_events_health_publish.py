"""A worker end to end: camera events in; health to Postgres, camera.health, transitions,
dead letters and the camera views out (real broker, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
SEED_KEYS = {"frames_processed", "errors_count", "avg_latency_ms", "circuit_breaker_state"}


@pytest.fixture
def worker_env(kafka_bootstrap: str, postgres_dsn: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_APP_ID": f"camguard-publish-{uuid.uuid4().hex[:8]}",
        "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "1",
        "CAMGUARD_PG_DSN": postgres_dsn,
        "CAMGUARD_BREAKER_JITTER_RATIO": "0",
    }
    env.pop("CAMGUARD_SUPABASE_URL", None)
    asyncio.run(prepare_topics(env["CAMGUARD_BROKER"], env["CAMGUARD_APP_ID"]))
    argv = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(port)]
    argv += ["--data-dir", str(tmp_path / "data"), "-l", "info"]
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "proc": proc, "log": log}
    finally:
        proc.terminate()
        proc.wait(60)


async def prepare_topics(broker: str, app_id: str) -> None:
    settings = Settings(broker=broker, app_id=app_id)
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)


async def until(check: Callable[[], Awaitable[Any]], worker: dict[str, Any]) -> Any:
    """:func:`eventually` ``check`` while the worker still runs (120 s)."""

    async def probe() -> Any:
        assert worker["proc"].poll() is None, worker["log"].read_text()[-3000:]
        return await check() or None

    return await eventually(probe, 120, "the health rows", interval=0.3)


def event(camera_id: str, kind: str, **kw: Any) -> bytes:
    record = {
        "event_id": str(uuid.uuid4()),
        "camera_id": camera_id,
        "org_id": None,
        "occurred_at": int(time.time() * 1000),
        "kind": kind,
        "latency_ms": 12.0,
        "attributes": {},
        **kw,
    }
    return AvroCodec().encode("CameraEvent", record)


async def read_topic(bootstrap: str, topic: str, keys: set[bytes]) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        found: list[tuple[bytes, bytes]] = []
        batch = await consumer.getmany(timeout_ms=3000)
        while batch:
            for messages in batch.values():
                found += [(m.key, m.value) for m in messages if m.key in keys]
            batch = await consumer.getmany(timeout_ms=1000)
        return found
    finally:
        await consumer.stop()


async def test_health_lands_in_postgres_kafka_and_the_views(
    kafka_bootstrap: str, postgres_dsn: str, worker_env: dict[str, Any]
) -> None:
    prefix = f"pub-{uuid.uuid4().hex[:6]}-"
    good, broken = f"{prefix}good", f"{prefix}broken"
    conn = await asyncpg.connect(postgres_dsn)
    try:  # the platform registers cameras; health only updates their rows
        await conn.execute("insert into cameras (id) values ($1), ($2)", good, broken)
    finally:
        await conn.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(4):
            await producer.send("camera.events", event(good, "FRAME_OK"), key=good.encode())
        for _ in range(5):
            await producer.send("camera.events", event(broken, "FRAME_ERROR"), key=broken.encode())
        bad = [
            (event(good, "FRAME_OK", latency_ms=-1.0), good),
            (event(good, "FRAME_OK"), broken),
            (b"not avro at all", good),
        ]
        for value, key in bad:
            await producer.send("camera.events", value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    async def rows() -> dict[str, Any] | None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            found = await conn.fetch("select * from cameras where id like $1", prefix + "%")
        finally:
            await conn.close()
        by_id = {r["id"]: r for r in found if json.loads(r["metadata"])}
        return by_id if len(by_id) == 2 else None

    found = await until(rows, worker_env)
    good_meta = json.loads(found[good]["metadata"])
    broken_meta = json.loads(found[broken]["metadata"])
    assert set(good_meta) >= SEED_KEYS
    assert (good_meta["frames_processed"], good_meta["circuit_breaker_state"]) == (4, "closed")
    assert (broken_meta["errors_count"], broken_meta["circuit_breaker_state"]) == (5, "open")
    assert found[good]["online"] is True
    assert found[broken]["online"] is True, "frames that fail still prove the camera is there"

    url = worker_env["url"]
    async with httpx.AsyncClient() as client:
        one = (await client.get(f"{url}/api/cameras/{broken}")).json()
        assert one["breaker"]["state"] == "OPEN"
        assert one["breaker"]["retry_at"] is not None
        assert (await client.get(f"{url}/api/cameras/{prefix}nobody")).status_code == 404
        listed = (await client.get(f"{url}/api/cameras")).json()
        assert {good, broken} <= {c["camera_id"] for c in listed["cameras"]}
        assert listed["partial"] is False
        breakers = (await client.get(f"{url}/api/breakers")).json()["breakers"]
        assert {b["camera_id"]: b["state"] for b in breakers}[broken] == "OPEN"

    codec = AvroCodec()
    keys = {good.encode(), broken.encode()}
    health = [codec.decode_as("CameraHealth", v) for _, v in await read_topic(
        kafka_bootstrap, "camera.health", keys)]  # fmt: skip
    assert {h["camera_id"] for h in health} == {good, broken}
    moves = [codec.decode_as("BreakerTransition", v) for _, v in await read_topic(
        kafka_bootstrap, "camera.breaker.transitions", keys)]  # fmt: skip
    assert [(m["camera_id"], m["to_state"], m["reason"]) for m in moves] == [
        (broken, "OPEN", "failure_threshold")
    ]
    letters = [codec.decode_as("DeadLetter", v) for _, v in await read_topic(
        kafka_bootstrap, "camguard.deadletter", keys)]  # fmt: skip
    assert sorted(d["reason"] for d in letters) == ["key_mismatch", "negative_latency", "not_avro"]
    assert all(d["consumer"] == "agents.events" for d in letters)
