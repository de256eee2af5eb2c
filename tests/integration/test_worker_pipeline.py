"""The foundation end to end: Avro in on a real broker, a Faust agent, results out.

Events produced to ``camera.events`` are consumed by the worker's events agent; five failures
trip a camera's breaker, which comes out as a ``BreakerTransition`` on
``camera.breaker.transitions``. Garbage, a truncated body and an unknown fingerprint come out
on ``camguard.deadletter`` with their reasons and raw bytes, and the worker keeps consuming.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.app import DEADLETTER, EVENTS, TRANSITIONS
from streams.codec import AvroCodec
from tests.integration.worker_process import Worker, worker_env
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.faust_edge, pytest.mark.timeout(300)]

CODEC = AvroCodec()


def event(camera_id: str, kind: str, **extra: Any) -> bytes:
    return CODEC.encode(
        "CameraEvent",
        {
            "event_id": str(uuid.uuid4()),
            "camera_id": camera_id,
            "occurred_at": int(time.time() * 1000),
            "kind": kind,
            **extra,
        },
    )


@pytest.fixture
async def worker(kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Worker]:
    # A fresh consumer group that starts at the log end, so the test does not wait for the
    # worker to chew through what earlier tests left on the shared topics.
    env = worker_env(
        kafka_bootstrap,
        app_id=f"pipeline-{uuid.uuid4().hex[:8]}",
        consumer_auto_offset_reset="latest",
    )
    proc = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def ready() -> bool | None:
                try:
                    answer = await client.get(f"{proc.url}/readyz")
                except httpx.TransportError:
                    return None
                return True if answer.status_code == 200 else None

            await eventually(ready, 120, "the worker to be ready (partitions assigned)")
            # "latest" is resolved on the first fetch: heartbeats of a warm-up camera until the
            # worker shows it prove the agent consumes, so nothing the test sends is skipped.
            warmup = f"warmup-{uuid.uuid4().hex[:8]}"
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()

            async def consuming() -> bool | None:
                await producer.send_and_wait(
                    EVENTS, event(warmup, "HEARTBEAT"), key=warmup.encode()
                )
                answer = await client.get(f"{proc.url}/api/cameras/{warmup}")
                return True if answer.status_code == 200 else None

            try:
                await eventually(consuming, 120, "the events agent to consume", interval=0.5)
            finally:
                await producer.stop()
        yield proc
    finally:
        proc.stop()


async def _collect(bootstrap: str, topic: str, match: bytes, want: int, within: float) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + within
        while len(found) < want and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [m for m in messages if m.key == match]
    finally:
        await consumer.stop()
    return found


async def test_events_flow_through_the_agent_and_bad_bytes_are_dead_lettered(
    kafka_bootstrap: str, worker: Worker
) -> None:
    camera = f"found-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    key = camera.encode()
    truncated = event(camera, "FRAME_OK")[:-3]
    unknown = b"\xc3\x01" + b"\x11" * 8 + event(camera, "FRAME_OK")[10:]
    try:
        await producer.send_and_wait(EVENTS, b"definitely not avro", key=key)
        await producer.send_and_wait(EVENTS, truncated, key=key)
        await producer.send_and_wait(EVENTS, unknown, key=key)
        for _ in range(5):
            await producer.send_and_wait(
                EVENTS, event(camera, "FRAME_ERROR", error="timeout"), key=key
            )
    finally:
        await producer.stop()

    transitions = await _collect(kafka_bootstrap, TRANSITIONS, key, 1, within=120)
    assert transitions, worker.tail()
    record = CODEC.decode_as("BreakerTransition", transitions[0].value)
    assert (record["camera_id"], record["from_state"], record["to_state"]) == (
        camera,
        "CLOSED",
        "OPEN",
    )

    letters = await _collect(kafka_bootstrap, DEADLETTER, key, 3, within=60)
    decoded = [CODEC.decode_as("DeadLetter", m.value) for m in letters]
    assert sorted(d["reason"] for d in decoded) == ["not_avro", "truncated", "unknown_fingerprint"]
    assert {d["value"] for d in decoded} == {b"definitely not avro", truncated, unknown}
    assert all(d["topic"] == EVENTS and d["consumer"] for d in decoded)

    async with httpx.AsyncClient(timeout=5) as client:

        async def counters() -> dict[str, int] | None:
            body = (await client.get(f"{worker.url}/readyz")).json()
            counts: dict[str, int] = body["counters"]
            return counts if counts.get("deadletter.truncated", 0) >= 1 else None

        counts = await eventually(counters, 30, "dead-letter counters on /readyz")
        assert counts["deadletter.not_avro"] >= 1
        assert counts["deadletter.unknown_fingerprint"] >= 1
        stats = await client.get(f"{worker.url}/stats/")
        assert stats.status_code == 200
        assert "messages_received_total" in stats.text
        assert (await client.get(f"{worker.url}/healthz")).json()["status"] == "ok"
        metrics = (await client.get(f"{worker.url}/metrics")).text
        assert 'camguard_events_total{name="deadletter.not_avro"}' in metrics
