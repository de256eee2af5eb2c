"""Where a :class:`~streams.policy.manager.PolicyManager` gets its records from.

A source feeds ``(key, value)`` messages of service.policies into ``apply`` (value ``None`` is
a tombstone) and sets ``ready`` once it has delivered everything that existed when it started.
In workers the Faust GlobalTable feeds the manager directly (streams/policy/table.py), unless
the topic was unreadable at start (then :class:`RetryingSource` over a
:class:`~streams.policy.topic.KafkaPolicySource`, see agents/worker.py); a standalone
process uses the KafkaPolicySource; tests use the in-memory :class:`MemoryPolicySource`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

Apply = Callable[[bytes | str | None, bytes | None], object]
RETRY_S = 5.0
"""Pause before a reader of service.policies that failed starts again."""


async def retrying(
    attempt: Callable[[], Awaitable[None]],
    on_error: Callable[[Exception], object],
    errors: tuple[type[Exception], ...] = (Exception,),
    retry_s: float = RETRY_S,
) -> None:
    """Await ``attempt()`` until it returns; after each exception of ``errors``, call
    ``on_error`` and start it again ``retry_s`` later (anything else propagates)."""
    while True:
        try:
            await attempt()
            return
        except errors as exc:
            on_error(exc)
        await asyncio.sleep(retry_s)


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


class RetryingSource:
    """``inner``, started again ``retry_s`` after any error (each run re-reads the topic from
    its start; the manager applies a row it holds as a duplicate). ``last_error`` says why the
    last failed run ended."""

    def __init__(self, inner: PolicySource, retry_s: float = RETRY_S) -> None:
        self.inner = inner
        self.retry_s = retry_s
        self.last_error: str | None = None
        self.attempts = 0

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        async def attempt() -> None:
            self.attempts += 1
            await self.inner.run(apply, ready)

        def failed(exc: Exception) -> None:  # the broker's refusal, a timeout: never give up
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "policy source failed (attempt %d, %s); retrying in %.0f s",
                self.attempts,
                self.last_error,
                self.retry_s,
            )

        await retrying(attempt, failed, retry_s=self.retry_s)
