"""Frames through a real broker and a real Faust worker with the real detectors.

Two workers run one after the other (separate consumer groups): the first with default
settings, the second with ``CAMGUARD_FACE_BLUR_ENABLED=false``. Each is checked on frames of its
own camera, produced while it runs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.anonymize.blur import laplacian_variance
from streams.app import ANONYMIZED, DEADLETTER, FRAMES
from streams.codec import AvroCodec
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.faults import start_frames_worker, stop
from tests.models.scenes import ASTRONAUT_FACE, astronaut_bgr

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.timeout(420)]

CODEC = AvroCodec()
FACE = tuple(int(v) for v in ASTRONAUT_FACE)


def _jpeg() -> bytes:
    return bytes(cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 95])[1])


def _frame(camera_id: str, seq: int, data: bytes) -> bytes:
    record = {
        "camera_id": camera_id,
        "org_id": "org-1",
        "site_id": None,
        "captured_at": 1_700_000_000_000 + seq,
        "seq": seq,
        "encoding": "JPEG",
        "width": 512,
        "height": 512,
        "data": data,
    }
    return CODEC.encode("Frame", record)


@pytest.fixture
def worker_env(kafka_bootstrap: str, models_dir: Path, tmp_path: Path) -> dict[str, str]:
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    return {
        **os.environ,
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_STORE": "memory://",
        "CAMGUARD_MODELS_DIR": str(models_dir),
        "CAMGUARD_DATA_DIR": str(tmp_path / "data"),
        "CAMGUARD_CONSUMER_AUTO_OFFSET_RESET": "latest",
        "CAMGUARD_WORKER_POOL_SIZE": "1",
    }


def _start(env: dict[str, str], log: Path, **overrides: str) -> subprocess.Popen[bytes]:
    app_id = f"frames-test-{uuid.uuid4().hex[:8]}"
    return start_frames_worker({**env, "CAMGUARD_APP_ID": app_id, **overrides}, log)


@pytest.fixture
def stop_workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop(proc)


async def _produce_until(
    bootstrap: str,
    frames: list[tuple[str, bytes]],
    topics: list[str],
    want: dict[str, int],
) -> dict[str, list[Any]]:
    """Produce ``frames`` every few seconds (the worker joins its group meanwhile) until each
    key in ``want`` has that many records on ``topics``; returns them by key."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    seen: dict[str, list[Any]] = {key: [] for key in want}
    loop = asyncio.get_running_loop()
    deadline, next_send = loop.time() + 180, 0.0
    try:
        while any(len(seen[k]) < n for k, n in want.items()):
            if loop.time() > deadline:
                break
            if loop.time() >= next_send and not any(seen.values()):
                for key, value in frames:
                    await producer.send_and_wait(FRAMES, key=key.encode(), value=value)
                next_send = loop.time() + 5
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    key = (record.key or b"").decode()
                    if key in seen:
                        seen[key].append(record)
    finally:
        await consumer.stop()
        await producer.stop()
    return seen


def _wait_for(
    bootstrap: str,
    frames: list[tuple[str, bytes]],
    topics: list[str],
    want: dict[str, int],
    log: Path,
) -> dict[str, list[Any]]:
    seen = asyncio.run(_produce_until(bootstrap, frames, topics, want))
    if any(len(seen[k]) < n for k, n in want.items()):
        counts = {k: len(v) for k, v in seen.items()}
        pytest.fail(
            f"timed out; got {counts}; worker log:\n{log.read_text(errors='replace')[-3000:]}"
        )
    return seen


def _decode_image(data: bytes) -> np.ndarray:
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


def test_frames_come_out_anonymized_and_bad_frames_are_dead_lettered(
    kafka_bootstrap: str, worker_env: dict[str, str], tmp_path: Path, stop_workers: list[Any]
) -> None:
    camera, broken = f"cam-{uuid.uuid4().hex[:8]}", f"cam-bad-{uuid.uuid4().hex[:8]}"
    wrong_key = f"cam-wrong-key-{uuid.uuid4().hex[:8]}"
    good = _jpeg()
    stop_workers.append(_start(worker_env, tmp_path / "worker-blur.log"))
    seen = _wait_for(
        kafka_bootstrap,
        [
            (camera, _frame(camera, 1, good)),
            (broken, _frame(broken, 1, good[:5000])),
            (wrong_key, _frame(camera, 2, good)),
        ],
        [ANONYMIZED, DEADLETTER],
        {camera: 1, broken: 1, wrong_key: 1},
        tmp_path / "worker-blur.log",
    )
    out = CODEC.decode_as("AnonymizedFrame", seen[camera][0].value)
    assert out["faces"] >= 1
    assert out["fail_closed"] is False
    assert out["detector"] == "centerface+yolov8_plate|clp_det@cpu"  # plate_model=both
    assert any(box["kind"] == "FACE" for box in out["boxes"])
    assert (out["width"], out["height"], out["seq"]) == (512, 512, 1)
    x1, y1, x2, y2 = FACE
    original, anonymized = _decode_image(good), _decode_image(out["data"])
    assert (
        laplacian_variance(anonymized[y1:y2, x1:x2])
        < laplacian_variance(original[y1:y2, x1:x2]) / 10
    )
    letter = CODEC.decode_as("DeadLetter", seen[broken][0].value)
    assert letter["reason"] == "corrupt_image"
    assert letter["consumer"] == "agents.frames"
    assert letter["value"] == _frame(broken, 1, good[:5000])  # raw bytes kept
    mismatch = CODEC.decode_as("DeadLetter", seen[wrong_key][0].value)
    assert mismatch["reason"] == "key_mismatch"


def test_with_face_blur_disabled_by_settings_faces_stay_untouched(
    kafka_bootstrap: str, worker_env: dict[str, str], tmp_path: Path, stop_workers: list[Any]
) -> None:
    camera = f"cam-noblur-{uuid.uuid4().hex[:8]}"
    good = _jpeg()
    stop_workers.append(
        _start(worker_env, tmp_path / "worker-noblur.log", CAMGUARD_FACE_BLUR_ENABLED="false")
    )
    seen = _wait_for(
        kafka_bootstrap,
        [(camera, _frame(camera, 7, good))],
        [ANONYMIZED],
        {camera: 1},
        tmp_path / "worker-noblur.log",
    )
    out = CODEC.decode_as("AnonymizedFrame", seen[camera][0].value)
    assert out["faces"] == 0
    assert out["boxes"] == []
    x1, y1, x2, y2 = FACE
    original, passed = _decode_image(good), _decode_image(out["data"])
    # re-encoded, so compare sharpness rather than bytes: the face keeps its detail
    assert laplacian_variance(passed[y1:y2, x1:x2]) > 0.8 * laplacian_variance(
        original[y1:y2, x1:x2]
    )
