"""Health events are not held up behind a backlog of frames in the same worker.

One Faust consumer fetches ``camera.frames`` and ``camera.events`` together; frames are slow to
work on (detection, blur) and events fast. A burst of frames far larger than the worker
anonymizes in a moment is produced first, then events for ten cameras. Every event must be
counted while the frames are still being worked through: the events lane takes its records out
of each fetch before the frames are dispatched, and Faust stops fetching frames while the
frames agent's buffer is full, so a frames backlog never stands between events and the tables.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from streams.app import EVENTS, FRAMES
from streams.codec import AvroCodec
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.worker_process import Worker, counters, worker_env
from tests.models.scenes import astronaut_bgr
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faust_edge,
    pytest.mark.models,
    pytest.mark.timeout(420),
]

CODEC = AvroCodec()
FRAMES_BURST = 400
CAMERAS = 10
ROUNDS = 20


def event(camera_id: str, kind: str) -> bytes:
    record = {
        "event_id": str(uuid.uuid4()),
        "camera_id": camera_id,
        "occurred_at": int(time.time() * 1000),
        "kind": kind,
        "latency_ms": 4.0,
    }
    return CODEC.encode("CameraEvent", record)


def frame(camera_id: str, seq: int, jpeg: bytes) -> bytes:
    record = {
        "camera_id": camera_id,
        "org_id": None,
        "site_id": None,
        "captured_at": int(time.time() * 1000),
        "seq": seq,
        "encoding": "JPEG",
        "width": 512,
        "height": 512,
        "data": jpeg,
    }
    return CODEC.encode("Frame", record)


async def test_events_are_counted_while_a_frames_backlog_is_worked_through(
    kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    await ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}"))
    env = worker_env(
        kafka_bootstrap,
        app_id=f"beside-{uuid.uuid4().hex[:8]}",
        consumer_auto_offset_reset="latest",
        models_dir=str(models_dir),
        batch_max_frames="1",
    )
    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 << 20)
    await producer.start()
    run = uuid.uuid4().hex[:8]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            # "latest" is resolved on the first fetch: a warm-up camera's heartbeats until the
            # worker shows it, and models loaded, so the burst below is all ahead of it.
            warmup = f"beside-warm-{run}"

            async def consuming() -> bool | None:
                await producer.send_and_wait(
                    EVENTS, event(warmup, "HEARTBEAT"), key=warmup.encode()
                )
                try:
                    models = await client.get(f"{worker.url}/api/anonymizer")
                    shown = await client.get(f"{worker.url}/api/cameras/{warmup}")
                except httpx.TransportError:
                    return None
                loaded = models.status_code == 200 and bool(models.json().get("detector"))
                return True if loaded and shown.status_code == 200 else None

            try:
                await eventually(consuming, 180, "the worker to consume, models loaded", 0.5)
            except AssertionError:
                print(worker.tail())
                raise
            before = await counters(client, worker)

            jpeg = bytes(cv2.imencode(".jpg", astronaut_bgr())[1])
            burst_camera = f"beside-frames-{run}"
            for seq in range(FRAMES_BURST):
                await producer.send(
                    FRAMES, frame(burst_camera, seq, jpeg), key=burst_camera.encode()
                )
            await producer.flush()
            cameras = [f"beside-{run}-{i}" for i in range(CAMERAS)]
            for _ in range(ROUNDS):
                for camera in cameras:
                    await producer.send(EVENTS, event(camera, "FRAME_OK"), key=camera.encode())
            await producer.flush()

            seen: dict[str, Any] = {}

            async def events_counted() -> dict[str, Any] | None:
                seen.update(await counters(client, worker))
                done = seen.get("events.processed", 0) - before.get("events.processed", 0)
                return seen if done >= CAMERAS * ROUNDS else None

            try:
                now = await eventually(events_counted, 240, "the events behind the frames")
            except AssertionError:
                print(seen, worker.tail())
                raise
            frames_done = now.get("frames.anonymized", 0) - before.get("frames.anonymized", 0)
            print(f"frames anonymized when the events were all counted: {frames_done}")
            assert frames_done < FRAMES_BURST, "the events waited for the whole frames backlog"
            for camera in cameras:
                answer = await client.get(f"{worker.url}/api/cameras/{camera}")
                assert answer.status_code == 200
                assert answer.json()["events"] == ROUNDS

            async def frames_done_later() -> bool | None:
                found = await counters(client, worker)
                done = found.get("frames.anonymized", 0) - before.get("frames.anonymized", 0)
                return True if done >= FRAMES_BURST else None

            await eventually(frames_done_later, 300, "the frames backlog to be worked through")
    finally:
        await producer.stop()
        worker.stop()
