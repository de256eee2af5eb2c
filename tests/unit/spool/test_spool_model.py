"""Random operation sequences against a reference model of the queue's promises.

The model is the specification: dequeue hands out the most urgent, oldest pending items that
have not expired; nack puts items back; ack settles them. The real queue spills to disk when
memory is small, and must still agree with the model item for item.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.spool import QueueConfig, QueueItem, ResilienceQueue
from tests.support.clock import FakeClock

Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["enqueue", "enqueue", "dequeue", "ack", "nack", "tick", "sink"]),
        st.integers(0, 2),
        st.integers(1, 5),
    ),
    max_size=60,
)


@dataclass
class Model:
    now: float = 0.0
    seq: int = 0
    pending: list[tuple[int, int, float, bytes]] = field(default_factory=list)
    in_flight: dict[bytes, tuple[int, int, float, bytes]] = field(default_factory=dict)

    def enqueue(self, priority: int, ttl: float) -> bytes:
        self.seq += 1
        value = f"v{self.seq}".encode()
        self.pending.append((priority, self.seq, self.now + ttl, value))
        return value

    def dequeue(self, n: int) -> list[bytes]:
        self.pending.sort()
        live = [p for p in self.pending if p[2] > self.now]
        taken, self.pending = live[:n], live[n:]
        for item in taken:
            self.in_flight[item[3]] = item
        return [t[3] for t in taken]

    def settle(self, values: list[bytes], back: bool) -> None:
        for value in values:
            item = self.in_flight.pop(value)
            if back:
                self.pending.append(item)


async def run(operations: list[Op], spool: Path | None) -> None:
    clock = FakeClock(0.0)
    size = 3 if spool is not None else 1000  # with a spool, most items go to disk
    queue = ResilienceQueue("m", QueueConfig(max_queue_size=size, spool_dir=spool), clock=clock)
    model = Model()
    held: list[QueueItem] = []
    async with queue:
        for name, priority, amount in operations:
            if name == "enqueue":
                value = model.enqueue(priority, ttl=amount)
                await queue.enqueue(value, priority, ttl_s=amount)
            elif name == "dequeue":
                got = await queue.dequeue_batch(amount)
                assert [i.value for i in got] == model.dequeue(amount)
                held.extend(got)
            elif name in ("ack", "nack"):
                chosen, held = held[:amount], held[amount:]
                await (queue.ack(chosen) if name == "ack" else queue.nack(chosen))
                model.settle([i.value for i in chosen], back=name == "nack")
            elif name == "tick":
                clock.advance(amount / 2)
                model.now = clock.now
            elif spool is not None:
                await (queue.mark_sink_down() if priority else _up(queue))
            stats = queue.stats()
            assert stats.in_flight == len(model.in_flight)
        assert [i.value for i in await queue.dequeue_batch(1000)] == model.dequeue(1000)


async def _up(queue: ResilienceQueue) -> None:
    queue.mark_sink_up()


@settings(max_examples=60, deadline=None)
@given(ops)
def test_memory_queue_matches_the_model(operations: list[Op]) -> None:
    asyncio.run(run(operations, None))


@settings(max_examples=60, deadline=None)
@given(ops)
def test_spilling_queue_matches_the_model(operations: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(operations, Path(tmp)))
