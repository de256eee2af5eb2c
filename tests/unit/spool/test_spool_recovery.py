"""Opening a spool after crashes and damage: torn tails, corrupt segments, keys, locks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from spool_helpers import drain

from streams.spool import Persistence, QueueConfig, ResilienceQueue
from streams.spool.cipher import SpoolCipher
from streams.spool.exceptions import SpoolKeyError, SpoolLockedError
from streams.spool.segments import ACK_LOG


def durable(tmp_path: Path, segment_bytes: int = 1 << 20) -> QueueConfig:
    return QueueConfig(
        spool_dir=tmp_path, persistence=Persistence.ALWAYS, segment_bytes=segment_bytes
    )


def values(n: int, size: int = 40) -> list[bytes]:
    return [f"{i:04d}".encode().ljust(size, b".") for i in range(n)]


def segments(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "q").glob("*.seg"))


async def fill(config: QueueConfig, data: list[bytes]) -> None:
    async with ResilienceQueue("q", config) as queue:
        for value in data:
            await queue.enqueue(value, key=b"cam")


async def test_torn_tail_is_cut_and_everything_before_it_replays(tmp_path: Path) -> None:
    config = durable(tmp_path)
    await fill(config, values(10))
    last = segments(tmp_path)[-1]
    whole = last.read_bytes()
    last.write_bytes(whole[:-7])  # the process died inside the last write
    async with ResilienceQueue("q", config) as queue:
        stats = queue.stats()
        assert stats.truncated_bytes > 0
        assert stats.quarantined == ()
        assert await drain(queue) == values(9)


async def test_corrupt_segment_is_quarantined_and_the_rest_replays(tmp_path: Path) -> None:
    config = durable(tmp_path, segment_bytes=300)
    data = values(20)
    await fill(config, data)
    files = segments(tmp_path)
    assert len(files) >= 4
    victim = files[1]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    lost = [v for v in data if v in victim.read_bytes()]
    async with ResilienceQueue("q", config) as queue:
        assert queue.stats().quarantined == (victim.name,)
        replayed = await drain(queue)
    assert (tmp_path / "q" / "quarantine" / victim.name).exists()
    assert replayed == [v for v in data if v not in lost]
    assert lost
    assert len(replayed) == len(data) - len(lost)


async def test_file_without_spool_header_is_quarantined(tmp_path: Path) -> None:
    config = durable(tmp_path)
    await fill(config, values(3))
    (tmp_path / "q" / "0000000000000000.seg").write_bytes(b"not a spool segment at all")
    async with ResilienceQueue("q", config) as queue:
        assert queue.stats().quarantined == ("0000000000000000.seg",)
        assert await drain(queue) == values(3)


async def test_torn_ack_log_redelivers_instead_of_losing(tmp_path: Path) -> None:
    config = durable(tmp_path)
    async with ResilienceQueue("q", config) as queue:
        for value in values(4):
            await queue.enqueue(value)
        await queue.ack(await queue.dequeue_batch(2))
    ack_log = tmp_path / "q" / ACK_LOG
    ack_log.write_bytes(ack_log.read_bytes()[:-3])
    async with ResilienceQueue("q", config) as queue:
        assert await drain(queue) == values(4)


async def test_second_process_cannot_open_the_same_spool(tmp_path: Path) -> None:
    config = durable(tmp_path)
    async with ResilienceQueue("q", config):
        with pytest.raises(SpoolLockedError):
            await ResilienceQueue("q", config).open()


def key(n: int) -> SpoolCipher:
    return SpoolCipher.from_text(base64.b64encode(bytes([n]) * 32).decode())


async def test_encrypted_spool_keeps_no_plaintext_and_reads_back(tmp_path: Path) -> None:
    config = durable(tmp_path)
    secret = b"face-of-a-person-" * 4
    async with ResilienceQueue("q", config, cipher=key(1)) as queue:
        await queue.enqueue(secret, key=b"cam-secret")
    on_disk = b"".join(p.read_bytes() for p in segments(tmp_path))
    assert secret not in on_disk
    assert b"cam-secret" not in on_disk
    async with ResilienceQueue("q", config, cipher=key(1)) as queue:
        batch = await queue.dequeue_batch()
        assert [(i.key, i.value) for i in batch] == [(b"cam-secret", secret)]


async def test_encrypted_spool_without_or_with_another_key_is_left_untouched(
    tmp_path: Path,
) -> None:
    config = durable(tmp_path)
    async with ResilienceQueue("q", config, cipher=key(1)) as queue:
        await queue.enqueue(b"secret")
    with pytest.raises(SpoolKeyError):
        await ResilienceQueue("q", config).open()
    with pytest.raises(SpoolKeyError):
        await ResilienceQueue("q", config, cipher=key(2)).open()
    async with ResilienceQueue("q", config, cipher=key(1)) as queue:
        assert await drain(queue) == [b"secret"]


async def test_acknowledged_segments_are_reclaimed(tmp_path: Path) -> None:
    config = durable(tmp_path, segment_bytes=300)
    async with ResilienceQueue("q", config) as queue:
        for value in values(30):
            await queue.enqueue(value)
        assert queue.stats().disk_segments > 5
        assert await drain(queue) == values(30)
        stats = queue.stats()
        assert (stats.disk_segments, stats.disk_bytes) == (1, 0)
    assert len(segments(tmp_path)) == 1
