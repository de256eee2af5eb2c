"""The events agent: ``camera.events`` -> tables ``breakers`` + ``camera_health``.

It runs as a batch lane (:mod:`streams.lanes`): Faust's consumer group assigns, fetches,
commits and (``exactly_once``) transacts ``camera.events`` with the tables, and each fetched
partition batch comes here whole instead of message by message through a Faust stream.

Each message is decoded as a ``CameraEvent``; what cannot be decoded, carries a key other than
its camera_id (it would land in another partition's state), a timestamp further off than
``max_clock_skew_s`` or a negative latency goes to ``camguard.deadletter`` with its reason.
Everything else updates the camera's breaker and health (unknown cameras get fresh state) and
publishes breaker transitions, with the camera's thresholds under the ``resilience`` and
``health`` policies in force (:mod:`streams.resilience.scoped`: camera > org > global over the
settings, applied live). A message whose offset the rows already hold (a replay after a
crash) is skipped, so table counts stay exact (see :mod:`streams.resilience.tables`). The logic
is in :mod:`streams.resilience.camera`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from agents.breakers import CameraRuntime, camera_runtime, send_transitions
from streams.app import CamguardApp
from streams.deadletter import RawMessage, send_dead_letter
from streams.exceptions import CamguardError
from streams.lanes import add_lane
from streams.resilience.breaker import (
    BreakerState,
    State,
    Transition,
    step,
    successes_while_closed,
)
from streams.resilience.camera import (
    CameraConfig,
    CameraUpdate,
    SourcePosition,
    breaker_event,
    observation_from_record,
)
from streams.resilience.exceptions import InvalidEventError
from streams.resilience.health import SUCCESSES, Observation, observe_many
from streams.resilience.tables import CameraRecord, MessageEvent

CONSUMER = "agents.events"
CLOSED = State.CLOSED
log = logging.getLogger(__name__)


def _key_text(key: object) -> str | None:
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key).decode("utf-8", errors="replace")
    return None if key is None else str(key)


class _Pending:
    """A camera touched by the batch: its rows as loaded, its config, its breaker now, what
    it saw."""

    __slots__ = ("before", "breaker", "config", "fast", "last", "replays", "seen", "successes")

    def __init__(self, before: CameraRecord, topic: str, config: CameraConfig) -> None:
        self.before = before
        self.config = config
        """The camera's config under the policies in force, resolved once for the batch."""
        self.fast = config.breaker.slow_call_threshold_ms is None
        """Whether successes while closed may be deferred (no slow-call threshold)."""
        self.breaker = before.breaker
        self.seen: list[tuple[Observation, State]] = []
        """Each observation and the breaker state it left, for one health fold at the end."""
        self.last: RawMessage | None = None
        """The last message folded in (its partition and offset go into the rows)."""
        self.replays = before.replay_range(topic)
        self.successes = 0
        """Successes while closed not yet stepped into ``breaker`` (folded at once)."""

    def settled(self) -> BreakerState:
        """``breaker`` with the deferred successes folded in."""
        if self.successes:
            self.breaker = successes_while_closed(self.breaker, self.successes, self.config.breaker)
            self.successes = 0
        return self.breaker


def _check_key(key: object, camera_id: str) -> None:
    """Refuse a message whose key is not its camera_id (it would land in another partition)."""
    if _key_text(key) != camera_id:
        raise InvalidEventError("key_mismatch", f"key {key!r} is not camera_id {camera_id!r}")


async def handle_camera_events(
    cg: CamguardApp, runtime: CameraRuntime, messages: Sequence[RawMessage]
) -> int:
    """Fold a batch of ``camera.events`` messages into the tables; return how many applied.

    The breaker steps message by message (its transitions are sent in the order they
    happened; a run of successes while closed, which cannot move it, is folded at once);
    health is folded once per camera with :func:`observe_many`. Each camera's rows are
    written once per batch, from the state after its last message (to that message's
    partition, with its offset), so a busy camera costs two changelog records per batch
    instead of two per event. Messages the rows already hold (a replay) are skipped.

    Nothing is awaited between loading a camera's rows and writing them locally (dead
    letters and transitions are sent afterwards), so the frames agent, which writes breaker
    rows from the same event loop, never has an update overwritten by a stale batch.

    Each camera runs with its config under the resilience and health policies in force when
    the batch reaches it (``runtime.configs``, cached per policy revision), for the org its
    first event names (or its health row knows).
    """
    now = runtime.clock()
    decode = cg.codec.plain_decoder("CameraEvent")
    configs = runtime.configs
    pending: dict[str, _Pending] = {}
    moves: list[tuple[str, tuple[Transition, ...]]] = []
    applied = replayed = 0
    refused: list[tuple[RawMessage, CamguardError]] = []
    max_skew_s = runtime.config.max_skew_s
    for message in messages:
        try:  # decode and validate (inline: this loop runs once per event)
            record = decode(message.value)
            camera_id: str = record["camera_id"]
            key = message.key
            if type(key) is not bytes or key != camera_id.encode():
                _check_key(key, camera_id)
            obs = observation_from_record(record, now, max_skew_s)
        except CamguardError as exc:
            refused.append((message, exc))  # sent after the rows: no await mid-fold
            continue
        entry = pending.get(camera_id)
        if entry is None:
            before = runtime.tables.load(camera_id)
            config = configs.for_camera(obs.org_id or before.health.org_id, camera_id)
            entry = pending[camera_id] = _Pending(before, message.topic, config)
        low, high = entry.replays
        if low <= message.offset <= high:
            replayed += 1
            log.debug(
                "replayed %s[%d]@%d skipped", message.topic, message.partition, message.offset
            )
            continue
        breaker = entry.breaker
        # closed_success_run_ok(breaker, entry.config.breaker), inlined: this runs per event
        if obs.kind in SUCCESSES and entry.fast and breaker.state is CLOSED:
            entry.successes += 1  # cannot move the breaker: folded later, all at once
        else:
            event = breaker_event(obs, record["error"])
            if event is not None:
                breaker, moved = step(
                    entry.settled(), event, now, entry.config.breaker, runtime.rng
                )
                entry.breaker = breaker
                if moved:
                    moves.append((camera_id, moved))
        entry.seen.append((obs, breaker.state))
        entry.last = message
        applied += 1
    await runtime.tables.store_many(
        (
            camera_id,
            CameraUpdate(
                entry.settled(),
                observe_many(entry.before.health, entry.seen, entry.config.health),
                (),
            ),
            entry.before,
            MessageEvent(entry.last),
            SourcePosition(entry.last.topic, entry.last.offset),
        )
        for camera_id, entry in pending.items()
        if entry.last is not None
    )
    for message, error in refused:
        await send_dead_letter(cg, message, error, CONSUMER)
    for camera_id, transitions in moves:
        await send_transitions(cg, camera_id, transitions)
    if replayed:
        cg.count("events.replayed", replayed)
    cg.count("events.processed", applied)
    return applied


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
