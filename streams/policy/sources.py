"""Where a :class:`~streams.policy.manager.PolicyManager` gets its records from.

A source feeds ``(key, value)`` messages of service.policies into ``apply`` (value ``None`` is
a tombstone) and sets ``ready`` once it has delivered everything that existed when it started.
In workers the Faust GlobalTable feeds the manager directly (streams/policy/table.py); a
standalone process uses :class:`~streams.policy.kafka_io.KafkaPolicySource`; tests use the
in-memory :class:`MemoryPolicySource`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

Apply = Callable[[bytes | str | None, bytes | None], object]


class PolicySource(Protocol):
    """A feed of service.policies messages."""

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        """Deliver messages until cancelled; set ``ready`` after the initial backlog."""
        ...


class MemoryPolicySource:
    """An in-memory topic: messages published before ``run`` form the initial backlog."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[bytes | str | None, bytes | None]] = asyncio.Queue()

    def publish(self, key: bytes | str | None, value: bytes | None) -> None:
        self._queue.put_nowait((key, value))

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        while not self._queue.empty():
            apply(*self._queue.get_nowait())
        ready.set()
        while True:
            key, value = await self._queue.get()
            apply(key, value)
