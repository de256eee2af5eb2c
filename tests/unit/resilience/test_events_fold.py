"""The events agent's batch fold equals folding each event on its own (hypothesis).

The reference below is the per-event path written out plainly: decode, refuse a bad key or a
bad observation, skip what the rows already hold, :func:`apply_observation` one event at a
time. :func:`fold_camera_events` must come to the same rows, transitions (in order), refusals
and counts.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.records import EventKind
from streams.exceptions import CamguardError
from streams.resilience.breaker import BreakerState, CircuitBreakerConfig, State, Transition
from streams.resilience.camera import (
    CameraConfig,
    CameraRecord,
    SourcePosition,
    apply_observation,
    check_key,
    observation_from_record,
)
from streams.resilience.events_fold import EventsFold, fold_camera_events
from streams.resilience.health import HealthConfig, HealthState

TOPIC = "camera.events"
NOW = 1_700_000_000.0
CAMERAS = ("cam-a", "cam-b", "cam-c")
HEALTH = HealthConfig(offline_after_s=5.0, online_after_frames=2, fps_window_s=3)
# small thresholds so that trips, half-open probes and closes happen in short batches
FAST = CameraConfig(
    breaker=CircuitBreakerConfig(
        failure_threshold=2, success_threshold=1, recovery_timeout_s=1.0, jitter_ratio=0.5
    ),
    health=HEALTH,
)
SLOW_CALLS = CameraConfig(  # successes while closed can move it: none is deferred
    breaker=CircuitBreakerConfig(
        failure_threshold=2,
        success_threshold=1,
        recovery_timeout_s=1.0,
        slow_call_threshold_ms=50.0,
        failure_rate_threshold=0.5,
        window_size=4,
        min_calls=2,
    ),
    health=HEALTH,
)


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: Any
    value: Any


events = st.tuples(
    st.sampled_from(CAMERAS),
    st.sampled_from(list(EventKind)),
    st.floats(-20.0, 5.0),  # seconds from now; far in the past or future is refused
    st.none() | st.floats(-5.0, 200.0),  # a negative latency is refused
    st.none() | st.sampled_from(["timeout", "decode"]),
    st.sampled_from(["own", "own", "own", "other", None]),  # the key
)


def batch(draws: list[tuple[Any, ...]]) -> list[Message]:
    out = []
    for offset, (camera, kind, skew, latency, error, key) in enumerate(draws, start=100):
        record = {
            "camera_id": camera,
            "org_id": "org-1",
            "kind": kind.value,
            "occurred_at": int((NOW + skew) * 1000),
            "latency_ms": latency,
            "error": error,
        }
        raw = camera.encode() if key == "own" else None if key is None else b"elsewhere"
        out.append(Message(TOPIC, 0, offset, raw, record))
    return out


def one_by_one(
    messages: list[Message], rows: Mapping[str, CameraRecord], config: CameraConfig, seed: int
) -> tuple[dict[str, tuple[BreakerState, HealthState]], list[tuple[str, Transition]], list[Any]]:
    rng = random.Random(seed)
    state = {c: (r.breaker, r.health) for c, r in rows.items()}
    moves: list[tuple[str, Transition]] = []
    refused: list[Any] = []
    touched: dict[str, tuple[BreakerState, HealthState]] = {}
    for message in messages:
        record = message.value
        camera_id = record["camera_id"]
        try:
            check_key(message.key, camera_id)
            obs = observation_from_record(record, NOW, config.max_skew_s)
        except CamguardError as exc:
            refused.append((message.offset, exc.reason))
            continue
        held = rows[camera_id].holds(SourcePosition(message.topic, message.offset))
        if all(held):
            continue
        breaker, health = state[camera_id]
        update = apply_observation(
            breaker, health, obs, NOW, config, rng, record["error"], held=held
        )
        state[camera_id] = touched[camera_id] = (update.breaker, update.health)
        moves += [(camera_id, move) for move in update.transitions]
    return touched, moves, refused


def fold(
    messages: list[Message], rows: Mapping[str, CameraRecord], config: CameraConfig, seed: int
) -> EventsFold:
    """:func:`fold_camera_events` over ``rows`` with one config for every camera."""
    return fold_camera_events(
        messages,
        decode=lambda value: value,
        load=rows.__getitem__,
        config_for=lambda org_id, camera_id: config,
        now=NOW,
        max_skew_s=config.max_skew_s,
        rng=random.Random(seed),
    )


@settings(max_examples=300, deadline=None)
@given(
    draws=st.lists(events, max_size=40),
    replayed_up_to=st.none() | st.integers(95, 120),
    health_behind=st.sampled_from([0, 0, 3, 10]),
    warm=st.sampled_from(["closed", "open"]),
    slow_calls=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_batch_fold_equals_the_events_one_by_one(
    draws: list[tuple[Any, ...]],
    replayed_up_to: int | None,
    health_behind: int,
    warm: str,
    slow_calls: bool,
    seed: int,
) -> None:
    config = SLOW_CALLS if slow_calls else FAST
    offsets = {} if replayed_up_to is None else {TOPIC: replayed_up_to}
    # the health row may be behind the breaker row (a crash or a commit between their sends)
    health_offsets = {t: o - health_behind for t, o in offsets.items()}
    start = BreakerState()
    if warm == "open":  # tripped, its recovery wait over: the next call is a probe
        start = dataclasses.replace(
            start, state=State.OPEN, opened_at=NOW - 10, retry_at=NOW - 1, trips=1
        )
    rows = {c: CameraRecord(start, HealthState(c), offsets, health_offsets) for c in CAMERAS}
    messages = batch(draws)

    folded = fold(messages, rows, config, seed)
    touched, moves, refused = one_by_one(messages, rows, config, seed)

    got = {c.camera_id: (c.update.breaker, c.update.health) for c in folded.cameras}
    assert got == touched
    assert [(c, m) for c, ms in folded.moves for m in ms] == moves
    assert [(m.offset, e.reason) for m, e in folded.refused] == refused
    assert folded.applied + folded.replayed + len(folded.refused) == len(messages)
    for camera in folded.cameras:  # each camera's rows go to its last applied message
        assert camera.before is rows[camera.camera_id]
        assert camera.last.value["camera_id"] == camera.camera_id


def test_a_batch_of_replays_and_refusals_writes_no_row() -> None:
    held = {TOPIC: 500}
    rows = {c: CameraRecord(BreakerState(), HealthState(c), held, held) for c in CAMERAS}
    replay = batch([("cam-a", EventKind.FRAME_OK, 0.0, 3.0, None, "own")])  # offset 100 <= 500
    wrong_key = Message(TOPIC, 0, 600, b"cam-b", {**replay[0].value, "camera_id": "cam-a"})
    folded = fold([*replay, wrong_key], rows, FAST, 0)
    assert folded.cameras == []
    assert folded.replayed == 1
    assert [(m.offset, e.reason) for m, e in folded.refused] == [(600, "key_mismatch")]


def test_a_message_only_the_breaker_row_holds_is_counted_once_in_each() -> None:
    """The CI failure of 2026-12-02: the breaker row's changelog record was committed, the
    health row's was given up with its transaction at a rebalance, and the replay on the new
    owner counted the message a second time in the breaker (229 calls for 228 events)."""
    breaker = BreakerState(successes=7)
    health = HealthState("cam-a", events=6, frames_processed=6)
    rows = {"cam-a": CameraRecord(breaker, health, {TOPIC: 100}, {TOPIC: 99})}
    messages = batch([("cam-a", EventKind.FRAME_OK, 0.0, 3.0, None, "own")])  # offset 100
    folded = fold(messages, rows, FAST, 0)
    (camera,) = folded.cameras
    assert camera.update.breaker.successes == 7, "the breaker row held it already"
    assert (camera.update.health.events, camera.update.health.frames_processed) == (7, 7)
    assert (folded.applied, folded.replayed) == (1, 0)
