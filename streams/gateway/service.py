"""The gateway: cameras -> ResilientProducer (memory + disk spool) -> Kafka, plus its web port.

::

    gateway = Gateway(settings, GatewayConfig(cameras=(CameraSpec("cam-1", "synthetic"),)))
    await gateway.run(stop_event)      # until stop_event is set (or every camera is done)

One process serves any number of cameras over one queue and one idempotent producer; frames
and events are keyed by camera_id, so each camera's records stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import web

from streams.codec import AvroCodec
from streams.contract.records import EventKind
from streams.gateway.camera_loop import CameraOptions, CameraSpec, CameraWorker
from streams.gateway.metrics import GatewaySnapshot
from streams.gateway.web import build_web_app
from streams.kafka_security import check_broker
from streams.settings import Settings
from streams.spool.cipher import SpoolCipher
from streams.spool.config import Backpressure, FsyncPolicy, QueueConfig
from streams.spool.kafka import KafkaSink
from streams.spool.producer import ProducerConfig, ResilientProducer
from streams.spool.queue import ResilienceQueue
from streams.spool.sink import RecordSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayConfig:
    cameras: tuple[CameraSpec, ...]
    heartbeat_interval_s: float = 5.0
    camera: CameraOptions = field(default_factory=CameraOptions)
    producer: ProducerConfig = field(default_factory=ProducerConfig)
    batch_size: int = 50
    queue_name: str | None = None
    port: int | None = None
    """Overrides ``Settings.gateway_port``; 0 picks a free port; None uses the setting."""
    serve_http: bool = True


def queue_name(camera_ids: Sequence[str]) -> str:
    """A spool name per camera set, so two gateways on one spool_dir never share a queue."""
    if len(camera_ids) == 1:
        cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", camera_ids[0])[:80]
        return f"gw-{cleaned}"
    digest = hashlib.sha256("\0".join(sorted(camera_ids)).encode()).hexdigest()[:12]
    return f"gw-{len(camera_ids)}cams-{digest}"


def queue_config(settings: Settings, batch_size: int) -> QueueConfig:
    """The gateway's queue: fresh frames matter most, so a full queue evicts the oldest."""
    return QueueConfig(
        max_queue_size=settings.spool_memory_items,
        max_queue_seconds=settings.spool_ttl_s,
        batch_size=batch_size,
        spool_dir=settings.spool_dir,
        max_disk_bytes=settings.spool_max_disk_bytes,
        fsync=FsyncPolicy(settings.spool_fsync),
        fsync_interval_ms=settings.spool_fsync_interval_ms,
        backpressure=Backpressure.DROP_OLDEST,
    )


class Gateway:
    """Cameras, their queue and producer, the heartbeat timer and the stats web server."""

    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        *,
        sink: RecordSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not config.cameras:
            raise ValueError("a gateway needs at least one camera")
        self.settings = settings
        self.config = config
        name = config.queue_name or queue_name([c.camera_id for c in config.cameras])
        key = settings.spool_key
        cipher = SpoolCipher.from_text(key.get_secret_value()) if key is not None else None
        self.queue = ResilienceQueue(
            name, queue_config(settings, config.batch_size), clock=clock, cipher=cipher
        )
        self.sink = sink or KafkaSink.from_settings(settings, client_id=f"camguard-{name}")
        self._check_broker = sink is None
        self.producer = ResilientProducer(self.queue, self.sink, config.producer)
        self.executor = ThreadPoolExecutor(
            max_workers=min(16, 2 + 2 * len(config.cameras)), thread_name_prefix="gateway"
        )
        codec = AvroCodec()
        self.cameras = [
            CameraWorker(spec, self.producer, codec, self.executor, config.camera, clock=clock)
            for spec in config.cameras
        ]
        self.port: int | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None

    def snapshot(self) -> GatewaySnapshot:
        return GatewaySnapshot(
            queue=self.queue.stats(),
            producer=self.producer.stats(),
            cameras={c.spec.camera_id: c.status for c in self.cameras},
        )

    async def start(self) -> None:
        """Start; raise :class:`KafkaSecurityError` when TLS or SASL cannot work (no retry will).

        A broker that is only unreachable is no reason to stop: frames spool until it is back.
        """
        if self._check_broker:
            check = await check_broker(self.settings)
            if not check.reachable:
                log.warning("Kafka not reachable at start (%s); spooling meanwhile", check.detail)
        await self.producer.start()
        if self.config.serve_http:
            await self._serve()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(camera.run(self._stop)) for camera in self.cameras]
        self._heartbeat = loop.create_task(self._beat())
        log.info(
            "gateway serving %d cameras; queue %s; stats on port %s",
            len(self.cameras),
            self.queue.name,
            self.port,
        )

    async def _serve(self) -> None:
        runner = web.AppRunner(build_web_app(self.snapshot), access_log=None)
        await runner.setup()
        port = self.config.port if self.config.port is not None else self.settings.gateway_port
        site = web.TCPSite(runner, self.settings.gateway_host, port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def cameras_done(self) -> None:
        """Wait until every camera loop has finished (``max_frames`` reached or stopped)."""
        await asyncio.gather(*self._tasks)

    async def stop(self, drain_timeout_s: float | None = None) -> None:
        """Stop cameras, deliver what the broker takes in time, spill the rest, close."""
        self._stop.set()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for camera, result in zip(self.cameras, results, strict=False):
            if isinstance(result, BaseException):
                log.error("camera %s stopped on %r", camera.spec.camera_id, result)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self.producer.stop(drain_timeout_s)
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.to_thread(self.executor.shutdown, wait=True)  # a read may still block

    async def run(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set or every camera finished, then stop."""
        await self.start()
        try:
            waiter = asyncio.ensure_future(stop.wait())
            cameras = asyncio.ensure_future(self.cameras_done())
            await asyncio.wait({waiter, cameras}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        finally:
            await self.stop()

    async def _beat(self) -> None:
        while not self._stop.is_set():
            queued = str(self.queue.stats().total_queued)
            for camera in self.cameras:
                status = camera.status
                await camera.emit(
                    EventKind.HEARTBEAT,
                    attributes={
                        "frames_captured": str(status.frames_captured),
                        "fps": f"{status.fps:.2f}",
                        "connected": str(status.connected).lower(),
                        "gateway_queued": queued,
                    },
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.heartbeat_interval_s)
