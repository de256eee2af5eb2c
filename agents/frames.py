"""Frames agent: ``camera.frames`` -> blur faces and plates -> ``camera.frames.anonymized``.

Per batch (``stream.take_events`` with ``batch_max_frames`` / ``batch_window_s``, so frames of
different cameras share one inference batch):

1. decode each ``Frame`` (Avro); undecodable -> ``camguard.deadletter``;
2. ask the camera's breaker (agents/breakers.py); refusals are counted there with their reason,
   and every processed frame's outcome (ok, latency, error reason) is recorded back;
3. resolve the privacy config (:func:`privacy_for`);
4. decode JPEG/PNG, detect, blur, encode in the middleware's bounded pool (never on the loop);
5. produce ``AnonymizedFrame`` (boxes, counts, detector, latency, fail_closed, policy_version),
   or dead-letter frames that could not be anonymized and must not be published.

Wiring points: :func:`privacy_for` / :func:`privacy_from` and :func:`install`'s arguments.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from faust.types import EventT, StreamT
from faust.web import Request, Response, View
from pydantic import BaseModel, ValidationError

from agents import breakers
from streams import gctune
from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import (
    AnonymizeError,
    AnonymizeFailedError,
    PrivacyConfigError,
)
from streams.anonymize.middleware import AnonymizationMiddleware, config_from_settings
from streams.anonymize.pipeline import EncodedOutcome
from streams.anonymize.records import anonymized_record, is_published, job_from_frame
from streams.anonymize.runtime import apply_service_optimizations
from streams.anonymize.stats import LagMeter
from streams.app import CamguardApp
from streams.codec import CodecError
from streams.contract.worker_http import AnonymizerStats
from streams.deadletter import send_dead_letter
from streams.exceptions import CamguardError
from streams.lanes import commit_gate
from streams.resilience.camera import check_key
from streams.resilience.exceptions import InvalidEventError
from streams.resilience.tables import writing_for
from streams.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "agents.frames"
LAG_INTERVAL_S = 0.25

PrivacyLookup = Callable[[str | None, str], tuple[BlurConfig, int | None]]
# (camera_id, event) -> (allowed, reason); refusals are counted by the check itself
# (camera_id, org_id, event): the org picks the camera's resilience policy
BreakerCheck = Callable[[str, str | None, EventT[Any]], Awaitable[tuple[bool, str]]]
# (camera_id, org_id, ok, latency_ms, error reason, event)
OutcomeRecorder = Callable[
    [str, str | None, bool, float | None, str | None, EventT[Any]], Awaitable[None]
]


def privacy_for(
    org_id: str | None, camera_id: str, *, settings: Settings
) -> tuple[BlurConfig, int | None]:
    """The privacy config of a camera and the policy version to stamp on its frames.

    Settings defaults for now (version None). To use the policy pipeline, pass
    ``privacy=privacy_from(manager.effective_privacy)`` to :func:`install`.
    """
    return config_from_settings(settings), None


def privacy_from(
    effective_privacy: Callable[[str | None, str | None], tuple[BaseModel, int | None]],
) -> PrivacyLookup:
    """Adapt ``PolicyManager.effective_privacy`` (PrivacyPolicy, version) to the agent's lookup."""

    def lookup(org_id: str | None, camera_id: str) -> tuple[BlurConfig, int | None]:
        policy, version = effective_privacy(org_id, camera_id)
        try:
            return BlurConfig.model_validate(policy.model_dump()), version
        except ValidationError as exc:
            raise PrivacyConfigError(f"privacy policy v{version}: {exc}") from exc

    return lookup


