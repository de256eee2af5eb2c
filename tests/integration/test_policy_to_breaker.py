"""Policy to breaker: a webhook resilience change moves one camera's breaker on a running worker.

One real ``camguard worker`` process (agents/worker.py, as the product runs it) on the real
broker, with the breaker's failure threshold at 5 from its settings. Two cameras A and B of one
organisation:

1. a signed Supabase webhook inserts a camera-level ``resilience`` row for A with
   ``failure_threshold: 2``; ``GET /policies`` shows 2 for A and still 5 for B;
2. FRAME_ERROR events, one at a time (each one seen in ``GET /api/breakers`` before the next):
   A is still CLOSED after 1 failure and OPEN after the 2nd; B is CLOSED after 4 and OPEN
   after the 5th;
3. ``camera.breaker.transitions`` holds exactly one CLOSED->OPEN per camera, with
   ``consecutive_failures`` 2 for A and 5 for B.

No restart in between: the change reaches the events agent through the worker's policies.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.app import EVENTS, TRANSITIONS
from streams.codec import AvroCodec
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.worker_process import Worker, start_at_end, worker_env
from tests.support.policy import signed_headers, supabase_row, webhook_body
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CODEC = AvroCodec()
SECRET = b"policy-to-breaker-secret"
START_WITHIN_S = 180.0
STEP_WITHIN_S = 60.0


def camera_event(camera_id: str, org_id: str, kind: str) -> bytes:
    record = {
        "event_id": str(uuid.uuid4()),
        "camera_id": camera_id,
        "org_id": org_id,
        "occurred_at": int(time.time() * 1000),
        "kind": kind,
        "latency_ms": 8.0,
        "error": "decode failed" if kind == "FRAME_ERROR" else None,
        "attributes": {},
    }
    return CODEC.encode("CameraEvent", record)


async def breakers(client: httpx.AsyncClient, worker: Worker) -> dict[str, dict[str, Any]]:
    """Every breaker the worker holds, by camera id ({} while it does not answer)."""
    try:
        answer = await client.get(f"{worker.url}/api/breakers", params={"scope": "local"})
    except httpx.TransportError:
        return {}
    if answer.status_code != 200:
        return {}
    return {b["camera_id"]: b for b in answer.json()["breakers"]}


async def resilience(
    client: httpx.AsyncClient, worker: Worker, org_id: str, camera_id: str
) -> dict[str, Any]:
    answer = await client.get(
        f"{worker.url}/policies", params={"org_id": org_id, "camera_id": camera_id}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["policies"]["resilience"])


async def transitions(bootstrap: str, keys: set[bytes]) -> dict[str, list[dict[str, Any]]]:
    """The BreakerTransition records of ``keys`` on the topic, per camera, in order."""
    consumer = AIOKafkaConsumer(
        TRANSITIONS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        found: dict[str, list[dict[str, Any]]] = {}
        batch = await consumer.getmany(timeout_ms=3000)
        while batch:
            for records in batch.values():
                for record in records:
                    if record.key in keys and record.value is not None:
                        move = CODEC.decode_as("BreakerTransition", record.value)
                        found.setdefault(move["camera_id"], []).append(move)
            batch = await consumer.getmany(timeout_ms=1000)
        return found
    finally:
        await consumer.stop()


async def test_a_webhook_lowers_one_cameras_failure_threshold_live(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    org, cam_a, cam_b = str(uuid.uuid4()), f"cam-p2b-a-{run}", f"cam-p2b-b-{run}"
    env = worker_env(
        kafka_bootstrap,
        app_id=f"policy-breaker-{run}",
        webhook_secret=SECRET.decode(),
        store="memory://",
        breaker_failure_threshold="5",
    )
    settings = Settings(broker=f"kafka://{kafka_bootstrap}", app_id=f"policy-breaker-{run}")
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)
    await start_at_end(kafka_bootstrap, f"policy-breaker-{run}", ["camera.frames"])
    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def alive() -> bool | None:
                assert worker.proc.poll() is None, worker.tail()
                try:
                    ready = await client.get(f"{worker.url}/readyz")
                except httpx.TransportError:
                    return None
                return True if ready.status_code == 200 else None

            await eventually(alive, START_WITHIN_S, "the worker to be ready")

            # 1. a camera-level resilience row for A, as Supabase's webhook sends it
            row = supabase_row(
                org_id=org,
                camera_id=cam_a,
                policy_type="resilience",
                config={"failure_threshold": 2},
                version=1,
            )
            body = webhook_body("INSERT", row)
            answer = await client.post(
                f"{worker.url}/webhooks/supabase",
                content=body,
                headers=signed_headers(SECRET, body),
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "applied"
            assert (await resilience(client, worker, org, cam_a))["failure_threshold"] == 2
            assert (await resilience(client, worker, org, cam_b))["failure_threshold"] == 5

            # 2. failures one at a time; each seen on the breaker before the next is sent
            async def fail(camera_id: str, count: int) -> dict[str, Any]:
                await producer.send_and_wait(
                    EVENTS, camera_event(camera_id, org, "FRAME_ERROR"), key=camera_id.encode()
                )

                async def counted() -> dict[str, Any] | None:
                    assert worker.proc.poll() is None, worker.tail()
                    found = (await breakers(client, worker)).get(camera_id)
                    return found if found is not None and found["failures"] >= count else None

                seen = await eventually(counted, STEP_WITHIN_S, f"failure {count} of {camera_id}")
                assert seen["failures"] == count, seen
                return seen

            states_a = [(await fail(cam_a, n))["state"] for n in (1, 2)]
            states_b = [(await fail(cam_b, n))["state"] for n in (1, 2, 3, 4, 5)]
            assert states_a == ["CLOSED", "OPEN"], worker.tail()
            assert states_b == ["CLOSED", "CLOSED", "CLOSED", "CLOSED", "OPEN"], worker.tail()

            # 3. one trip each, at the count each camera's policy says
            keys = {cam_a.encode(), cam_b.encode()}

            async def both_published() -> dict[str, list[dict[str, Any]]] | None:
                found = await transitions(kafka_bootstrap, keys)
                return found if len(found) == 2 else None

            moves = await eventually(both_published, STEP_WITHIN_S, "both transitions", 0.5)
            summary = {
                camera: [
                    (m["from_state"], m["to_state"], m["reason"], m["consecutive_failures"])
                    for m in found
                ]
                for camera, found in moves.items()
            }
            assert summary == {
                cam_a: [("CLOSED", "OPEN", "failure_threshold", 2)],
                cam_b: [("CLOSED", "OPEN", "failure_threshold", 5)],
            }
            # the first open period is about the recovery timeout (60 s, +-10 % jitter)
            for found in moves.values():
                assert 54_000 <= found[0]["retry_after_ms"] <= 66_000, found
    finally:
        await producer.stop()
        worker.stop()
