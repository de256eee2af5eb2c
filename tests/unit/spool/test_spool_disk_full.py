"""A full disk is backpressure, never a crash (the OS refuses writes via RLIMIT_FSIZE)."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spool_helpers import drain

from streams.spool import (
    Backpressure,
    DiskFullError,
    Persistence,
    QueueConfig,
    QueueFullError,
    ResilienceQueue,
)
from tests.support.clock import FakeClock

LIMIT = 64 * 1024
ITEM = b"x" * 4096


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG, as on a full volume."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def config(tmp_path: Path, **kw: object) -> QueueConfig:
    base: dict[str, object] = {
        "spool_dir": tmp_path,
        "segment_bytes": 1 << 20,
        "disk_retry_s": 30.0,
        "backpressure": Backpressure.RAISE,
    }
    base.update(kw)
    return QueueConfig(**base)  # type: ignore[arg-type]


async def test_always_persist_raises_a_retriable_disk_full_error(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    cfg = config(tmp_path, persistence=Persistence.ALWAYS)
    async with ResilienceQueue("q", cfg, clock=clock) as queue:
        stored, err = 0, None
        with file_size_limit(LIMIT):
            while stored < 100:
                try:
                    await queue.enqueue(ITEM)
                except DiskFullError as exc:
                    err = exc
                    break
                stored += 1
        assert err is not None
        assert err.retriable
        assert err.retry_after == cfg.disk_retry_s
        assert 0 < stored < 100
        assert queue.stats().disk_full
        clock.advance(cfg.disk_retry_s)
        assert await queue.enqueue(b"after")  # space is back: writes resume
        assert await drain(queue) == [ITEM] * stored + [b"after"]


async def test_overflow_falls_back_to_memory_while_the_disk_is_full(tmp_path: Path) -> None:
    async with ResilienceQueue("q", config(tmp_path, max_queue_size=100)) as queue:
        await queue.mark_sink_down()
        with file_size_limit(LIMIT):
            for _ in range(40):
                assert await queue.enqueue(ITEM)
        stats = queue.stats()
        assert stats.disk_full
        assert stats.memory_queue_size > 0
        assert stats.disk_queue_size > 0
        assert stats.total_queued == 40
        assert await drain(queue) == [ITEM] * 40


async def test_drop_newest_counts_disk_full_drops(tmp_path: Path) -> None:
    cfg = config(tmp_path, persistence=Persistence.ALWAYS, backpressure=Backpressure.DROP_NEWEST)
    async with ResilienceQueue("q", cfg) as queue:
        with file_size_limit(LIMIT):
            results = [await queue.enqueue(ITEM) for _ in range(30)]
        assert not all(results)
        assert queue.stats().dropped == {"disk_full": results.count(False)}
        assert len(await drain(queue)) == results.count(True)


def test_disk_full_error_is_a_queue_full_error() -> None:
    assert issubclass(DiskFullError, QueueFullError)
