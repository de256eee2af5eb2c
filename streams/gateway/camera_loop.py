"""One camera's loop: read a frame, encode JPEG, queue a Frame (and a FRAME_OK event), pace.

FRAME_OK events are off by default: a camguard worker counts the frames it processes into the
camera's health itself, so a FRAME_OK per frame would count every frame twice. Turn them on
(``frame_events``) where frames are consumed by something else and the events are the only
health signal.

Reading and JPEG coding run in an executor. A source that cannot be opened or read yields an
ERROR event (and DISCONNECTED once it had been connected) and is retried with exponential
backoff; a reopened source yields CONNECTED. Frames are queued through the
:class:`~streams.spool.producer.ResilientProducer`, so a broker outage only fills the spool.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from streams.codec import AvroCodec
from streams.contract import EVENTS, FRAMES
from streams.contract.records import EventKind
from streams.gateway.camera_records import (
    EVENT_PRIORITY,
    FRAME_PRIORITY,
    event_record,
    frame_record,
)
from streams.gateway.exceptions import SourceError
from streams.gateway.frame_sources import FrameSource, Image, encode_jpeg, open_source
from streams.spool.exceptions import SpoolError
from streams.spool.producer import ResilientProducer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSpec:
    """What to read for one camera and how fast."""

    camera_id: str
    source: str
    fps: float = 5.0
    org_id: str | None = None
    site_id: str | None = None
    width: int = 640
    height: int = 360
    seed: int = 0
    frame_events: bool = False
    """Also send a FRAME_OK event (capture latency) per frame; see the module docstring."""


@dataclass
class CameraStatus:
    """Counters of one camera (read by /queue/stats and /metrics)."""

    camera_id: str
    source: str
    connected: bool = False
    frames_captured: int = 0
    frames_queued: int = 0
    frames_refused: int = 0
    errors: int = 0
    last_seq: int = 0
    fps: float = 0.0
    last_error: str | None = None
    _window: list[float] = field(default_factory=list, repr=False)

    def tick(self, now: float) -> None:
        """Record a captured frame at monotonic ``now`` and update the measured fps."""
        self._window.append(now)
        del self._window[:-20]
        span = self._window[-1] - self._window[0]
        self.fps = (len(self._window) - 1) / span if span > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass(frozen=True)
class CameraOptions:
    jpeg_quality: int = 80
    max_backoff_s: float = 30.0
    max_frames: int | None = None
    """Stop after this many frames (tests, benchmarks); None runs until stopped."""


class CameraWorker:
    """Runs one camera until ``stop`` is set (or ``max_frames`` were captured)."""

    def __init__(
        self,
        spec: CameraSpec,
        producer: ResilientProducer,
        codec: AvroCodec,
        executor: Executor,
        options: CameraOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.spec = spec
        self.producer = producer
        self.codec = codec
        self.executor = executor
        self.options = options or CameraOptions()
        self.status = CameraStatus(spec.camera_id, spec.source)
        self._clock = clock
        self._new_id = new_id

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    async def emit(
        self,
        kind: EventKind,
        *,
        latency_ms: float | None = None,
        error: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Queue a CameraEvent for this camera (events go before frames)."""
        record = event_record(
            event_id=self._new_id(),
            camera_id=self.spec.camera_id,
            kind=kind,
            occurred_ms=self._now_ms(),
            org_id=self.spec.org_id,
            latency_ms=latency_ms,
            error=error,
            attributes=attributes,
        )
        value = self.codec.encode("CameraEvent", record)
        try:
            await self.producer.send(
                EVENTS, value, key=self.spec.camera_id, priority=EVENT_PRIORITY
            )
        except SpoolError as exc:  # full (raise mode) or closed: the event is lost, say so
            log.warning("camera %s: %s event not queued: %s", self.spec.camera_id, kind, exc)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        source: FrameSource | None = None
        failures = 0
        period = 1.0 / self.spec.fps if self.spec.fps > 0 else 0.0
        due = loop.time()
        try:
            while not stop.is_set() and not self._enough():
                if source is None:
                    source = await self._open(failures)
                    if source is None:
                        failures += 1
                        await _sleep(stop, min(self.options.max_backoff_s, 2.0 ** min(failures, 8)))
                        continue
                frame = await loop.run_in_executor(self.executor, source.read)
                if frame is None:
                    failures += 1
                    await self._lost(source, "frame read failed")
                    source = None
                    continue
                failures = 0
                await self._handle(frame)
                due += period
                delay = due - loop.time()
                if delay > 0:
                    await _sleep(stop, delay)
                else:
                    due = loop.time()
        finally:
            if source is not None:
                await loop.run_in_executor(self.executor, source.close)

    def _enough(self) -> bool:
        limit = self.options.max_frames
        return limit is not None and self.status.frames_captured >= limit

    async def _open(self, failures: int) -> FrameSource | None:
        spec = self.spec
        try:
            source = await asyncio.get_running_loop().run_in_executor(
                self.executor,
                lambda: open_source(
                    spec.source, width=spec.width, height=spec.height, seed=spec.seed
                ),
            )
        except SourceError as exc:
            self._error(str(exc))
            await self.emit(
                EventKind.ERROR, error=str(exc), attributes={"attempt": str(failures + 1)}
            )
            return None
        self.status.connected = True
        await self.emit(EventKind.CONNECTED, attributes={"source": spec.source})
        return source

    async def _lost(self, source: FrameSource, reason: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, source.close)
        self._error(reason)
        self.status.connected = False
        await self.emit(EventKind.ERROR, error=reason)
        await self.emit(EventKind.DISCONNECTED, error=reason)

    def _error(self, message: str) -> None:
        self.status.errors += 1
        self.status.last_error = message
        log.warning("camera %s: %s", self.spec.camera_id, message)

    async def _handle(self, frame: Image) -> None:
        loop = asyncio.get_running_loop()
        captured_ms = self._now_ms()
        started = loop.time()
        self.status.frames_captured += 1
        self.status.tick(started)
        try:
            jpeg = await loop.run_in_executor(
                self.executor, encode_jpeg, frame, self.options.jpeg_quality
            )
        except SourceError as exc:
            self._error(str(exc))
            await self.emit(EventKind.FRAME_ERROR, error=str(exc))
            return
        seq = self.status.last_seq + 1
        height, width = frame.shape[:2]
        record = frame_record(
            camera_id=self.spec.camera_id,
            seq=seq,
            captured_ms=captured_ms,
            data=jpeg,
            width=int(width),
            height=int(height),
            org_id=self.spec.org_id,
            site_id=self.spec.site_id,
        )
        value = self.codec.encode("Frame", record)
        self.status.last_seq = seq
        try:
            queued = await self.producer.send(
                FRAMES, value, key=self.spec.camera_id, priority=FRAME_PRIORITY
            )
        except SpoolError as exc:
            self._error(f"frame {seq} not queued: {exc}")
            queued = False
        if queued:
            self.status.frames_queued += 1
        else:
            self.status.frames_refused += 1
        latency_ms = (loop.time() - started) * 1000.0
        if self.spec.frame_events:
            await self.emit(EventKind.FRAME_OK, latency_ms=latency_ms, attributes={"seq": str(seq)})


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
