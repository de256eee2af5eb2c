"""Two workers share the cameras; any of them answers for every camera (real broker).

``/api/cameras/{camera_id}`` is routed by Faust's table_route to the worker owning the camera's
partition; ``/api/cameras`` and ``/api/breakers`` gather both workers' cameras.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]
CAMERAS = 20


@pytest.fixture
def two_workers(kafka_bootstrap: str, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    app_id = f"camguard-routing-{uuid.uuid4().hex[:8]}"
    asyncio.run(prepare_topics(f"kafka://{kafka_bootstrap}", app_id))
    workers = []
    for name in ("a", "b"):
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
            "CAMGUARD_APP_ID": app_id,
        }
        for var in ("CAMGUARD_PG_DSN", "CAMGUARD_SUPABASE_URL"):
            env.pop(var, None)
        argv = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(port)]
        argv += ["--data-dir", str(tmp_path / name), "-l", "info"]
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
        workers.append({"url": f"http://127.0.0.1:{port}", "proc": proc, "log": log})
    try:
        yield workers
    finally:
        for worker in workers:
            worker["proc"].terminate()
        for worker in workers:
            worker["proc"].wait(60)


async def prepare_topics(broker: str, app_id: str) -> None:
    settings = Settings(broker=broker, app_id=app_id)
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)


async def until(check: Callable[[], Awaitable[Any]], workers: list[dict[str, Any]]) -> Any:
    """:func:`eventually` ``check`` while every worker still runs (240 s)."""

    async def probe() -> Any:
        for worker in workers:
            assert worker["proc"].poll() is None, worker["log"].read_text()[-3000:]
        return await check() or None

    ignore = (httpx.TransportError, KeyError, ValueError)
    return await eventually(probe, 240, "both workers", interval=0.5, ignore=ignore)


async def local_ids(
    client: httpx.AsyncClient, worker: dict[str, Any], wanted: set[str]
) -> set[str]:
    answer = await client.get(f"{worker['url']}/api/cameras", params={"scope": "local"})
    return {c["camera_id"] for c in answer.json()["cameras"]} & wanted


async def test_every_worker_answers_for_every_camera(
    kafka_bootstrap: str, two_workers: list[dict[str, Any]]
) -> None:
    prefix = f"route-{uuid.uuid4().hex[:6]}-"
    cameras = [f"{prefix}{i}" for i in range(CAMERAS)]
    codec = AvroCodec()
    async with httpx.AsyncClient(timeout=10) as client:

        async def both_ready() -> bool:
            for worker in two_workers:
                ready = await client.get(f"{worker['url']}/readyz")
                if ready.status_code != 200:
                    return False
            return True

        await until(both_ready, two_workers)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for i, camera_id in enumerate(cameras):
                for _ in range(i % 3 + 1):
                    record = {
                        "event_id": str(uuid.uuid4()),
                        "camera_id": camera_id,
                        "occurred_at": int(time.time() * 1000),
                        "kind": "FRAME_OK",
                        "attributes": {},
                    }
                    value = codec.encode("CameraEvent", record)
                    await producer.send("camera.events", value, key=camera_id.encode())
            await producer.flush()
        finally:
            await producer.stop()

        async def listed_by(worker: dict[str, Any]) -> dict[str, Any] | None:
            body = (await client.get(f"{worker['url']}/api/cameras")).json()
            mine = {c["camera_id"]: c for c in body["cameras"] if c["camera_id"] in cameras}
            complete = len(mine) == CAMERAS and not body["partial"]
            return mine if complete and all(c["events"] for c in mine.values()) else None

        for worker in two_workers:
            listed = await until(lambda w=worker: listed_by(w), two_workers)
            assert {c: v["events"] for c, v in listed.items()} == {
                camera_id: i % 3 + 1 for i, camera_id in enumerate(cameras)
            }
        local = [await local_ids(client, w, set(cameras)) for w in two_workers]
        assert local[0], "both workers own some of the cameras"
        assert local[1], "both workers own some of the cameras"
        assert local[0] | local[1] == set(cameras)
        for worker in two_workers:
            for i, camera_id in enumerate(cameras):
                one = await client.get(f"{worker['url']}/api/cameras/{camera_id}")
                assert one.status_code == 200, (worker["url"], camera_id, one.text)
                assert one.json()["events"] == i % 3 + 1
            breakers = (await client.get(f"{worker['url']}/api/breakers")).json()
            assert {b["camera_id"] for b in breakers["breakers"]} >= set(cameras)
