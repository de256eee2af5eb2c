"""``camguard gateway`` as a user runs it, against the session's real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams.codec import AvroCodec
from streams.devstack import free_port

REPO = Path(__file__).resolve().parents[2]


async def frames_of(bootstrap: str, cameras: set[str], expected: int) -> dict[str, list[int]]:
    codec = AvroCodec()
    consumer = AIOKafkaConsumer(
        "camera.frames", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seqs: dict[str, list[int]] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while sum(map(len, seqs.values())) < expected and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                for message in messages:
                    if message.key is not None and message.key.decode() in cameras:
                        frame = codec.decode_as("Frame", message.value)
                        seqs.setdefault(frame["camera_id"], []).append(frame["seq"])
    finally:
        await consumer.stop()
    return seqs


@pytest.mark.integration
@pytest.mark.timeout(180)
async def test_gateway_command_produces_frames_for_each_camera(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    cameras = [f"cli-{tag}-a", f"cli-{tag}-b"]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_SPOOL_DIR": str(tmp_path / "spool"),
        "CAMGUARD_GATEWAY_PORT": str(free_port()),
    }
    argv = [sys.executable, "-m", "streams.cli", "gateway", "--fps", "20", "--max-frames", "12"]
    for camera in cameras:
        argv += ["--camera-id", camera]
    done = await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seqs = await frames_of(kafka_bootstrap, set(cameras), expected=24)
    assert seqs == {camera: list(range(1, 13)) for camera in cameras}
