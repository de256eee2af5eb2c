"""The gateway rides out a 30 s broker outage: spill to disk, drain after, nothing lost or doubled.

The test runs its own KRaft broker (it must stop and restart it; ``kafka.sh start --keep``
keeps the log dir), three synthetic cameras in one gateway process, and reads camera.frames
back at the end: every frame the cameras captured arrives exactly once, in order per camera,
and GET /queue/stats showed the spill during the outage and the drain after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from streams.codec import AvroCodec
from streams.devstack import LocalKafka, free_port
from streams.gateway.camera_loop import CameraSpec
from streams.gateway.service import Gateway, GatewayConfig
from streams.settings import Settings
from streams.spool.producer import ProducerConfig

OUTAGE_S = 30.0
CAMERAS = ("cam-1", "cam-2", "cam-3")


async def until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def read_frames(bootstrap: str, expected: int) -> dict[str, list[int]]:
    """Every Frame on camera.frames, seq per camera in partition (= delivery) order."""
    codec = AvroCodec()
    consumer = AIOKafkaConsumer(
        "camera.frames",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    seqs: dict[str, list[int]] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        idle = 0
        while loop.time() < deadline and idle < 3:
            batch = await consumer.getmany(timeout_ms=2000)
            total = sum(len(v) for v in seqs.values())
            idle = idle + 1 if not batch and total >= expected else 0
            for messages in batch.values():
                for message in messages:
                    frame = codec.decode_as("Frame", message.value)
                    assert message.key == frame["camera_id"].encode()
                    seqs.setdefault(frame["camera_id"], []).append(frame["seq"])
    finally:
        await consumer.stop()
    return seqs


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/queue/stats")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.integration
@pytest.mark.timeout(420)
async def test_broker_outage_spills_then_drains_every_frame_once_in_order(tmp_path: Path) -> None:
    broker = LocalKafka(port=free_port(), run_dir=tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    try:
        settings = Settings(
            broker=f"kafka://{broker.bootstrap}",
            spool_dir=tmp_path / "spool",
            spool_fsync="always",
            spool_memory_items=200,
        )
        config = GatewayConfig(
            cameras=tuple(
                CameraSpec(c, "synthetic", fps=8, width=320, height=180) for c in CAMERAS
            ),
            heartbeat_interval_s=2.0,
            producer=ProducerConfig(send_timeout_s=2.0),
            port=0,
        )
        gateway = Gateway(settings, config)
        await gateway.start()
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}")
        try:
            await until(lambda: gateway.producer.stats().delivered_total >= 60, 60, "deliveries")

            await asyncio.to_thread(broker.stop)
            outage_started = asyncio.get_running_loop().time()
            await until(lambda: gateway.queue.stats().disk_queue_size > 50, 30, "spill to disk")
            during = await stats(client)
            # The outage itself is the scenario: keep the broker down for its full length.
            await asyncio.sleep(outage_started + OUTAGE_S - asyncio.get_running_loop().time())
            during_end = await stats(client)
            await asyncio.to_thread(broker.start, True)

            await until(
                lambda: (
                    gateway.queue.stats().sink_up and gateway.queue.stats().disk_queue_size == 0
                ),
                120,
                "the spool to drain",
            )
            after = await stats(client)
        finally:
            await client.aclose()
            await gateway.stop(drain_timeout_s=30)
        captured = {c.spec.camera_id: c.status.last_seq for c in gateway.cameras}
        final = gateway.queue.stats()

        assert (during["sink_up"], during["memory_queue_size"]) == (False, 0)
        assert during["disk_queue_size"] > 50
        assert during_end["disk_queue_size"] > during["disk_queue_size"]
        assert during_end["producer"]["outages_total"] >= 1
        assert after["sink_up"]
        assert after["drained_total"] >= during_end["disk_queue_size"]
        assert final.total_queued == 0
        assert final.dropped == {}

        print(
            f"outage: spilled {during_end['spilled_total']} items, disk queue peaked at "
            f"{during_end['disk_queue_size']}; drained {after['drained_total']}; "
            f"frames captured {captured}"
        )
        seqs = await read_frames(broker.bootstrap, expected=sum(captured.values()))
        for camera, last in captured.items():
            assert last > OUTAGE_S * 8 * 0.5, f"{camera} captured too few frames"
            assert seqs[camera] == list(range(1, last + 1)), f"{camera}: lost, doubled or reordered"
    finally:
        await asyncio.to_thread(broker.stop)
