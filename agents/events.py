"""The events agent: ``camera.events`` -> tables ``breakers`` + ``camera_health``.

It runs as a batch lane (:mod:`streams.faust_edge.lanes`): Faust's consumer group assigns, fetches,
commits and (``exactly_once``) transacts ``camera.events`` with the tables, and each fetched
partition batch comes here whole instead of message by message through a Faust stream.

Each message is decoded as a ``CameraEvent``; what cannot be decoded, carries a key other than
its camera_id (it would land in another partition's state), a timestamp further off than
``max_clock_skew_s`` or a negative latency goes to ``camguard.deadletter`` with its reason.
Everything else updates the camera's breaker and health (unknown cameras get fresh state) and
publishes breaker transitions, with the camera's thresholds under the ``resilience`` and
``health`` policies in force (:mod:`streams.resilience.scoped`: camera > org > global over the
settings, applied live). A message whose offset the rows already hold (a replay after a
crash) is skipped, so table counts stay exact (see :mod:`streams.resilience.tables`). What
happens to a batch is decided by :func:`streams.resilience.events_fold.fold_camera_events`
(pure); this module loads, writes and sends around it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from agents.breakers import CameraRuntime, camera_runtime, send_transitions
from streams.app import CamguardApp
from streams.deadletter import RawMessage, send_dead_letter
from streams.faust_edge.lanes import add_lane
from streams.faust_edge.table_internals import MessageEvent, writing_for
from streams.resilience.camera import SourcePosition
from streams.resilience.events_fold import fold_camera_events

CONSUMER = "agents.events"
log = logging.getLogger(__name__)


async def handle_camera_events(
    cg: CamguardApp, runtime: CameraRuntime, messages: Sequence[RawMessage]
) -> int:
    """Fold a batch of ``camera.events`` messages into the tables; return how many applied.

    Each camera's rows are written once per batch, from the state after its last message (to
    that message's partition, with its offset), so a busy camera costs two changelog records
    per batch instead of two per event; then the dead letters and the transitions are sent.
    Nothing is awaited between loading a camera's rows (inside the fold) and writing them
    locally, so the frames agent, which writes breaker rows from the same event loop, never
    has an update overwritten by a stale batch.
    """
    folded = fold_camera_events(
        messages,
        decode=cg.codec.plain_decoder("CameraEvent"),
        load=runtime.tables.load,
        config_for=runtime.configs.for_camera,
        now=runtime.clock(),
        max_skew_s=runtime.config.max_skew_s,
        rng=runtime.rng,
    )
    await runtime.tables.store_many(
        (
            camera.camera_id,
            camera.update,
            camera.before,
            MessageEvent(camera.last),
            SourcePosition(camera.last.topic, camera.last.offset),
        )
        for camera in folded.cameras
    )
    # Each record goes into the transaction of the message it comes from (writing_for:
    # streams.faust_edge.transactions): the partition's, which commits the batch's offsets.
    for message, error in folded.refused:
        with writing_for(MessageEvent(message)):
            await send_dead_letter(cg, message, error, CONSUMER)
    if folded.moves:
        with writing_for(MessageEvent(messages[-1])):
            for camera_id, transitions in folded.moves:
                await send_transitions(cg, camera_id, transitions)
    if folded.replayed:
        log.debug("%d replayed events skipped", folded.replayed)
        cg.count("events.replayed", folded.replayed)
    cg.count("events.processed", folded.applied)
    return folded.applied


def install(cg: CamguardApp) -> None:
    """Consume ``camera.events`` on ``cg.app`` through :func:`handle_camera_events`."""
    runtime = camera_runtime(cg)

    async def camera_events(tp: Any, records: Sequence[Any]) -> None:
        started = time.perf_counter()
        await handle_camera_events(cg, runtime, records)
        cg.count("events.batches")
        cg.gauge("events.batch_size", float(len(records)))
        cg.gauge("events.batch_ms", (time.perf_counter() - started) * 1000.0)

    add_lane(cg.app, cg.topics.events, camera_events)
