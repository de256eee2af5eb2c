"""ResilienceQueue behaviour: order, limits, TTL, backpressure, acks, spill and drain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from spool_helpers import drain

from streams.spool import (
    AckMode,
    Backpressure,
    ItemTooLargeError,
    Persistence,
    QueueClosedError,
    QueueConfig,
    QueueFullError,
    ResilienceQueue,
)
from tests.support.clock import FakeClock


def items(prefix: str, n: int) -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in range(n)]


async def test_urgent_lane_first_and_fifo_within_each_priority() -> None:
    queue = ResilienceQueue("q", QueueConfig())
    for i in range(5):
        await queue.enqueue(f"low{i}".encode(), priority=2)
        await queue.enqueue(f"normal{i}".encode(), priority=1)
        await queue.enqueue(f"urgent{i}".encode(), priority=0)
    assert await drain(queue) == items("urgent", 5) + items("normal", 5) + items("low", 5)


async def test_fifo_holds_across_memory_and_disk(tmp_path: Path) -> None:
    config = QueueConfig(max_queue_size=3, spool_dir=tmp_path)
    async with ResilienceQueue("q", config) as queue:
        for value in items("v", 10):
            await queue.enqueue(value)
        stats = queue.stats()
        assert (stats.memory_queue_size, stats.disk_queue_size, stats.total_queued) == (3, 7, 10)
        assert await drain(queue, batch=4) == items("v", 10)
        assert queue.stats().drained_total == 7


async def test_item_over_max_item_bytes_is_refused_with_a_typed_error() -> None:
    queue = ResilienceQueue("q", QueueConfig(max_item_bytes=100))
    await queue.enqueue(b"x" * 96, key=b"k" * 4)
    with pytest.raises(ItemTooLargeError) as err:
        await queue.enqueue(b"x" * 97, key=b"k" * 4)
    assert (err.value.status, err.value.reason, err.value.retriable) == (
        413,
        "item_too_large",
        False,
    )
    assert len(queue) == 1


async def test_expired_items_are_dropped_and_counted() -> None:
    clock = FakeClock(1_700_000_000.0)
    queue = ResilienceQueue("q", QueueConfig(max_queue_seconds=60), clock=clock)
    await queue.enqueue(b"old")
    clock.advance(30)
    await queue.enqueue(b"short", ttl_s=5)
    await queue.enqueue(b"young")
    clock.advance(31)
    assert await drain(queue) == [b"young"]
    assert queue.stats().dropped == {"ttl_expired": 2}


async def test_expire_sweeps_without_a_consumer() -> None:
    clock = FakeClock(1_700_000_000.0)
    queue = ResilienceQueue("q", QueueConfig(max_queue_seconds=10), clock=clock)
    for value in items("v", 4):
        await queue.enqueue(value)
    clock.advance(10)
    assert await queue.expire() == 4
    assert queue.stats().total_queued == 0


async def test_expired_items_on_disk_are_dropped_when_reopened(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    config = QueueConfig(max_queue_seconds=60, spool_dir=tmp_path, persistence=Persistence.ALWAYS)
    async with ResilienceQueue("q", config, clock=clock) as queue:
        await queue.enqueue(b"stale", ttl_s=10)
        await queue.enqueue(b"fresh")
    clock.advance(20)
    async with ResilienceQueue("q", config, clock=clock) as queue:
        assert queue.stats().dropped == {"ttl_expired": 1}
        assert await drain(queue) == [b"fresh"]


async def test_count_limit_spans_memory_and_disk(tmp_path: Path) -> None:
    config = QueueConfig(
        max_queue_size=2, max_disk_items=3, spool_dir=tmp_path, backpressure=Backpressure.RAISE
    )
    async with ResilienceQueue("q", config) as queue:
        for value in items("v", 5):
            await queue.enqueue(value)
        with pytest.raises(QueueFullError) as err:
            await queue.enqueue(b"one too many")
        assert err.value.retriable
        assert err.value.retry_after == config.retry_after_s
        assert queue.stats().full_errors_total == 1


async def test_byte_limit_refuses_what_does_not_fit() -> None:
    config = QueueConfig(max_memory_bytes=1000, backpressure=Backpressure.RAISE)
    queue = ResilienceQueue("q", config)
    await queue.enqueue(b"a" * 600)
    with pytest.raises(QueueFullError):
        await queue.enqueue(b"b" * 500)
    await queue.enqueue(b"c" * 400)
    assert queue.stats().memory_bytes == 1000


async def test_drop_newest_refuses_the_new_item_and_counts_it() -> None:
    queue = ResilienceQueue(
        "q", QueueConfig(max_queue_size=2, backpressure=Backpressure.DROP_NEWEST)
    )
    assert await queue.enqueue(b"a")
    assert await queue.enqueue(b"b")
    assert not await queue.enqueue(b"c")
    assert await drain(queue) == [b"a", b"b"]
    assert queue.stats().dropped == {"queue_full": 1}


async def test_drop_oldest_evicts_from_the_least_urgent_lane() -> None:
    config = QueueConfig(max_queue_size=3, backpressure=Backpressure.DROP_OLDEST)
    queue = ResilienceQueue("q", config)
    await queue.enqueue(b"urgent", priority=0)
    await queue.enqueue(b"low-1", priority=2)
    await queue.enqueue(b"low-2", priority=2)
    assert await queue.enqueue(b"normal", priority=1)
    assert await drain(queue) == [b"urgent", b"normal", b"low-2"]
    assert queue.stats().dropped == {"evicted": 1}


async def test_drop_oldest_never_evicts_a_more_urgent_item() -> None:
    config = QueueConfig(max_queue_size=2, backpressure=Backpressure.DROP_OLDEST)
    queue = ResilienceQueue("q", config)
    await queue.enqueue(b"urgent-1", priority=0)
    await queue.enqueue(b"urgent-2", priority=0)
    assert not await queue.enqueue(b"low", priority=2)
    assert await drain(queue) == [b"urgent-1", b"urgent-2"]
    assert queue.stats().dropped == {"queue_full": 1}


async def test_raise_mode_raises_at_once() -> None:
    queue = ResilienceQueue("q", QueueConfig(max_queue_size=1, backpressure=Backpressure.RAISE))
    await queue.enqueue(b"a")
    with pytest.raises(QueueFullError) as err:
        await queue.enqueue(b"b")
    assert (err.value.reason, err.value.status) == ("queue_full", 503)


async def test_block_mode_waits_for_room_then_enqueues() -> None:
    config = QueueConfig(max_queue_size=1, backpressure=Backpressure.BLOCK, block_timeout_s=30)
    queue = ResilienceQueue("q", config)
    await queue.enqueue(b"first")
    waiting = asyncio.create_task(queue.enqueue(b"second"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    batch = await queue.dequeue_batch()
    await queue.ack(batch)
    assert await asyncio.wait_for(waiting, 10)
    assert await drain(queue) == [b"second"]


async def test_block_mode_gives_up_after_its_timeout() -> None:
    config = QueueConfig(max_queue_size=1, backpressure=Backpressure.BLOCK, block_timeout_s=0.05)
    queue = ResilienceQueue("q", config)
    await queue.enqueue(b"first")
    with pytest.raises(QueueFullError) as err:
        await queue.enqueue(b"second")
    assert err.value.reason == "block_timeout"


async def test_nack_puts_items_back_in_order_ahead_of_newer_ones() -> None:
    queue = ResilienceQueue("q", QueueConfig(batch_size=2))
    for value in items("v", 6):
        await queue.enqueue(value)
    first = await queue.dequeue_batch()
    second = await queue.dequeue_batch()
    await queue.nack(second)
    await queue.nack(first)
    again = await queue.dequeue_batch(4)
    assert [i.value for i in again] == items("v", 4)
    assert [i.attempts for i in again] == [2, 2, 2, 2]
    await queue.ack(again)
    assert await drain(queue) == [b"v4", b"v5"]


async def test_unacknowledged_items_are_redelivered_after_a_restart(tmp_path: Path) -> None:
    config = QueueConfig(spool_dir=tmp_path, persistence=Persistence.ALWAYS)
    async with ResilienceQueue("q", config) as queue:
        for value in items("v", 5):
            await queue.enqueue(value)
        acked = await queue.dequeue_batch(2)
        await queue.ack(acked)
        await queue.dequeue_batch(2)  # in flight, never acknowledged
    async with ResilienceQueue("q", config) as queue:
        assert queue.stats().recovered_total == 3
        assert await drain(queue) == [b"v2", b"v3", b"v4"]


async def test_sink_down_spills_memory_and_new_items_go_to_disk(tmp_path: Path) -> None:
    config = QueueConfig(spool_dir=tmp_path)
    async with ResilienceQueue("q", config) as queue:
        for value in items("a", 3):
            await queue.enqueue(value)
        assert queue.stats().memory_queue_size == 3
        assert await queue.mark_sink_down() == 3
        await queue.enqueue(b"b0")
        stats = queue.stats()
        assert (stats.memory_queue_size, stats.disk_queue_size, stats.sink_up) == (0, 4, False)
        assert stats.spilled_total == 4
        queue.mark_sink_up()
        await queue.enqueue(b"b1")
        assert queue.stats().memory_queue_size == 1
        assert await drain(queue) == [*items("a", 3), b"b0", b"b1"]
        assert queue.stats().drained_total == 4


async def test_memory_items_survive_a_graceful_close(tmp_path: Path) -> None:
    config = QueueConfig(spool_dir=tmp_path)
    async with ResilienceQueue("q", config) as queue:
        for value in items("v", 3):
            await queue.enqueue(value)
    async with ResilienceQueue("q", config) as queue:
        assert await drain(queue) == items("v", 3)


async def test_closed_queue_refuses_items() -> None:
    queue = ResilienceQueue("q", QueueConfig())
    await queue.open()
    await queue.close()
    with pytest.raises(QueueClosedError):
        await queue.enqueue(b"late")


async def test_dequeue_waits_for_an_item() -> None:
    queue = ResilienceQueue("q", QueueConfig())
    waiting = asyncio.create_task(queue.dequeue_batch(wait_s=30))
    await asyncio.sleep(0)
    await queue.enqueue(b"hello", key=b"cam-1")
    batch = await asyncio.wait_for(waiting, 10)
    assert [(i.key, i.value) for i in batch] == [(b"cam-1", b"hello")]


async def test_stats_report_age_bytes_and_seed_keys() -> None:
    clock = FakeClock(1_700_000_000.0)
    queue = ResilienceQueue("q", QueueConfig(), clock=clock)
    await queue.enqueue(b"12345", key=b"k")
    clock.advance(4)
    stats = queue.stats().as_dict()
    assert stats["memory_queue_size"] == 1
    assert stats["disk_queue_size"] == 0
    assert stats["total_queued"] == 1
    assert stats["memory_bytes"] == 6
    assert stats["oldest_item_age_s"] == pytest.approx(4.0)


async def test_priority_out_of_range_is_refused() -> None:
    queue = ResilienceQueue("q", QueueConfig(max_priority=3))
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue(b"x", priority=4)


async def test_explicit_acks_fill_the_queue_with_items_in_flight() -> None:
    config = QueueConfig(max_queue_size=3, backpressure=Backpressure.RAISE)
    queue = ResilienceQueue("q", config)
    for value in items("v", 3):
        await queue.enqueue(value)
    assert len(await queue.dequeue_batch()) == 3  # handed out, never acknowledged
    with pytest.raises(QueueFullError):
        await queue.enqueue(b"more")
    assert queue.stats().in_flight == 3


async def test_auto_ack_never_stalls_a_consumer_that_does_not_acknowledge() -> None:
    config = QueueConfig(
        max_queue_size=3, batch_size=2, backpressure=Backpressure.RAISE, ack_mode=AckMode.AUTO
    )
    queue = ResilienceQueue("q", config)
    seen: list[bytes] = []
    for value in items("v", 30):
        await queue.enqueue(value)
        seen.extend(item.value for item in await queue.dequeue_batch())
    assert seen == items("v", 30)
    stats = queue.stats()
    assert (stats.in_flight, stats.total_queued, stats.acked_total) == (0, 0, 30)
    await queue.nack([])  # a no-op in auto mode, like ack


async def test_auto_ack_releases_the_disk_so_nothing_replays(tmp_path: Path) -> None:
    config = QueueConfig(max_queue_size=2, spool_dir=tmp_path, ack_mode=AckMode.AUTO)
    async with ResilienceQueue("q", config) as queue:
        for value in items("v", 6):
            await queue.enqueue(value)
        assert queue.stats().disk_queue_size == 4
        first = await queue.dequeue_batch(4)
        assert [item.value for item in first] == items("v", 4)
        await queue.ack(first)  # already settled: changes nothing
        assert queue.stats().acked_total == 4
    async with ResilienceQueue("q", config) as queue:
        assert [item.value for item in await queue.dequeue_batch()] == [b"v4", b"v5"]
        assert queue.stats().drained_total == 2
    async with ResilienceQueue("q", config) as queue:
        assert queue.stats().recovered_total == 0
