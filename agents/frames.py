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

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from faust.types import EventT, StreamT

from agents import breakers
from streams import gctune
from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import AnonymizeError
from streams.anonymize.frame_decisions import (
    PrivacyChoice,
    PrivacyLookup,
    Redeliveries,
    privacy_or_blur_all,
    publication,
    read_frame,
    withheld,
)
from streams.anonymize.middleware import AnonymizationMiddleware, config_from_settings
from streams.anonymize.pipeline import EncodedOutcome
from streams.anonymize.records import job_from_frame
from streams.anonymize.runtime import apply_service_optimizations
from streams.anonymize.stats import LagMeter, measure_loop_lag
from streams.app import CamguardApp
from streams.contract.worker_http import AnonymizerStats
from streams.deadletter import send_dead_letter
from streams.exceptions import CamguardError
from streams.faust_edge.lanes import commit_gate
from streams.faust_edge.table_internals import writing_for
from streams.settings import Settings
from streams.web import anonymizer as anonymizer_page

__all__ = ["FramesProcessor", "install", "privacy_for"]

log = logging.getLogger(__name__)

CONSUMER = "agents.frames"
LAG_INTERVAL_S = 0.25

# (camera_id, org_id, event): the org picks the camera's resilience policy; refusals are
# counted by the check itself
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


@dataclass
class FramesProcessor:
    """One batch of frame events at a time: reads, asks the decisions
    (:mod:`streams.anonymize.frame_decisions`), sends what they answer."""

    cg: CamguardApp
    middleware: AnonymizationMiddleware
    privacy: PrivacyLookup
    breaker: BreakerCheck
    record_outcome: OutcomeRecorder
    lag: LagMeter = field(default_factory=LagMeter)
    redeliveries: Redeliveries = field(default_factory=Redeliveries)

    def keep_handled(self, assigned: Iterable[Any]) -> None:
        """After a rebalance: forget the partitions not in ``assigned`` (faust ``TP`` s)."""
        lost = self.redeliveries.keep((tp.topic, tp.partition) for tp in assigned)
        if lost:
            log.info("rebalance: handled offsets of %d lost partitions forgotten", lost)

    async def handle(self, events: Sequence[EventT[Any]]) -> None:
        accepted: list[tuple[EventT[Any], dict[str, Any], PrivacyChoice]] = []
        decode = partial(self.cg.codec.decode_as, "Frame")
        for event in events:
            message = event.message
            if not self.redeliveries.first_time(message.topic, message.partition, message.offset):
                self.cg.count("frames.redelivered_skipped")
                continue
            with writing_for(event):  # what this frame writes and sends belongs to its event
                frame = read_frame(message.value, message.key, decode)
                if isinstance(frame, CamguardError):
                    await send_dead_letter(self.cg, message, frame, CONSUMER)
                    continue
                camera_id, org_id = frame["camera_id"], frame.get("org_id")
                allowed, _ = await self.breaker(camera_id, org_id, event)
            if allowed:
                accepted.append((event, frame, self._privacy(org_id, camera_id)))
        if not accepted:
            return
        try:
            results = await self.middleware.process_encoded(
                [job_from_frame(frame, choice.config) for _, frame, choice in accepted]
            )
        except Exception as exc:  # models missing, no provider, or a fault: withhold them all
            log.error("anonymizer unavailable (%s): dead-lettering %d frames", exc, len(accepted))
            self.cg.count("frames.withheld", len(accepted))
            for event, *_ in accepted:
                with writing_for(event):
                    await send_dead_letter(self.cg, event.message, withheld(exc), CONSUMER)
            return
        detector = self.middleware.stats()["detector"] or "unknown"
        for (event, frame, choice), result in zip(accepted, results, strict=True):
            with writing_for(event):
                await self._publish(event, frame, choice.version, result, detector)
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
        out = publication(frame, result, detector, version, self._encode)
        if isinstance(out, AnonymizeError):
            self.cg.count("frames.withheld")
            await send_dead_letter(self.cg, event.message, out, CONSUMER)
            return
        key = frame["camera_id"].encode("utf-8")
        await self.cg.topics.anonymized.send(key=key, value=out)
        self.cg.count("frames.anonymized")
        self.cg.count("frames.faces", outcome.faces)
        self.cg.count("frames.plates", outcome.plates)

    def _encode(self, record: dict[str, Any]) -> bytes:
        return self.cg.codec.encode("AnonymizedFrame", record)

    def _privacy(self, org_id: str | None, camera_id: str) -> PrivacyChoice:
        choice = privacy_or_blur_all(self.privacy, org_id, camera_id)
        if choice.failed is not None:
            log.warning(
                "privacy lookup for %s failed (%s): blurring all kinds", camera_id, choice.failed
            )
            self.cg.count(f"frames.privacy_lookup_failed.{choice.failed}")
        return choice

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
        await measure_loop_lag(processor.lag, cg.gauge, LAG_INTERVAL_S)

    add_task(load_detectors)
    add_task(loop_lag)

    anonymizer_page.install(cg, processor.stats)

    return processor
