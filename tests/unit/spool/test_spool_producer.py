"""ResilientProducer against the in-memory sink: order per key, spill while down, drain after."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.resilience.breaker import CircuitBreakerConfig
from streams.spool import QueueConfig, ResilienceQueue
from streams.spool.producer import ProducerConfig, ResilientProducer
from streams.spool.sink import MemorySink, pack_envelope, unpack_envelope
from tests.support.waiting import eventually

FAST = ProducerConfig(
    send_timeout_s=0.05,
    idle_wait_s=0.02,
    stop_timeout_s=5.0,
    breaker=CircuitBreakerConfig(
        failure_threshold=2, recovery_timeout_s=0.02, max_recovery_timeout_s=0.1, jitter_ratio=0
    ),
)


def producer(tmp_path: Path, sink: MemorySink, **queue: object) -> ResilientProducer:
    config = QueueConfig(spool_dir=tmp_path, batch_size=5, **queue)  # type: ignore[arg-type]
    return ResilientProducer(ResilienceQueue("gw", config), sink, FAST)


async def send_frames(p: ResilientProducer, cameras: int, per_camera: int, start: int = 0) -> None:
    for n in range(start, start + per_camera):
        for cam in range(cameras):
            await p.send("camera.frames", f"cam-{cam}:{n}".encode(), key=f"cam-{cam}")


def expected(cameras: int, per_camera: int) -> dict[bytes | None, list[bytes]]:
    return {
        f"cam-{c}".encode(): [f"cam-{c}:{n}".encode() for n in range(per_camera)]
        for c in range(cameras)
    }


def test_envelope_round_trip() -> None:
    assert unpack_envelope(pack_envelope("camera.events", b"\x00payload")) == (
        "camera.events",
        b"\x00payload",
    )


async def test_delivers_everything_in_order_per_key(tmp_path: Path) -> None:
    sink = MemorySink()
    p = producer(tmp_path, sink)
    await p.start()
    await send_frames(p, cameras=3, per_camera=20)
    await eventually(lambda: len(sink.delivered) == 60, within=20)
    await p.stop()
    assert sink.by_key("camera.frames") == expected(3, 20)
    assert p.stats().delivered_total == 60
    assert p.queue.stats().disk_queue_size == 0


async def test_broker_down_at_start_spills_then_drains_in_order(tmp_path: Path) -> None:
    sink = MemorySink(available=False)
    p = producer(tmp_path, sink)
    await p.start()
    await send_frames(p, cameras=2, per_camera=30)
    await eventually(lambda: p.queue.stats().disk_queue_size == 60, within=20)
    stats = p.queue.stats()
    assert (stats.memory_queue_size, stats.sink_up) == (0, False)
    await eventually(lambda: p.stats().breaker_state != "CLOSED", within=20)
    sink.set_available(True)
    await eventually(lambda: len(sink.delivered) == 60, within=20)
    assert sink.by_key("camera.frames") == expected(2, 30)
    stats = p.queue.stats()
    assert stats.drained_total == 60
    assert stats.total_queued == 0
    assert stats.sink_up
    await p.stop()


async def test_outage_mid_stream_delivers_each_record_once_in_order(tmp_path: Path) -> None:
    sink = MemorySink()
    p = producer(tmp_path, sink)
    await p.start()
    await send_frames(p, cameras=2, per_camera=10)
    await eventually(lambda: len(sink.delivered) == 20, within=20)
    sink.set_available(False)  # deliveries now hang, as against a dead broker
    await send_frames(p, cameras=2, per_camera=40, start=10)
    await eventually(lambda: not p.queue.sink_up, within=20)
    await eventually(lambda: p.queue.stats().disk_queue_size > 0, within=20)
    assert p.stats().outages_total == 1
    sink.set_available(True)
    await eventually(lambda: len(sink.delivered) == 100, within=20)
    await p.stop()
    assert sink.by_key("camera.frames") == expected(2, 50)
    assert p.queue.stats().drained_total > 0


async def test_rejected_records_are_dropped_and_counted(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.rejected_topics.add("camera.bad")
    p = producer(tmp_path, sink)
    await p.start()
    await p.send("camera.frames", b"a", key="cam-1")
    await p.send("camera.bad", b"b", key="cam-1")
    await p.send("camera.frames", b"c", key="cam-1")
    await eventually(lambda: p.queue.stats().dropped.get("sink_rejected") == 1, within=20)
    await eventually(lambda: len(sink.delivered) == 2, within=20)
    await p.stop()
    assert sink.by_key("camera.frames") == {b"cam-1": [b"a", b"c"]}
    assert p.stats().rejected_total == 1


async def test_stop_while_down_keeps_the_backlog_for_the_next_run(tmp_path: Path) -> None:
    down = MemorySink(available=False)
    p = producer(tmp_path, down)
    await p.start()
    await send_frames(p, cameras=2, per_camera=5)
    await p.stop(timeout_s=0.1)
    up = MemorySink()
    again = producer(tmp_path, up)
    await again.start()
    await eventually(lambda: len(up.delivered) == 10, within=20)
    await again.stop()
    assert up.by_key("camera.frames") == expected(2, 5)
    assert again.queue.stats().recovered_total == 10


@pytest.mark.parametrize("priority", [0, 2])
async def test_send_passes_priority_and_ttl(tmp_path: Path, priority: int) -> None:
    p = producer(tmp_path, MemorySink())
    await p.queue.open()
    assert await p.send("t", b"x", key="k", priority=priority, ttl_s=1.0)
    (item,) = await p.queue.dequeue_batch()
    assert item.priority == priority
    assert item.expires_ms - item.enqueued_ms == 1000
    await p.queue.close()
