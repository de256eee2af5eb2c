"""Policy to pixels: a webhook policy change reaches the blurred frames of a running worker.

One real ``camguard worker`` process (agents/worker.py, as the product runs it) on the real
broker with the real detectors. Frames of the astronaut image flow for camera A and a control
camera B of the same organisation the whole time, paced by what comes out on
``camera.frames.anonymized``:

1. both cameras come out blurred, stamped with the policy version GET /policies reports;
2. a signed Supabase webhook inserts a camera-level privacy row (v1) for A with face blur off:
   every A frame produced after the webhook's answer (the worker applies the change before it
   answers) comes out with the face untouched and version 1; B stays blurred, unchanged version;
3. a second webhook (UPDATE, v2) turns face blur back on for A: A is blurred again, version 2.

Every output of A must also agree with the version stamped on it, whichever phase it fell in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.anonymize.blur import laplacian_variance
from streams.app import ANONYMIZED, FRAMES
from streams.codec import AvroCodec
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.worker_process import Worker, counters, worker_env
from tests.models.scenes import ASTRONAUT_FACE, astronaut_bgr
from tests.support.policy import signed_headers, supabase_row, webhook_body
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.timeout(420)]

CODEC = AvroCodec()
SECRET = b"policy-to-pixels-secret"
FACE = tuple(int(v) for v in ASTRONAUT_FACE)
MAX_AHEAD = 4
"""Frame rounds (one frame per camera) produced but not yet seen anonymized, at most."""
PACE_S = 0.2
WARMUP_EVERY_S = 2.0
"""Before the first output (worker joining, models loading) one round per this many seconds."""
START_WITHIN_S = 240.0
CHANGE_WITHIN_S = 90.0


def face_sharpness(jpeg: bytes) -> float:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    x1, y1, x2, y2 = FACE
    return laplacian_variance(np.asarray(image)[y1:y2, x1:x2])


@dataclass(frozen=True)
class Output:
    """What one AnonymizedFrame says and shows."""

    camera_id: str
    seq: int
    policy_version: int | None
    faces: int
    face_boxes: int
    fail_closed: bool
    sharpness: float


@dataclass
class Traffic:
    """Frames for ``cameras`` into camera.frames, AnonymizedFrames of them collected back.

    ``seq`` is one counter across cameras, so a seq taken at some moment splits every camera's
    frames into produced-before and produced-after.
    """

    bootstrap: str
    org_id: str
    cameras: tuple[str, ...]
    jpeg: bytes
    seq: int = 0
    outputs: list[Output] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def frame(self, camera_id: str, seq: int) -> bytes:
        record = {
            "camera_id": camera_id,
            "org_id": self.org_id,
            "site_id": None,
            "captured_at": int(time.time() * 1000),
            "seq": seq,
            "encoding": "JPEG",
            "width": 512,
            "height": 512,
            "data": self.jpeg,
        }
        return CODEC.encode("Frame", record)

    def of(self, camera_id: str, from_seq: int = 0) -> list[Output]:
        return [o for o in self.outputs if o.camera_id == camera_id and o.seq >= from_seq]

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            ANONYMIZED,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:

            async def assigned() -> set[TopicPartition] | None:
                return consumer.assignment() or None

            tps = await eventually(assigned, 30, f"partitions of {ANONYMIZED}", interval=0.1)
            await consumer.seek_to_end(*tps)
            for tp in tps:  # pin "the end" now, before any frame of this test is produced
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        self._tasks = [
            asyncio.create_task(self._consume(consumer)),
            asyncio.create_task(self._produce(producer)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _produce(self, producer: AIOKafkaProducer) -> None:
        loop = asyncio.get_running_loop()
        last_round = -1e9
        try:
            while True:
                seen = max((o.seq for o in self.outputs), default=None)
                if seen is None:
                    due = loop.time() - last_round >= WARMUP_EVERY_S
                else:
                    due = self.seq - seen <= MAX_AHEAD * len(self.cameras)
                if due:
                    last_round = loop.time()
                    for camera in self.cameras:
                        seq, self.seq = self.seq, self.seq + 1
                        await producer.send_and_wait(
                            FRAMES, self.frame(camera, seq), key=camera.encode()
                        )
                await asyncio.sleep(PACE_S)
        finally:
            await producer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        keys = {camera.encode() for camera in self.cameras}
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        if record.key in keys and record.value is not None:
                            self.outputs.append(self._read(record.value))
        finally:
            await consumer.stop()

    @staticmethod
    def _read(value: bytes) -> Output:
        out = CODEC.decode_as("AnonymizedFrame", value)
        return Output(
            camera_id=out["camera_id"],
            seq=out["seq"],
            policy_version=out["policy_version"],
            faces=out["faces"],
            face_boxes=sum(box["kind"] == "FACE" for box in out["boxes"]),
            fail_closed=out["fail_closed"],
            sharpness=face_sharpness(out["data"]),
        )

    async def until(
        self, check: Callable[[], bool], within: float, what: str, worker: Worker
    ) -> None:
        async def probe() -> bool | None:
            if worker.proc.poll() is not None:
                raise AssertionError(f"worker exited ({worker.proc.returncode}):\n{worker.tail()}")
            return True if check() else None

        try:
            await eventually(probe, within, what, interval=0.2)
        except AssertionError:
            print(f"outputs so far: {self.outputs}\n--- worker log tail ---\n{worker.tail()}")
            raise


async def policies_doc(
    client: httpx.AsyncClient, worker: Worker, org_id: str, camera_id: str
) -> dict[str, Any]:
    """The worker's GET /policies answer for the camera."""
    answer = await client.get(
        f"{worker.url}/policies", params={"org_id": org_id, "camera_id": camera_id}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def effective_privacy(
    client: httpx.AsyncClient, worker: Worker, org_id: str, camera_id: str
) -> tuple[dict[str, Any], int | None]:
    """The worker's effective privacy policy for the camera and its version (GET /policies)."""
    doc = await policies_doc(client, worker, org_id, camera_id)
    return dict(doc["policies"]["privacy"]), doc["versions"]["privacy"]


async def post_webhook(client: httpx.AsyncClient, worker: Worker, body: bytes) -> dict[str, Any]:
    answer = await client.post(
        f"{worker.url}/webhooks/supabase", content=body, headers=signed_headers(SECRET, body)
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_webhook_policy_change_turns_face_blur_off_and_on_for_one_camera(
    kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    await ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}"))
    run = uuid.uuid4().hex[:8]
    org, cam_a, cam_b = f"org-p2p-{run}", f"cam-p2p-a-{run}", f"cam-p2p-b-{run}"
    env = worker_env(
        kafka_bootstrap,
        app_id=f"policy-pixels-{run}",
        webhook_secret=SECRET.decode(),
        store="memory://",
        models_dir=str(models_dir),
        consumer_auto_offset_reset="latest",
        worker_pool_size="1",
    )
    jpeg = bytes(cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
    original = face_sharpness(jpeg)

    def blurred(o: Output) -> bool:
        return o.faces >= 1 and o.face_boxes >= 1 and o.sharpness < original / 10

    def untouched(o: Output) -> bool:  # re-encoded, so sharpness rather than bytes
        return o.faces == 0 and o.face_boxes == 0 and o.sharpness > 0.8 * original

    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    traffic = Traffic(kafka_bootstrap, org, (cam_a, cam_b), jpeg)
    started = time.monotonic()
    try:
        await traffic.start()
        async with httpx.AsyncClient(timeout=10) as client:
            # 1. default policy: both cameras blurred, stamped with the version the worker holds
            await traffic.until(
                lambda: bool(traffic.of(cam_a)) and bool(traffic.of(cam_b)),
                START_WITHIN_S,
                "first anonymized frames of both cameras",
                worker,
            )
            policy, v0 = await effective_privacy(client, worker, org, cam_a)
            assert policy["face_blur_enabled"] is True
            assert (await effective_privacy(client, worker, org, cam_b))[1] == v0
            for o in traffic.outputs:
                assert blurred(o), o
                assert o.policy_version == v0, o
            print(f"phase 1 after {time.monotonic() - started:.1f} s: {len(traffic.outputs)} out")

            # 2. camera-level row for A, face blur off (signed webhook, as Supabase sends it)
            row_v1 = supabase_row(
                org_id=org, camera_id=cam_a, config={"face_blur_enabled": False}, version=1
            )
            key = f"camguard/privacy/{org}/{cam_a}"
            answer = await post_webhook(client, worker, webhook_body("INSERT", row_v1))
            assert answer == {"status": "applied", "keys": [key], "version": 1}
            off_from = traffic.seq  # produced after the answer: the change is applied
            policy, version = await effective_privacy(client, worker, org, cam_a)
            assert (policy["face_blur_enabled"], version) == (False, 1)
            assert await effective_privacy(client, worker, org, cam_b) == (
                {**policy, "face_blur_enabled": True},
                v0,
            )
            await traffic.until(
                lambda: len(traffic.of(cam_a, off_from)) >= 2 and bool(traffic.of(cam_b, off_from)),
                CHANGE_WITHIN_S,
                "frames of both cameras after face blur was turned off for A",
                worker,
            )
            for o in traffic.of(cam_a, off_from):
                assert untouched(o), o
                assert o.policy_version == 1, o
            for o in traffic.of(cam_b):
                assert blurred(o), o
                assert o.policy_version == v0, o
            print(f"phase 2 after {time.monotonic() - started:.1f} s: {len(traffic.outputs)} out")

            # 3. a newer version of the same row turns face blur back on for A
            row_v2 = supabase_row(
                row_id=row_v1["id"],
                org_id=org,
                camera_id=cam_a,
                config={"face_blur_enabled": True},
                version=2,
            )
            answer = await post_webhook(client, worker, webhook_body("UPDATE", row_v2, row_v1))
            assert answer == {"status": "applied", "keys": [key], "version": 2}
            on_from = traffic.seq
            policy, version = await effective_privacy(client, worker, org, cam_a)
            assert (policy["face_blur_enabled"], version) == (True, 2)
            await traffic.until(
                lambda: len(traffic.of(cam_a, on_from)) >= 2 and bool(traffic.of(cam_b, on_from)),
                CHANGE_WITHIN_S,
                "frames of both cameras after face blur was turned back on for A",
                worker,
            )
            for o in traffic.of(cam_a, on_from):
                assert blurred(o), o
                assert o.policy_version == 2, o
            for o in traffic.of(cam_b):
                assert blurred(o), o
                assert o.policy_version == v0, o

            # Whatever phase an A frame fell in, its pixels agree with the version it carries.
            for o in traffic.of(cam_a):
                assert not o.fail_closed, o
                assert untouched(o) if o.policy_version == 1 else blurred(o), o
                assert o.policy_version in (v0, 1, 2), o
            # The policy path answered every lookup (its fallback blurs all, version None).
            found = await counters(client, worker)
            assert not [name for name in found if name.startswith("frames.privacy_lookup_failed")]
            print(f"done after {time.monotonic() - started:.1f} s: {len(traffic.outputs)} out")
    finally:
        await traffic.stop()
        worker.stop()
