"""Durable queue throughput: camguard's ResilienceQueue against persist-queue's SQLiteAckQueue.

One item's life is counted: enqueue (durable before the call returns), dequeue, acknowledge
(durable before the call returns). Both queues run in this process on the same file system, in
the same run, at comparable durability:

- camguard: ``Persistence.ALWAYS`` + ``FsyncPolicy.ALWAYS`` (append + fsync before ``enqueue``
  returns, ack log + fsync before ``ack`` returns; concurrent callers share one fsync), no
  memory cache (every dequeue reads the record back from its segment and checks its CRC);
- persist-queue: ``SQLiteAckQueue(auto_commit=True)``, WAL journal, ``PRAGMA synchronous=FULL``
  (the WAL is fsynced at every commit: put, get and ack each commit).

Two shapes per item size: one producer (each enqueue waits for its own fsync), and 8
concurrent producers (camguard's group commit; SQLiteAckQueue with ``multithreading=True`` and 8
threads, its natural concurrent use). Dequeue + ack: camguard takes batches of 10 and acks each
batch; SQLiteAckQueue has no batch get, so it gets and acks item by item.

    .venv/bin/python bench/spool.py [--items-1k 3000] [--items-100k 600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from persistqueue import SQLiteAckQueue

from streams.spool import FsyncPolicy, Persistence, QueueConfig, ResilienceQueue

PRODUCERS = 8
BATCH = 10


def camguard_config(directory: Path) -> QueueConfig:
    return QueueConfig(
        spool_dir=directory,
        persistence=Persistence.ALWAYS,
        fsync=FsyncPolicy.ALWAYS,
        max_memory_bytes=1,  # no read cache: dequeue reads back from disk
        batch_size=BATCH,
        max_queue_seconds=3600,
    )


async def camguard_run(directory: Path, payload: bytes, n: int, producers: int) -> float:
    queue = ResilienceQueue("bench", camguard_config(directory))
    await queue.open()
    started = time.perf_counter()

    async def produce(count: int) -> None:
        for _ in range(count):
            await queue.enqueue(payload, key=b"cam-1")

    share = n // producers
    await asyncio.gather(*(produce(share) for _ in range(producers)))
    taken = 0
    while taken < share * producers:
        batch = await queue.dequeue_batch(BATCH)
        await queue.ack(batch)
        taken += len(batch)
    elapsed = time.perf_counter() - started
    await queue.close()
    return share * producers / elapsed


def sqlite_run(directory: Path, payload: bytes, n: int, producers: int) -> float:
    queue = SQLiteAckQueue(str(directory), auto_commit=True, multithreading=producers > 1)
    for conn in {id(c): c for c in (queue._conn, queue._putter, queue._getter)}.values():
        if conn is not None:
            conn.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    share = n // producers

    def produce() -> None:
        for _ in range(share):
            queue.put(payload)

    if producers == 1:
        produce()
    else:
        threads = [threading.Thread(target=produce) for _ in range(producers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for _ in range(share * producers):
        item = queue.get(block=False)
        queue.ack(item)
    elapsed = time.perf_counter() - started
    queue.close()
    return share * producers / elapsed


def _camguard(directory: Path, payload: bytes, n: int, producers: int) -> float:
    return asyncio.run(camguard_run(directory, payload, n, producers))


def medians(repeats: int, *runs: Callable[[Path], float]) -> list[float]:
    """Median rate of each run; the runs alternate so that disk noise hits them alike."""
    rates: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, out in zip(runs, rates, strict=True):
            with tempfile.TemporaryDirectory(
                prefix="spool-bench-", dir=os.environ.get("BENCH_DIR")
            ) as d:
                out.append(run(Path(d)))
    return [statistics.median(r) for r in rates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items-1k", type=int, default=3000)
    parser.add_argument("--items-100k", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("durable enqueue + dequeue + ack, items/s (median of", args.repeats, "runs)")
    print(f"{'item':>6} {'producers':>9} {'camguard':>10} {'SQLiteAckQueue':>15} {'ratio':>7}")
    ratios = []
    for label, size, n in (("1 KiB", 1024, args.items_1k), ("100KiB", 100 * 1024, args.items_100k)):
        payload = os.urandom(size)
        for producers in (1, PRODUCERS):
            ours, peer = medians(
                args.repeats,
                partial(_camguard, payload=payload, n=n, producers=producers),
                partial(sqlite_run, payload=payload, n=n, producers=producers),
            )
            ratios.append(ours / peer)
            print(f"{label:>6} {producers:>9} {ours:>10,.0f} {peer:>15,.0f} {ours / peer:>6.1f}x")
    print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.1f}x")


if __name__ == "__main__":
    main()
