"""``CameraHealthMonitor`` of the specification, over camguard's health publisher.

::

    monitor = CameraHealthMonitor(supabase_client)
    monitor.update_camera_stats("cam_1", {"frames_processed": 100, "avg_latency_ms": 45,
                                          "errors_count": 0})
    await monitor.start_monitoring()     # publishes now, then every 30 s; returns at once
    await monitor.stop_monitoring()      # publishes the latest stats once more, then stops

Each camera's stats (merged over calls; the keys of ``CameraHealth``: ``frames_processed``,
``errors_count``, ``avg_latency_ms``, and optionally ``p95_latency_ms``, ``fps``,
``circuit_breaker_state``, ``org_id``) become a :class:`~streams.resilience.health.HealthSnapshot`
that is offered to a :class:`~streams.store.publisher.HealthPublisher` (coalescing, retrying
with backoff, never blocking the caller). A camera is online while its stats were updated
within ``CAMGUARD_OFFLINE_AFTER_S``. Where they go:

- a broker is configured (``CAMGUARD_BROKER`` set, or a ``sink`` given): ``CameraHealth``
  records on camguard's compacted ``camera.health`` topic, keyed by camera_id;
- otherwise, with a Supabase client: camguard's Supabase health store, which writes the
  ``cameras`` rows of the client's project (its ``supabase_url`` and ``supabase_key``; the
  requests are made by camguard's async client, so a sync client never blocks the event loop);
- otherwise the health store of the settings (Postgres DSN, Supabase URL), if any.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from streams.codec import AvroCodec
from streams.contract import HEALTH
from streams.resilience.breaker import State
from streams.resilience.health import HealthSnapshot
from streams.settings import Settings
from streams.spool.kafka import KafkaSink
from streams.spool.sink import OutboundRecord, RecordSink, SinkUnavailableError
from streams.store.base import CameraUpdate, HealthStore, latest_per_camera
from streams.store.factory import StoreConfigError, store_from_settings
from streams.store.publisher import HealthPublisher, PublisherConfig

try:
    from streams.store.supabase import SupabaseHealthStore
except ImportError:  # pragma: no cover - supabase-py is the camguard[supabase] extra
    SupabaseHealthStore = None  # type: ignore[assignment,misc]


HEALTH_TOPIC = HEALTH
"""``camera.health``, from streams/contract/ (a web service imports no Faust)."""


class SupabaseClientLike(Protocol):
    """What camguard uses of a supabase-py client (sync or async): its project and key."""

    @property
    def supabase_url(self) -> object: ...
    @property
    def supabase_key(self) -> object: ...


def supabase_project(client: SupabaseClientLike) -> tuple[str, str]:
    """The client's project URL and API key (camguard's own async adapters make the calls)."""
    return str(client.supabase_url), str(client.supabase_key)


class TopicHealthStore:
    """A :class:`~streams.store.base.HealthStore` that sends ``CameraHealth`` to camera.health."""

    def __init__(
        self, sink: RecordSink, codec: AvroCodec | None = None, *, send_timeout_s: float = 10.0
    ) -> None:
        self.sink = sink
        self.codec = codec or AvroCodec()
        self.send_timeout_s = send_timeout_s
        self._started = False

    async def update_cameras(self, snapshots: Sequence[HealthSnapshot]) -> CameraUpdate:
        latest = latest_per_camera(snapshots)
        if not self._started:
            await self.sink.start()
            self._started = True
        try:
            async with asyncio.timeout(self.send_timeout_s):
                deliveries = [await self.sink.send(self._record(snap)) for snap in latest]
                await asyncio.gather(*deliveries)
        except TimeoutError:
            raise SinkUnavailableError(
                f"{HEALTH_TOPIC} not acknowledged within {self.send_timeout_s}s"
            ) from None
        return CameraUpdate(updated=tuple(snap.camera_id for snap in latest))

    def _record(self, snap: HealthSnapshot) -> OutboundRecord:
        value = self.codec.encode("CameraHealth", snap.to_record())
        return OutboundRecord(
            HEALTH_TOPIC, snap.camera_id.encode(), value, round(snap.observed_at * 1000)
        )

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self.sink.stop()


def health_store(
    client: SupabaseClientLike | None, settings: Settings, sink: RecordSink | None = None
) -> HealthStore | None:
    """Where the monitor publishes: camera.health with a broker, else the client's Supabase
    project, else the settings' store (None: nowhere, stats are only kept)."""
    if sink is None and "broker" in settings.model_fields_set:
        sink = KafkaSink.from_settings(settings, client_id=f"{settings.app_id}-health")
    if sink is not None:
        return TopicHealthStore(sink)
    if client is None:
        return store_from_settings(settings)
    if SupabaseHealthStore is None:  # pragma: no cover - the extra is installed in dev and CI
        raise StoreConfigError("a Supabase client needs supabase-py: camguard[supabase]")
    return SupabaseHealthStore(*supabase_project(client))


