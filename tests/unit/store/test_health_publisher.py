"""The health publisher: coalescing, bounded buffer, retries, never blocking the stream."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from streams.store.exceptions import StoreRejectedError, StoreUnavailableError
from streams.store.memory import MemoryCamera, MemoryHealthStore
from streams.store.publisher import HealthPublisher, PublisherConfig, backoff_delay
from tests.support.waiting import eventually
from tests.unit.store.snapshots import T0, snap


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make(store: MemoryHealthStore, **cfg: float) -> tuple[HealthPublisher, RecordingSleep]:
    sleep = RecordingSleep()
    config = PublisherConfig(**cfg)  # type: ignore[arg-type]
    return HealthPublisher(store, config, rng=random.Random(3), sleep=sleep), sleep


async def test_latest_snapshot_per_camera_wins() -> None:
    store = MemoryHealthStore()
    publisher, _ = make(store)
    publisher.offer([snap("a", T0, frames=1), snap("a", T0 + 2, frames=3), snap("b", T0)])
    publisher.offer([snap("a", T0 + 1, frames=2)])  # older than what is pending: ignored
    assert publisher.pending == 2
    assert await publisher.publish_once() is None
    assert store.rows["a"].metadata["frames_processed"] == 3
    assert store.batches == [["a", "b"]]


async def test_an_outage_is_survived_and_only_the_newest_rows_land_afterwards() -> None:
    store = MemoryHealthStore()
    store.down = True
    publisher, sleep = make(store, backoff_initial_s=1, backoff_max_s=8)
    publisher.start()
    for i in range(200):
        taken = publisher.offer([snap(f"cam-{i % 10}", T0 + i, frames=i)])
        assert taken == {f"cam-{i % 10}"}
        await asyncio.sleep(0)
    await eventually(lambda: len(sleep.delays) >= 6)
    assert publisher.pending == 10
    assert store.rows == {}
    assert all(0.1 <= d <= 8 for d in sleep.delays)
    assert max(sleep.delays) > 1, "backoff grows past the first ceiling"
    store.down = False
    publisher.offer([snap("cam-0", T0 + 500, frames=999)])
    await eventually(lambda: len(store.rows) == 10)
    await publisher.stop()
    assert store.rows["cam-0"].metadata["frames_processed"] == 999
    assert store.rows["cam-9"].metadata["frames_processed"] == 199
    assert publisher.stats.consecutive_failures == 0
    assert publisher.stats.failed_attempts >= 6


async def test_a_refused_batch_is_dropped_and_counted_and_publishing_goes_on() -> None:
    store = MemoryHealthStore()
    store.failures = [StoreRejectedError("column missing"), StoreUnavailableError("blip")]
    publisher, _ = make(store, batch_size=2)
    publisher.offer([snap("a"), snap("b"), snap("c")])
    assert await publisher.publish_once() is None
    assert publisher.stats.rejected == 2
    assert await publisher.publish_once() is not None
    assert await publisher.publish_once() is None
    assert set(store.rows) == {"c"}
    assert publisher.stats.last_error is not None
    assert publisher.stats.last_error.startswith("store_unavailable")


async def test_a_full_buffer_refuses_new_cameras_but_updates_known_ones() -> None:
    publisher, _ = make(MemoryHealthStore(), max_pending=2)
    assert publisher.offer([snap("a"), snap("b"), snap("c")]) == {"a", "b"}
    assert publisher.offer([snap("a", T0 + 1)]) == {"a"}
    assert publisher.stats.dropped == 1


async def test_stop_flushes_what_is_pending() -> None:
    store = MemoryHealthStore()
    publisher, _ = make(store)
    publisher.offer([snap("a")])
    await publisher.stop()
    assert set(store.rows) == {"a"}


def test_backoff_ceiling_grows_and_is_capped() -> None:
    config = PublisherConfig(backoff_initial_s=1, backoff_max_s=10, backoff_multiplier=2)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        for _ in range(20):
            assert ceiling / 10 <= backoff_delay(attempt, config, rng) <= ceiling


async def test_unknown_cameras_are_counted_logged_once_and_never_invented(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryHealthStore(cameras=["a"])
    publisher, _ = make(store)
    with caplog.at_level(logging.WARNING, logger="streams.store.publisher"):
        publisher.offer([snap("a"), snap("ghost-1"), snap("ghost-2")])
        assert await publisher.publish_once() is None
        publisher.offer([snap("ghost-1", T0 + 1)])
        assert await publisher.publish_once() is None
    assert set(store.rows) == {"a"}
    assert (publisher.stats.published, publisher.stats.unknown) == (1, 3)
    assert publisher.stats.unknown_cameras == 2
    assert publisher.unknown_cameras == {"ghost-1", "ghost-2"}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, "each unknown camera is logged once"
    assert "ghost-1, ghost-2" in warnings[0]

    store.rows["ghost-1"] = MemoryCamera("ghost-1")  # the platform registers it
    publisher.offer([snap("ghost-1", T0 + 2, frames=5)])
    assert await publisher.publish_once() is None
    assert store.rows["ghost-1"].metadata["frames_processed"] == 5
    assert publisher.unknown_cameras == {"ghost-2"}
    assert publisher.stats.unknown_cameras == 1


async def test_an_older_snapshot_is_counted_stale_and_changes_nothing() -> None:
    store = MemoryHealthStore(cameras=["a"])
    store.rows["a"].metadata = {"firmware": "1.2"}
    publisher, _ = make(store)
    publisher.offer([snap("a", T0 + 5, frames=5)])
    await publisher.publish_once()
    publisher.offer([snap("a", T0, frames=1)])
    await publisher.publish_once()
    assert store.rows["a"].metadata["frames_processed"] == 5
    assert store.rows["a"].metadata["firmware"] == "1.2"
    assert store.rows["a"].metadata["circuit_breaker_state"] == "closed"
    assert (publisher.stats.published, publisher.stats.stale) == (1, 1)
