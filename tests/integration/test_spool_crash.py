"""SIGKILL a process that enqueues with fsync on, again and again; nothing durable is lost.

The child enqueues items (four at a time, so group commit is exercised), and prints ``E id``
for each once ``enqueue`` has returned, i.e. once the item is on disk and fsynced. Every few
rounds it takes a batch and acknowledges it: it prints ``D id ...`` before calling ``ack`` and
``A id ...`` once ``ack`` returned. The parent kills it at a different point each round, reopens
the spool and checks:

- every item printed as enqueued and not printed as acknowledged is still there, except the
  batch of an ``ack`` the kill interrupted (``D`` without its ``A``): that acknowledgement may or
  may not have reached the ack log, since it is written before ``ack`` returns;
- such an interrupted ``ack`` is applied to the whole batch or to none of it, and is then
  counted as acknowledged (gone) or not (still there) for the following rounds;
- no item printed as acknowledged comes back;
- nothing appears that was never enqueued, and the spool opens without quarantining anything.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.spool import FsyncPolicy, Persistence, QueueConfig, ResilienceQueue

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import asyncio, os, random, sys
from pathlib import Path
from streams.spool import FsyncPolicy, Persistence, QueueConfig, ResilienceQueue

def say(line):
    os.write(1, (line + "\n").encode())

async def main(spool, start):
    config = QueueConfig(spool_dir=Path(spool), persistence=Persistence.ALWAYS,
                         fsync=FsyncPolicy.ALWAYS, segment_bytes=1 << 20, max_queue_size=64)
    rng = random.Random(start)
    queue = ResilienceQueue("crash", config)
    await queue.open()
    n = start
    while True:
        ids = list(range(n, n + 4))
        n += 4
        sizes = [rng.choice((rng.randint(1, 3000), 65_536)) for _ in ids]
        await asyncio.gather(*(
            queue.enqueue(f"{i}:".encode() + b"x" * size, i % 3, key=b"cam")
            for i, size in zip(ids, sizes)))
        for i in ids:
            say(f"E {i}")
        if n % 16 == 0:
            batch = await queue.dequeue_batch(6)
            acking = " ".join(item.value.split(b":")[0].decode() for item in batch)
            say("D " + acking)
            await queue.ack(batch)
            say("A " + acking)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

CONFIG = {
    "persistence": Persistence.ALWAYS,
    "fsync": FsyncPolicy.ALWAYS,
    "segment_bytes": 1 << 20,
    "max_queue_size": 64,
}


def run_and_kill(spool: Path, start: int, lines_before_kill: int) -> list[str]:
    """Run the child until it printed ``lines_before_kill`` lines, SIGKILL it, return output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spool), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    buffer = b""
    deadline = time.monotonic() + 60
    with selectors.DefaultSelector() as sel:
        sel.register(child.stdout, selectors.EVENT_READ)
        while buffer.count(b"\n") < lines_before_kill:
            assert time.monotonic() < deadline, "child produced too little output"
            if sel.select(timeout=1.0):
                chunk = os.read(child.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err.decode()
    complete = (buffer + rest).rsplit(b"\n", 1)[0]  # a line cut by the kill is not a promise
    return complete.decode().splitlines()


async def reopen(spool: Path) -> tuple[set[int], tuple[str, ...]]:
    """The ids in the spool after a crash, and the quarantined segments."""
    config = QueueConfig(spool_dir=spool, **CONFIG)  # type: ignore[arg-type]
    async with ResilienceQueue("crash", config) as queue:
        quarantined = queue.stats().quarantined
        items = await queue.dequeue_batch(1_000_000)
        ids = [int(item.value.split(b":")[0]) for item in items]
        assert len(ids) == len(set(ids))
        await queue.nack(items)  # left for the next round
        return set(ids), quarantined


@pytest.mark.timeout(240)
def test_sigkill_never_loses_what_was_acknowledged_as_durable(tmp_path: Path) -> None:
    durable: set[int] = set()
    acked: set[int] = set()
    attempted: set[int] = set()
    for round_no in range(10):
        start = round_no * 1_000_000
        lines = run_and_kill(tmp_path, start, lines_before_kill=30 + 47 * round_no)
        in_doubt: set[int] = set()  # the batch of an ack the kill interrupted
        for line in lines:
            kind, *ids = line.split()
            numbers = {int(i) for i in ids}
            if kind == "E":
                durable |= numbers
            elif kind == "D":
                in_doubt = numbers
            else:
                acked |= numbers
                in_doubt = set()
        attempted.update(range(start, start + 4 * len(lines) + 64))
        present, quarantined = asyncio.run(reopen(tmp_path))
        assert quarantined == ()
        landed = not (in_doubt & present)
        assert landed or in_doubt <= present, "an interrupted ack was applied to part of its batch"
        if landed:
            acked |= in_doubt
        assert durable - acked <= present, "an item acknowledged as durable was lost"
        assert not (present & acked), "an acknowledged item came back"
        assert present <= attempted, "an item appeared that was never enqueued"
    assert len(durable) > 500
    assert acked
