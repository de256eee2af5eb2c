"""Publishes health snapshots to a store without ever holding up the stream.

The stream side calls :meth:`HealthPublisher.offer`, which never blocks and never does I/O: it
puts the snapshot into a bounded buffer keyed by camera, where a newer snapshot replaces an older
one (the latest wins; a store that was down for minutes gets one row per camera, not the
backlog). A separate task takes batches from the buffer and writes them. A retriable failure
puts the batch back (unless newer snapshots arrived meanwhile) and waits with exponential
backoff, jittered between a tenth of the ceiling and all of it; a refused batch is counted
and dropped. Cameras the store does not know (no ``cameras`` row: the platform has not
registered them) are not retried: they are counted, and logged once each until they appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from streams.exceptions import CamguardError
from streams.resilience.health import HealthSnapshot
from streams.store.base import CameraUpdate, HealthStore

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class PublisherConfig:
    """Batching, buffering and retry of the health publisher."""

    batch_size: int = 500
    max_pending: int = 100_000
    """Cameras buffered at most; offers for further cameras are refused (and counted)."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_multiplier: float = 2.0


def backoff_delay(attempt: int, config: PublisherConfig, rng: random.Random) -> float:
    """Jittered delay before retry number ``attempt`` (1-based); never under a tenth."""
    ceiling = min(
        config.backoff_max_s, config.backoff_initial_s * config.backoff_multiplier ** (attempt - 1)
    )
    return rng.uniform(ceiling / 10, ceiling)


@dataclass
class PublisherStats:
    """What the publisher did so far (exposed on /metrics by the agent)."""

    published: int = 0
    batches: int = 0
    failed_attempts: int = 0
    consecutive_failures: int = 0
    rejected: int = 0
    dropped: int = 0
    superseded: int = 0
    stale: int = 0
    """Snapshots the store ignored because it holds a newer one for that camera."""
    unknown: int = 0
    """Snapshots of cameras without a ``cameras`` row (nothing written), all told."""
    unknown_cameras: int = 0
    """Distinct cameras unknown to the store at their last publish (at most ``max_pending``)."""
    last_error: str | None = None


class HealthPublisher:
    """A bounded, coalescing buffer in front of a :class:`HealthStore`."""

    def __init__(
        self,
        store: HealthStore,
        config: PublisherConfig | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.config = config or PublisherConfig()
        self.stats = PublisherStats()
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self._pending: dict[str, HealthSnapshot] = {}
        self._unknown: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def unknown_cameras(self) -> frozenset[str]:
        """Cameras the store had no row for at their last publish (at most ``max_pending``)."""
        return frozenset(self._unknown)

    @property
    def pending(self) -> int:
        """Cameras waiting to be written."""
        return len(self._pending)

    def offer(self, snapshots: Iterable[HealthSnapshot]) -> set[str]:
        """Buffer ``snapshots``; return the camera ids taken (the others: buffer full)."""
        taken: set[str] = set()
        for snap in snapshots:
            current = self._pending.get(snap.camera_id)
            if current is not None:
                self.stats.superseded += 1
                if snap.observed_at >= current.observed_at:
                    self._pending[snap.camera_id] = snap
            elif len(self._pending) >= self.config.max_pending:
                self.stats.dropped += 1
                continue
            else:
                self._pending[snap.camera_id] = snap
            taken.add(snap.camera_id)
        if self._pending:
            self._wake.set()
        return taken

    async def publish_once(self) -> float | None:
        """Write one batch. Return None when done, or the delay before retrying a failure."""
        batch = self._take()
        if not batch:
            return None
        try:
            outcome = await self.store.update_cameras(batch)
        except CamguardError as exc:
            self.stats.last_error = f"{exc.reason}: {exc}"
            if not exc.retriable:
                self.stats.rejected += len(batch)
                log.error("health store refused %d rows: %s", len(batch), exc)
                return None
            self._put_back(batch)
            self.stats.failed_attempts += 1
            self.stats.consecutive_failures += 1
            delay = backoff_delay(self.stats.consecutive_failures, self.config, self._rng)
            log.warning("health store unavailable (%s); retrying in %.1fs", exc, delay)
            return max(delay, float(getattr(exc, "retry_after", None) or 0.0))
        self._count(outcome)
        self.stats.batches += 1
        self.stats.consecutive_failures = 0
        return None

    def _count(self, outcome: CameraUpdate) -> None:
        self.stats.published += len(outcome.updated)
        self.stats.stale += len(outcome.stale)
        self.stats.unknown += len(outcome.unknown)
        known = self._unknown.intersection((*outcome.updated, *outcome.stale))
        if known:
            self._unknown -= known
            log.info("cameras now registered in the store: %s", _sample(known))
        new = [c for c in outcome.unknown if c not in self._unknown]
        room = max(self.config.max_pending - len(self._unknown), 0)
        self._unknown.update(new[:room])
        self.stats.unknown_cameras = len(self._unknown)
        if new:
            log.warning(
                "%d cameras have no row in the cameras table, health not written "
                "(register them on the platform): %s",
                len(new),
                _sample(new),
            )

    async def run(self) -> None:
        """Publish until cancelled."""
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            try:
                delay = await self.publish_once()
            except Exception:  # a bug in a store adapter must not end publishing for good
                log.exception("health store raised an unexpected error; retrying")
                delay = self.config.backoff_max_s
            if delay is not None:
                await self._sleep(delay)

    def start(self) -> None:
        """Run :meth:`run` as a background task of the current event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="health-publisher")

    async def stop(self, flush_timeout_s: float = 5.0) -> None:
        """Stop the background task, then try to write what is still pending once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout_s):
                while self._pending and await self.publish_once() is None:
                    pass
        await self.store.close()

    def _take(self) -> list[HealthSnapshot]:
        batch: list[HealthSnapshot] = []
        for camera_id in list(self._pending)[: self.config.batch_size]:
            batch.append(self._pending.pop(camera_id))
        return batch

    def _put_back(self, batch: list[HealthSnapshot]) -> None:
        for snap in batch:
            current = self._pending.get(snap.camera_id)
            if current is None or current.observed_at < snap.observed_at:
                self._pending[snap.camera_id] = snap


def _sample(ids: Iterable[str], limit: int = 10) -> str:
    """Up to ``limit`` ids for a log line, sorted, with how many more there were."""
    ordered = sorted(ids)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more
