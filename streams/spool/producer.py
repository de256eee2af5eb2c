"""ResilientProducer: Kafka delivery through a ResilienceQueue, guarded by a circuit breaker.

::

    producer = ResilientProducer(queue, KafkaSink(settings.bootstrap_servers))
    await producer.start()
    await producer.send("camera.frames", frame_bytes, key="cam-1")
    ...
    await producer.stop()        # drains what it can, then spills the rest to disk

``send`` only queues. One drain task takes a batch, hands it to the sink and waits for every
delivery before taking the next, so records of one key leave in queue order and a nack puts a
batch back ahead of newer items. When a batch is not delivered within ``send_timeout_s`` (the
broker went away; the idempotent client keeps retrying it), or the client fails, the queue is
marked sink-down: memory is spilled to disk and new items go to disk until a delivery succeeds
again, then the backlog drains in batches. A :class:`CircuitBreaker` guards connecting and
sending; while it is open nothing is attempted and the queue keeps spooling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.contract.gateway_http import GatewayProducerStats
from streams.resilience.breaker import CircuitBreakerConfig, State
from streams.resilience.circuit import CircuitBreaker
from streams.spool.queue import QueueItem, ResilienceQueue
from streams.spool.sink import (
    OutboundRecord,
    RecordSink,
    SinkUnavailableError,
    pack_envelope,
    unpack_envelope,
)

log = logging.getLogger(__name__)


def default_breaker_config() -> CircuitBreakerConfig:
    """Fast probing: a gateway should notice a returning broker within seconds."""
    return CircuitBreakerConfig(
        failure_threshold=3,
        recovery_timeout_s=1.0,
        max_recovery_timeout_s=10.0,
        success_threshold=1,
        jitter_ratio=0.5,
        probe_timeout_s=60.0,
    )


@dataclass(frozen=True)
class ProducerConfig:
    send_timeout_s: float = 3.0
    """A batch undelivered this long marks the sink down (the queue spills to disk)."""
    idle_wait_s: float = 0.5
    """How long the drain task waits for items before sweeping expired ones."""
    stop_timeout_s: float = 10.0
    """How long :meth:`ResilientProducer.stop` keeps delivering before spilling the rest."""
    breaker: CircuitBreakerConfig = field(default_factory=default_breaker_config)


# The /queue/stats producer section, defined once in the contract (fields and their meaning)
ProducerStats = GatewayProducerStats


@dataclass
class _Outcome:
    delivered: list[QueueItem] = field(default_factory=list)
    retry: list[QueueItem] = field(default_factory=list)
    rejected: list[QueueItem] = field(default_factory=list)
    error: BaseException | None = None


class ResilientProducer:
    """Queue first, deliver in order per key, spill while the sink is down."""

    def __init__(
        self,
        queue: ResilienceQueue,
        sink: RecordSink,
        config: ProducerConfig | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.sink = sink
        self.config = config or ProducerConfig()
        self.breaker = breaker or CircuitBreaker(
            f"sink:{queue.name}", self.config.breaker, clock=clock
        )
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._stopping = False
        self._stop_deadline = float("inf")
        self._counts = {"delivered": 0, "batches": 0, "retried": 0, "rejected": 0, "outages": 0}
        self._last_error: str | None = None
        self._last_delivery_ms: float | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.queue.open()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout_s: float | None = None) -> None:
        """Deliver what the sink takes within ``timeout_s``, then close (the rest is spilled)."""
        wait = self.config.stop_timeout_s if timeout_s is None else timeout_s
        self._stopping = True
        self._stop_deadline = self._clock() + wait
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), wait + 1.0)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._connected:
            self._connected = False
            try:
                await asyncio.wait_for(self.sink.stop(), max(wait, 1.0))
            except (TimeoutError, SinkUnavailableError) as exc:
                log.warning("sink did not stop cleanly: %s", exc)
        await self.queue.close()

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | str | None = None,
        priority: int = 1,
        ttl_s: float | None = None,
    ) -> bool:
        """Queue ``value`` for ``topic``; see :meth:`ResilienceQueue.enqueue` for the result."""
        raw_key = key.encode() if isinstance(key, str) else key
        return await self.queue.enqueue(
            pack_envelope(topic, value), priority, key=raw_key, ttl_s=ttl_s
        )

    def stats(self) -> ProducerStats:
        return ProducerStats(
            sink_connected=self._connected,
            breaker_state=str(self.breaker.state.value),
            delivered_total=self._counts["delivered"],
            batches_total=self._counts["batches"],
            retried_total=self._counts["retried"],
            rejected_total=self._counts["rejected"],
            outages_total=self._counts["outages"],
            last_error=self._last_error,
            last_delivery_ms=self._last_delivery_ms,
        )

    # --- the drain task ----------------------------------------------------------------------

    def _done(self) -> bool:
        return self._stopping and (len(self.queue) == 0 or self._clock() >= self._stop_deadline)

    async def _run(self) -> None:
        while not self._done():
            if not self._connected and not await self._connect():
                continue
            batch = await self.queue.dequeue_batch(wait_s=self.config.idle_wait_s)
            if not batch:
                await self.queue.expire()
                continue
            if not self.breaker.can_execute():
                await self.queue.nack(batch)
                await self._pause()
                continue
            await self._settle(await self._deliver(batch))

    async def _connect(self) -> bool:
        if not self.breaker.can_execute():
            await self._pause()
            return False
        try:
            await asyncio.wait_for(self.sink.start(), self.config.send_timeout_s * 3)
        except (SinkUnavailableError, TimeoutError) as exc:
            await self._failed(exc)
            await self._pause()
            return False
        self._connected = True
        self.breaker.record_success()
        log.info("sink for queue %s connected", self.queue.name)
        return True

    async def _pause(self) -> None:
        """Wait until the breaker lets a call through (or stop is due), sweeping expiry."""
        await self.queue.expire()
        delay = self.breaker.retry_after or self.config.idle_wait_s
        until_stop = max(self._stop_deadline - self._clock(), 0.0)
        delay = min(delay, self.config.idle_wait_s * 4, until_stop)
        await asyncio.sleep(max(delay, 0.01))

    async def _deliver(self, batch: list[QueueItem]) -> _Outcome:
        outcome = _Outcome()
        handed: list[tuple[QueueItem, asyncio.Future[object]]] = []
        started = self._clock()
        for index, item in enumerate(batch):
            topic, value = unpack_envelope(item.value)
            record = OutboundRecord(topic, item.key, value, item.enqueued_ms)
            try:
                delivery = await asyncio.wait_for(
                    self.sink.send(record), self.config.send_timeout_s
                )
            except (SinkUnavailableError, TimeoutError) as exc:
                outcome.retry.extend(batch[index:])  # never handed over: safe to send again
                outcome.error = exc
                break
            except Exception as exc:
                if getattr(exc, "retriable", False):
                    outcome.retry.extend(batch[index:])
                    outcome.error = exc
                    break
                outcome.rejected.append(item)
                outcome.error = exc
                continue
            handed.append((item, asyncio.ensure_future(delivery)))
        await self._await_deliveries([fut for _, fut in handed])
        for item, fut in handed:
            error = fut.exception() if not fut.cancelled() else SinkUnavailableError("cancelled")
            if error is None:
                outcome.delivered.append(item)
            elif getattr(error, "retriable", False) or fut.cancelled():
                outcome.retry.append(item)
                outcome.error = error
            else:
                outcome.rejected.append(item)
                outcome.error = error
        if outcome.delivered:
            self._last_delivery_ms = (self._clock() - started) * 1000.0
        return outcome

    async def _await_deliveries(self, futures: list[asyncio.Future[object]]) -> None:
        if not futures:
            return
        _, pending = await asyncio.wait(futures, timeout=self.config.send_timeout_s)
        if pending:
            await self._failed(TimeoutError(f"delivery slower than {self.config.send_timeout_s}s"))
        while pending:
            if self._stopping and self._clock() >= self._stop_deadline:
                for fut in pending:
                    fut.cancel()
                await asyncio.wait(pending)
                return
            _, pending = await asyncio.wait(pending, timeout=self.config.idle_wait_s)

    async def _settle(self, outcome: _Outcome) -> None:
        if outcome.delivered:
            await self.queue.ack(outcome.delivered)
        if outcome.rejected:
            log.error("sink rejected %d records: %s", len(outcome.rejected), outcome.error)
            await self.queue.drop(outcome.rejected, "sink_rejected")
        if outcome.retry:
            await self.queue.nack(outcome.retry)
        self._counts["delivered"] += len(outcome.delivered)
        self._counts["rejected"] += len(outcome.rejected)
        self._counts["retried"] += len(outcome.retry)
        self._counts["batches"] += 1
        if outcome.retry:
            await self._failed(outcome.error or SinkUnavailableError("delivery failed"))
        elif outcome.delivered:
            self.breaker.record_success(self._last_delivery_ms)
            if not self.queue.sink_up:
                log.info("sink for queue %s is back; draining the spool", self.queue.name)
                self.queue.mark_sink_up()

    async def _failed(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        self.breaker.record_failure(type(exc).__name__)
        if getattr(exc, "restart", False) and self._connected:
            self._connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sink.stop(), self.config.send_timeout_s)
        if self.queue.sink_up:
            self._counts["outages"] += 1
            spilled = await self.queue.mark_sink_down()
            log.warning(
                "sink for queue %s is unavailable (%s); spilled %d items to disk",
                self.queue.name,
                self._last_error,
                spilled,
            )

    @property
    def breaker_open(self) -> bool:
        return self.breaker.state is not State.CLOSED