@dataclass
class FramesProcessor:
    """One batch of frame events at a time; thin glue between Kafka and the middleware."""

    cg: CamguardApp
    middleware: AnonymizationMiddleware
    privacy: PrivacyLookup
    breaker: BreakerCheck
    record_outcome: OutcomeRecorder
    lag: LagMeter = field(default_factory=LagMeter)
    # The highest offset handled per (topic, partition) while this worker owns it. Faust seeks
    # a stream back to its committed offset after every rebalance (table recovery), and the
    # records between that offset and the last one read come through the stream again while
    # their first outputs sit in the open transaction: handled twice, they are published twice
    # in one commit (tests/integration/test_faults.py). A partition this worker keeps across a
    # rebalance keeps its transaction (faust stops only the producers of partitions it lost),
    # so its entry stays; a partition it loses forgets its entry, since its uncommitted
    # transaction is given up and whoever owns it next must handle those records again. The
    # entries used to be cleared on every revocation, which forgot the kept partitions too:
    # an early batch was then published twice in one transaction.
    handled: dict[tuple[str, int], int] = field(default_factory=dict)

    def keep_handled(self, assigned: Iterable[Any]) -> None:
        """After a rebalance: forget the partitions not in ``assigned`` (faust ``TP`` s)."""
        kept = {(tp.topic, tp.partition) for tp in assigned}
        lost = [where for where in self.handled if where not in kept]
        for where in lost:
            del self.handled[where]
        if lost:
            log.info("rebalance: handled offsets of %d lost partitions forgotten", len(lost))

    def _first_time(self, event: EventT[Any]) -> bool:
        message = event.message
        where = (message.topic, message.partition)
        last = self.handled.get(where)
        if last is not None and message.offset <= last:
            self.cg.count("frames.redelivered_skipped")
            return False
        self.handled[where] = message.offset
        return True

    async def handle(self, events: Sequence[EventT[Any]]) -> None:
        accepted: list[tuple[EventT[Any], dict[str, Any], BlurConfig, int | None]] = []
        for event in [e for e in events if self._first_time(e)]:
            with writing_for(event):  # what this frame writes and sends belongs to its event
                try:
                    frame = self.cg.codec.decode_as("Frame", event.message.value or b"")
                    camera_id = frame["camera_id"]
                    # breaker state is written to the key's partition: it must be the camera's
                    check_key(event.message.key, camera_id)
                except (CodecError, InvalidEventError) as exc:
                    await send_dead_letter(self.cg, event.message, exc, CONSUMER)
                    continue
                allowed, _ = await self.breaker(camera_id, frame.get("org_id"), event)
            if not allowed:
                continue
            accepted.append((event, frame, *self._privacy(frame.get("org_id"), camera_id)))
        if not accepted:
            return
        try:
            results = await self.middleware.process_encoded(
                [job_from_frame(frame, config) for _, frame, config, _ in accepted]
            )
        except Exception as exc:  # models missing, no provider, or a fault: withhold them all
            error = exc if isinstance(exc, AnonymizeError) else AnonymizeFailedError(repr(exc))
            log.error("anonymizer unavailable (%s): dead-lettering %d frames", exc, len(accepted))
            self.cg.count("frames.withheld", len(accepted))
            for event, *_ in accepted:
                with writing_for(event):
                    await send_dead_letter(self.cg, event.message, error, CONSUMER)
            return
        detector = self.middleware.stats()["detector"] or "unknown"
        for (event, frame, _, version), result in zip(accepted, results, strict=True):
            with writing_for(event):
                await self._publish(event, frame, version, result, detector)
        self.cg.gauge("frames.batch_size", float(len(accepted)))
        self.cg.gauge("frames.batch_latency_ms", results[0].latency_ms)

    async def _publish(
        self,
        event: EventT[Any],
        frame: dict[str, Any],
        version: int | None,
        result: EncodedOutcome,
        detector: str,
    ) -> None:
        """Record the outcome on the camera's breaker, then publish the frame or dead-letter it."""
        outcome = result.outcome
        error = outcome.error
        await self.record_outcome(
            frame["camera_id"],
            frame.get("org_id"),
            error is None,
            result.latency_ms,
            None if error is None else error.reason,
            event,
        )
        self.cg.count("frames.fail_closed", int(outcome.fail_closed))
        value: bytes | None = None
        if is_published(result):
            try:
                value = self.cg.codec.encode(
                    "AnonymizedFrame", anonymized_record(frame, result, detector, version)
                )
            except Exception as exc:  # never publish what we cannot describe
                error = AnonymizeFailedError(f"AnonymizedFrame: {exc}")
        if value is None:
            self.cg.count("frames.withheld")
            reason = error or AnonymizeFailedError("no anonymized image")
            await send_dead_letter(self.cg, event.message, reason, CONSUMER)
            return
        await self.cg.topics.anonymized.send(key=frame["camera_id"].encode("utf-8"), value=value)
        self.cg.count("frames.anonymized")
        self.cg.count("frames.faces", outcome.faces)
        self.cg.count("frames.plates", outcome.plates)

    def _privacy(self, org_id: str | None, camera_id: str) -> tuple[BlurConfig, int | None]:
        try:
            return self.privacy(org_id, camera_id)
        except Exception as exc:
            # No policy answer: blur everything the detectors know, and fail closed.
            log.warning("privacy lookup for %s failed (%s): blurring all kinds", camera_id, exc)
            reason = exc.reason if isinstance(exc, CamguardError) else type(exc).__name__
            self.cg.count(f"frames.privacy_lookup_failed.{reason}")
            return BlurConfig(), None

    def stats(self) -> AnonymizerStats:
        info = self.middleware.stats()
        return AnonymizerStats(
            detector=info.get("detector"),
            provider=info.get("provider"),
            models=info.get("models", {}),
            batch_size=info.get("batch_size", {}),
            batch_latency_ms=info.get("batch_latency_ms", {}),
            detection_max_side=info.get("detection_max_side"),
            pool_size=info["pool_size"],
            counters=info.get("counters", {}),
            event_loop_lag_ms=self.lag.last_ms,
            event_loop_lag_max_ms=self.lag.max_ms,
        )


