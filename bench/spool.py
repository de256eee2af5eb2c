"""Durable queue throughput, like for like: camguard's ResilienceQueue against persist-queue.

One item's life is counted: enqueue (durable before the call returns), dequeue, acknowledge
(durable before the call returns; a crash before it hands the item out again). Every row runs
both sides in this process, on the same file system, in the same run, in alternating rounds
(camguard, peer, peer, camguard, ...), so that noise from other jobs hits them alike.

Equal durability: every enqueue and every acknowledgement is on disk (fdatasync) before the
call returns, on both sides:

- camguard ``ResilienceQueue``: ``Persistence.ALWAYS`` + ``FsyncPolicy.ALWAYS`` (append +
  fdatasync before ``enqueue`` returns, ack log + fdatasync before ``ack`` returns; concurrent
  callers share one fdatasync), no memory cache (every dequeue reads the record back from its
  segment and checks its CRC);
- persist-queue: WAL journal with ``PRAGMA synchronous=FULL`` (SQLite's default, set here
  explicitly: the WAL is fdatasynced at every commit; NORMAL would not be durable).

Equal batching (``--batches``, default 1 and 10): the consumer takes ``batch`` items, then
acknowledges them with one durable write.

- camguard: ``dequeue_batch(batch)`` then ``ack(items)`` (one fdatasync per ack);
- persist-queue's best configuration for it: ``SQLiteQueue(auto_commit=False)``, ``get`` x
  ``batch`` then ``task_done()`` (one commit deletes everything got so far; before it, a
  restart hands the items out again: at-least-once, persist-queue's documented batch mode).
  ``SQLiteAckQueue`` cannot batch: it refuses ``auto_commit=False`` ("disable auto commit is not
  supported in ack queue") and commits its put, its get and its ack separately; it runs in
  the batch-1 rows, and each row's ratio is taken against the faster persist-queue queue.

Enqueue: persist-queue commits every ``put`` (no put batching), and so does camguard (every
``enqueue`` is durable when it returns). One producer: each enqueue waits for its own
fdatasync. 8 producers: 8 concurrent producers (camguard: 8 coroutines whose enqueues share
fdatasyncs, its group commit; persist-queue: ``multithreading=True`` and 8 threads, its
concurrent use: SQLite serialises the commits).

    .venv/bin/python bench/spool.py [--items-1k 3000] [--items-100k 600] [--rounds 3] [--quick]
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
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from persistqueue import SQLiteAckQueue, SQLiteQueue

from streams.spool import FsyncPolicy, Persistence, QueueConfig, ResilienceQueue

PRODUCERS = 8
PQ_VERSION = version("persist-queue")
OURS_CONFIG = "ResilienceQueue ALWAYS + fsync ALWAYS, no memory cache"
PEERS = {
    "ack": "SQLiteAckQueue(auto_commit=True), WAL, synchronous=FULL: put, get, ack commit each",
    "batch": "SQLiteQueue(auto_commit=False), WAL, synchronous=FULL: put commits, "
    "task_done() per batch",
}


def camguard_config(directory: Path, batch: int) -> QueueConfig:
    return QueueConfig(
        spool_dir=directory,
        persistence=Persistence.ALWAYS,
        fsync=FsyncPolicy.ALWAYS,
        max_memory_bytes=1,  # no read cache: dequeue reads back from disk
        batch_size=batch,
        max_queue_seconds=3600,
    )


async def camguard_run(
    directory: Path, payload: bytes, n: int, producers: int, batch: int
) -> float:
    queue = ResilienceQueue("bench", camguard_config(directory, batch))
    await queue.open()
    started = time.perf_counter()

    async def produce(count: int) -> None:
        for _ in range(count):
            await queue.enqueue(payload, key=b"cam-1")

    share = n // producers
    await asyncio.gather(*(produce(share) for _ in range(producers)))
    taken = 0
    while taken < share * producers:
        items = await queue.dequeue_batch(batch)
        await queue.ack(items)
        taken += len(items)
    elapsed = time.perf_counter() - started
    await queue.close()
    return share * producers / elapsed


def _synchronous_full(queue: Any) -> None:
    for conn in {id(c): c for c in (queue._conn, queue._putter, queue._getter)}.values():
        if conn is not None:
            conn.execute("PRAGMA synchronous=FULL")


def _produce(queue: Any, payload: bytes, share: int, producers: int) -> None:
    def produce() -> None:
        for _ in range(share):
            queue.put(payload)

    if producers == 1:
        produce()
        return
    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def ack_queue_run(directory: Path, payload: bytes, n: int, producers: int, batch: int) -> float:
    """SQLiteAckQueue: put, get and ack each commit (it has no batch mode); batch is 1."""
    assert batch == 1, "SQLiteAckQueue cannot acknowledge a batch in one commit"
    queue = SQLiteAckQueue(str(directory), auto_commit=True, multithreading=producers > 1)
    _synchronous_full(queue)
    started = time.perf_counter()
    share = n // producers
    _produce(queue, payload, share, producers)
    for _ in range(share * producers):
        queue.ack(queue.get(block=False))
    elapsed = time.perf_counter() - started
    queue.close()
    return share * producers / elapsed


def batch_queue_run(directory: Path, payload: bytes, n: int, producers: int, batch: int) -> float:
    """SQLiteQueue(auto_commit=False): ``batch`` gets, then one ``task_done`` commit."""
    queue = SQLiteQueue(str(directory), auto_commit=False, multithreading=producers > 1)
    _synchronous_full(queue)
    started = time.perf_counter()
    share = n // producers
    _produce(queue, payload, share, producers)
    total = share * producers
    for index in range(total):
        queue.get(block=False)
        if (index + 1) % batch == 0 or index + 1 == total:
            queue.task_done()
    elapsed = time.perf_counter() - started
    queue.close()
    return total / elapsed


def _camguard(directory: Path, payload: bytes, n: int, producers: int, batch: int) -> float:
    return asyncio.run(camguard_run(directory, payload, n, producers, batch))


def medians(rounds: int, runs: dict[str, Callable[[Path], float]]) -> dict[str, float]:
    """Median rate of each run; the order alternates round by round (ABBA...)."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in order:
            with tempfile.TemporaryDirectory(
                prefix="spool-bench-", dir=os.environ.get("BENCH_DIR")
            ) as d:
                rates[name].append(runs[name](Path(d)))
    return {name: statistics.median(r) for name, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items-1k", type=int, default=3000)
    parser.add_argument("--items-100k", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--quick", action="store_true", help="a third of the items, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.items_1k, args.items_100k, args.rounds = 1000, 200, 2
    print(f"durable enqueue + dequeue + ack, items/s, median of {args.rounds} alternating rounds")
    print(f"camguard          : {OURS_CONFIG}")
    for name, config in PEERS.items():
        print(f"persist-queue {PQ_VERSION} {name:<5}: {config}")
    header = f"{'item':>6} {'prod':>4} {'batch':>5} {'camguard':>9} {'AckQueue':>9}"
    print(f"{header} {'SQLiteQueue':>11} {'ratio':>6}")
    rows: list[tuple[str, int, int, float, float, str]] = []
    sizes = (("1KiB", 1024, args.items_1k), ("100KiB", 100 * 1024, args.items_100k))
    for label, size, n in sizes:
        payload = os.urandom(size)
        for producers in (1, PRODUCERS):
            for batch in args.batches:
                shape = {"payload": payload, "n": n, "producers": producers, "batch": batch}
                runs: dict[str, Callable[[Path], float]] = {
                    "camguard": partial(_camguard, **shape),
                    "batch": partial(batch_queue_run, **shape),
                }
                if batch == 1:
                    runs["ack"] = partial(ack_queue_run, **shape)
                rate = medians(args.rounds, runs)
                best_peer = max(("batch", "ack"), key=lambda p: rate.get(p, 0.0))
                ratio = rate["camguard"] / rate[best_peer]
                ack = f"{rate['ack']:>9,.0f}" if "ack" in rate else f"{'-':>9}"
                print(
                    f"{label:>6} {producers:>4} {batch:>5} {rate['camguard']:>9,.0f} {ack} "
                    f"{rate['batch']:>11,.0f} {ratio:>5.1f}x"
                )
                rows.append((label, producers, batch, rate["camguard"], rate[best_peer], best_peer))
    ratios = [ours / peer for _, _, _, ours, peer, _ in rows]
    mean = statistics.geometric_mean(ratios)
    print(f"geometric mean ratio (against the faster peer): {mean:.1f}x")
    for label, producers, batch, ours, peer, name in rows:
        met = "met" if ours / peer >= 5 else "NOT met"
        queue = "SQLiteAckQueue" if name == "ack" else "SQLiteQueue(auto_commit=False)"
        row = f"{label.replace('KiB', ' KiB').lstrip()}, {producers} prod., batch {batch}"
        print(
            f"LFL| spool {row}, items/s | {ours:,.0f} | fsync ALWAYS, ack per batch "
            f"| {peer:,.0f} | persist-queue {PQ_VERSION} {queue}, synchronous=FULL, "
            f"commit per batch | {ours / peer:.1f}x | >= 5x: {met} |"
        )


if __name__ == "__main__":
    main()
