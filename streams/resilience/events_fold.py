"""The ``camera.events`` batch fold (pure): messages in, each camera's new rows out.

:func:`fold_camera_events` is what the events agent (agents/events.py) decides for one fetched
partition batch: which messages are refused (and why), which the rows already hold (a replay
after a crash), each camera's breaker and health after its messages, and the breaker's
transitions in the order they happened. The agent loads nothing and sends nothing here: it
passes the table loader in, then writes the rows and sends the dead letters and transitions
the fold returns. Folding the batch equals folding its events one by one with
:func:`~streams.resilience.camera.apply_observation` (tests/unit/resilience/test_events_fold.py);
it is faster because a run of successes while closed, which cannot move the breaker, is
stepped at once and health is folded once per camera (:func:`observe_many`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.contract.records import RawMessage
from streams.exceptions import CamguardError
from streams.resilience.breaker import BreakerState, State, Transition, step, successes_while_closed
from streams.resilience.camera import (
    CameraConfig,
    CameraRecord,
    CameraUpdate,
    breaker_event,
    check_key,
    observation_from_record,
)
from streams.resilience.health import SUCCESSES, Observation, observe_many

CLOSED = State.CLOSED

Decode = Callable[[Any], Mapping[str, Any]]
"""A message value -> its ``CameraEvent`` record (raises on undecodable bytes)."""
LoadRows = Callable[[str], CameraRecord]
"""camera_id -> its rows as stored (fresh state for a camera never seen)."""
ConfigFor = Callable[[str | None, str], CameraConfig]
"""(org_id, camera_id) -> the camera's config under the policies in force."""


@dataclass(frozen=True)
class CameraFolded:
    """One camera touched by the batch: its new states, its rows as loaded, and the last
    message folded in (its partition and offset go into the rows)."""

    camera_id: str
    update: CameraUpdate
    before: CameraRecord
    last: RawMessage


@dataclass
class EventsFold:
    """What a batch comes to."""

    cameras: list[CameraFolded] = field(default_factory=list)
    moves: list[tuple[str, tuple[Transition, ...]]] = field(default_factory=list)
    """Breaker transitions per camera, in the order they happened."""
    refused: list[tuple[RawMessage, CamguardError]] = field(default_factory=list)
    """Messages that go to the dead-letter topic, with the reason."""
    applied: int = 0
    replayed: int = 0


class _Pending:
    """A camera touched by the batch: its rows as loaded, its config, its breaker now, what
    it saw."""

    __slots__ = (
        "before",
        "breaker",
        "breaker_high",
        "breaker_low",
        "config",
        "fast",
        "health_high",
        "health_low",
        "last",
        "seen",
        "successes",
    )

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
        (self.breaker_low, self.breaker_high), (self.health_low, self.health_high) = (
            before.replay_windows(topic)
        )
        """Offsets each row holds already (replays; the rows may disagree, see holds)."""
        self.successes = 0
        """Successes while closed not yet stepped into ``breaker`` (folded at once)."""

    def step_breaker(
        self, obs: Observation, error: str | None, now: float, rng: random.Random
    ) -> tuple[Transition, ...]:
        """Fold one observation into the breaker; return its transitions."""
        # closed_success_run_ok(breaker, config.breaker), inlined: this runs per event
        if obs.kind in SUCCESSES and self.fast and self.breaker.state is CLOSED:
            self.successes += 1  # cannot move the breaker: folded later, all at once
            return ()
        event = breaker_event(obs, error)
        if event is None:
            return ()
        self.breaker, moved = step(self.settled(), event, now, self.config.breaker, rng)
        return moved

    def settled(self) -> BreakerState:
        """``breaker`` with the deferred successes folded in."""
        if self.successes:
            self.breaker = successes_while_closed(self.breaker, self.successes, self.config.breaker)
            self.successes = 0
        return self.breaker


def fold_camera_events(
    messages: Iterable[RawMessage],
    *,
    decode: Decode,
    load: LoadRows,
    config_for: ConfigFor,
    now: float,
    max_skew_s: float,
    rng: random.Random,
) -> EventsFold:
    """Fold a partition batch of ``camera.events`` messages (see the module docstring).

    The breaker steps message by message, so its transitions keep their order; each camera's
    config is resolved once, for the org its first event names (or its health row knows).
    """
    pending: dict[str, _Pending] = {}
    out = EventsFold()
    for message in messages:
        try:  # decode and validate (inline: this loop runs once per event)
            record = decode(message.value)
            camera_id: str = record["camera_id"]
            key = message.key
            if type(key) is not bytes or key != camera_id.encode():
                check_key(key, camera_id)
            obs = observation_from_record(record, now, max_skew_s)
        except CamguardError as exc:
            out.refused.append((message, exc))
            continue
        entry = pending.get(camera_id)
        if entry is None:
            before = load(camera_id)
            config = config_for(obs.org_id or before.health.org_id, camera_id)
            entry = pending[camera_id] = _Pending(before, message.topic, config)
        offset = message.offset
        in_breaker = entry.breaker_low <= offset <= entry.breaker_high
        in_health = entry.health_low <= offset <= entry.health_high
        if in_breaker and in_health:
            out.replayed += 1
            continue
        if not in_breaker:  # the breaker row may hold it while health does not (see holds)
            moved = entry.step_breaker(obs, record["error"], now, rng)
            if moved:
                out.moves.append((camera_id, moved))
        if not in_health:
            entry.seen.append((obs, entry.breaker.state))
        entry.last = message
        out.applied += 1
    for camera_id, entry in pending.items():
        if entry.last is None:  # every message of the camera was a replay
            continue
        health = observe_many(entry.before.health, entry.seen, entry.config.health)
        update = CameraUpdate(entry.settled(), health, ())
        out.cameras.append(CameraFolded(camera_id, update, entry.before, entry.last))
    return out