async def measure_loop_lag(
    cg: CamguardApp, meter: LagMeter, clock: Callable[[], float] = time.monotonic
) -> None:
    """Forever: sleep LAG_INTERVAL_S and record how late the loop woke up."""
    while True:
        start = clock()
        await asyncio.sleep(LAG_INTERVAL_S)
        lag = meter.observe(LAG_INTERVAL_S, clock() - start)
        cg.gauge("event_loop_lag_ms", lag)
        cg.gauge("event_loop_lag_max_ms", meter.max_ms)


def install(
    cg: CamguardApp,
    middleware: AnonymizationMiddleware | None = None,
    privacy: PrivacyLookup | None = None,
    breaker: BreakerCheck | None = None,
    record_outcome: OutcomeRecorder | None = None,
) -> FramesProcessor:
    """Register the frames agent, the lag monitor and ``GET /api/anonymizer`` on ``cg``.

    ``privacy`` defaults to :func:`privacy_for` (settings); ``breaker`` and ``record_outcome``
    default to the per-camera breakers of agents/breakers.py.
    """
    settings = cg.settings
    apply_service_optimizations("frames", settings)

    async def check(camera_id: str, org_id: str | None, event: EventT[Any]) -> tuple[bool, str]:
        return await breakers.breaker_allows(cg, camera_id, event=event, org_id=org_id)

    async def record(
        camera_id: str,
        org_id: str | None,
        ok: bool,
        latency_ms: float | None,
        error: str | None,
        event: EventT[Any],
    ) -> None:
        await breakers.record_frame_outcome(
            cg, camera_id, ok, latency_ms, error=error, event=event, org_id=org_id
        )

    processor = FramesProcessor(
        cg,
        middleware or AnonymizationMiddleware(settings=settings),
        privacy or partial(privacy_for, settings=settings),
        breaker or check,
        record_outcome or record,
    )

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        processor.keep_handled(assigned)

    on_partitions_assigned: Any = cg.app.on_partitions_assigned  # mode's signal typing is narrow
    on_partitions_assigned.connect(on_assigned, weak=False)

    gate = commit_gate(cg.app)

    @cg.app.agent(cg.topics.frames, name="camguard.frames")
    async def frames(stream: StreamT[bytes]) -> None:
        batches: Any = stream  # faust.Stream; StreamT does not declare take_events
        async for events in batches.take_events(
            settings.batch_max_frames, within=settings.batch_window_s
        ):
            # A batch's outputs and its acks go into one transaction (streams.commit_gate):
            # acked here, inside the gate, not after the loop body as take_events would.
            async with gate.handling():
                await processor.handle(events)
                for event in events:
                    await batches.ack(event)  # take_events' own ack is then a no-op

    # app.task is untyped in faust; one typed alias instead of an ignore per decorator
    add_task: Callable[[Callable[[], Awaitable[None]]], object] = cg.app.task

    async def load_detectors() -> None:
        try:
            await processor.middleware.anonymizer()
        except AnonymizeError as exc:
            log.error("detectors not loaded (%s): %s; frames are dead-lettered", exc.reason, exc)
            return
        log.info("anonymizer ready: %s", processor.middleware.stats()["detector"])
        if settings.gc_freeze:
            gctune.freeze_long_lived()  # the models' Python objects live as long as the worker

    async def loop_lag() -> None:
        await measure_loop_lag(cg, processor.lag)

    add_task(load_detectors)
    add_task(loop_lag)

    @cg.app.page("/api/anonymizer")
    class AnonymizerView(View):
        async def get(self, request: Request) -> Response:
            return self.json(processor.stats().model_dump())

    return processor