def snapshot_from_stats(camera_id: str, stats: Mapping[str, Any], seen_at: float) -> HealthSnapshot:
    """The ``CameraHealth`` fields of the specification's stats dict (TypeError/ValueError when
    a value has the wrong type)."""
    avg = float(stats.get("avg_latency_ms", 0.0))
    org_id = stats.get("org_id")
    return HealthSnapshot(
        camera_id=camera_id,
        org_id=None if org_id is None else str(org_id),
        online=True,
        last_seen=seen_at,
        frames_processed=int(stats.get("frames_processed", 0)),
        errors_count=int(stats.get("errors_count", 0)),
        avg_latency_ms=avg,
        p95_latency_ms=float(stats.get("p95_latency_ms", avg)),
        fps=float(stats.get("fps", 0.0)),
        circuit_breaker_state=State(str(stats.get("circuit_breaker_state", "closed")).upper()),
        observed_at=seen_at,
    )


class CameraHealthMonitor:
    """Per-camera stats published every ``interval_s`` (``CAMGUARD_HEALTH_PUBLISH_INTERVAL_S``,
    30 s by default) through :func:`health_store`."""

    def __init__(
        self,
        supabase_client: SupabaseClientLike | None = None,
        *,
        settings: Settings | None = None,
        sink: RecordSink | None = None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = settings or Settings()
        self.interval_s = interval_s or settings.health_publish_interval_s
        self.offline_after_s = settings.offline_after_s
        self.store = health_store(supabase_client, settings, sink)
        self.publisher = (
            None
            if self.store is None
            else HealthPublisher(
                self.store,
                PublisherConfig(
                    batch_size=settings.store_batch_size,
                    max_pending=settings.store_max_pending,
                    backoff_max_s=settings.store_backoff_max_s,
                ),
            )
        )
        self._clock = clock
        self._stats: dict[str, dict[str, Any]] = {}
        self._snapshots: dict[str, HealthSnapshot] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def camera_stats(self) -> Mapping[str, Mapping[str, Any]]:
        """The stats held per camera (merged over :meth:`update_camera_stats` calls)."""
        return {camera_id: dict(stats) for camera_id, stats in self._stats.items()}

    def update_camera_stats(self, camera_id: str, stats: Mapping[str, Any]) -> None:
        """Merge ``stats`` into the camera's; published at the next tick."""
        merged = {**self._stats.get(camera_id, {}), **stats}
        self._snapshots[camera_id] = snapshot_from_stats(camera_id, merged, self._clock())
        self._stats[camera_id] = merged

    def snapshots(self) -> list[HealthSnapshot]:
        """Every camera's health now (offline when not updated for ``offline_after_s``)."""
        now = self._clock()
        return [
            replace(
                snap,
                online=snap.last_seen is not None and now - snap.last_seen < self.offline_after_s,
                observed_at=now,
            )
            for snap in self._snapshots.values()
        ]

    def publish(self) -> None:
        """Offer every camera's health to the publisher now (it writes in the background)."""
        if self.publisher is not None:
            self.publisher.offer(self.snapshots())

    async def start_monitoring(self) -> None:
        """Start publishing every ``interval_s`` (the first time now); returns at once."""
        if self._task is not None:
            return
        if self.publisher is not None:
            self.publisher.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="health-monitor")

    async def stop_monitoring(self, flush_timeout_s: float = 5.0) -> None:
        """Stop the loop; publish the latest stats once more (up to ``flush_timeout_s``)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.publisher is not None:
            self.publish()
            await self.publisher.stop(flush_timeout_s)

    async def _run(self) -> None:
        while True:
            self.publish()
            await asyncio.sleep(self.interval_s)
