"""The health timer: every ``health_publish_interval_s`` publish the cameras that changed.

For each camera of this worker's partitions whose health moved since it was last published (its
version, or online/offline after a silence), the timer sends a ``CameraHealth`` snapshot to the
compacted ``camera.health`` and offers it to the health store's publisher, which upserts the
``cameras`` rows in batches from its own task. A store that is down therefore never slows the
stream or the timer; the publisher keeps the newest snapshot per camera and retries.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents.breakers import camera_runtime
from streams.app import CamguardApp
from streams.resilience.health import HealthConfig
from streams.resilience.health_changes import HealthChanges
from streams.store.base import HealthStore
from streams.store.factory import store_from_settings
from streams.store.publisher import HealthPublisher, PublisherConfig

log = logging.getLogger(__name__)


@dataclass
class HealthTimer:
    """The store's publisher (None without a store) and what was published last."""

    publisher: HealthPublisher | None
    changes: HealthChanges = field(default_factory=HealthChanges)


async def publish_changed(cg: CamguardApp, timer: HealthTimer) -> int:
    """Send the changed cameras' snapshots to camera.health and the store; return how many."""
    runtime = camera_runtime(cg)

    def health_config(org_id: str | None, camera_id: str) -> HealthConfig:
        return runtime.configs.for_camera(org_id, camera_id).health

    changed = timer.changes.changed(runtime.tables.health_items(), health_config, runtime.clock())
    for _, snap in changed:
        value = cg.codec.encode("CameraHealth", snap.to_record())
        await cg.topics.health.send(key=snap.camera_id.encode(), value=value)
    taken = {snap.camera_id for _, snap in changed}
    if timer.publisher is not None:
        taken = timer.publisher.offer(snap for _, snap in changed)
        stats = timer.publisher.stats
        cg.gauge("health_store.pending", timer.publisher.pending)
        cg.gauge("health_store.published", stats.published)
        cg.gauge("health_store.failed_attempts", stats.failed_attempts)
        cg.gauge("health_store.rejected", stats.rejected)
    timer.changes.published_ones(changed, taken)  # one refused by a full buffer comes again
    cg.count("health.published", len(changed))
    return len(changed)


def install(cg: CamguardApp, store: HealthStore | None = None) -> HealthTimer:
    """Register the health timer (and the store publisher's task) on ``cg.app``.

    ``store`` defaults to the one in the settings (Postgres DSN, or Supabase URL + key).
    """
    settings = cg.settings
    store = store if store is not None else store_from_settings(settings)
    publisher = None
    if store is not None:
        config = PublisherConfig(
            batch_size=settings.store_batch_size,
            max_pending=settings.store_max_pending,
            backoff_max_s=settings.store_backoff_max_s,
        )
        publisher = HealthPublisher(store, config)
    timer = HealthTimer(publisher)

    # faust's decorators are untyped; typed aliases instead of an ignore per decorator
    add_timer: Callable[[Callable[[], Awaitable[None]]], object] = cg.app.timer(
        interval=settings.health_publish_interval_s, name="camguard.health"
    )
    add_task: Callable[[Callable[[], Awaitable[None]]], object] = cg.app.task
    on_shutdown: Callable[[Callable[..., Awaitable[None]]], object] = (
        cg.app.on_before_shutdown.connect
    )

    async def publish_camera_health() -> None:
        await publish_changed(cg, timer)

    add_timer(publish_camera_health)
    if publisher is not None:
        health_publisher = publisher

        async def start_health_publisher() -> None:
            health_publisher.start()

        async def stop_health_publisher(*args: Any, **kwargs: Any) -> None:
            await health_publisher.stop(flush_timeout_s=5.0)

        add_task(start_health_publisher)
        on_shutdown(stop_health_publisher)

    return timer
