"""Per-camera breakers for the frames path, and the runtime shared with the events agent.

The frames agent (agents/frames.py) asks before working on a frame and reports afterwards::

    allowed, reason = await breaker_allows(cg, camera_id)
    if not allowed:
        ...  # count/forward the refusal with ``reason`` ("open", "forced_open", "probe_limit")
    ...
    await record_frame_outcome(cg, camera_id, ok=True, latency_ms=12.3)

Both must run inside the frames agent's stream iteration (``async for`` over
``camera.frames``): the tables are co-partitioned with that topic and a write goes to the
changelog partition of the message being handled; with ``take_events`` batches pass
``event=`` (the frame's own event) so it is that frame's partition. Refusals are counted in
the breaker state (``rejected`` by reason, shown on /api/breakers) and on /metrics
(``frames.refused.<reason>``); transitions go to ``camera.breaker.transitions``.
"""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.streams import current_event

from streams.app import CamguardApp
from streams.resilience.breaker import Transition
from streams.resilience.camera import (
    CameraConfig,
    SourcePosition,
    admit_frame,
    apply_frame_outcome,
    transition_record,
)
from streams.resilience.scoped import CameraConfigs
from streams.resilience.tables import CameraTables


@dataclass
class CameraRuntime:
    """What the camera agents share in one worker: configs, tables, clock and jitter.

    ``configs.for_camera(org_id, camera_id)`` is a camera's config under the resilience and
    health policies now in force; ``config`` is the worker's own (settings), which also
    holds what policies do not set (the accepted clock skew).
    """

    config: CameraConfig
    tables: CameraTables
    configs: CameraConfigs
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)


_RUNTIMES: weakref.WeakKeyDictionary[faust.App, CameraRuntime] = weakref.WeakKeyDictionary()


def configure_runtime(
    cg: CamguardApp, *, clock: Callable[[], float] | None = None, rng: random.Random | None = None
) -> CameraRuntime:
    """Create (or replace) the camera runtime of ``cg``; tests pass a clock and a seed.

    Camera configs follow the worker's ``policies`` table (live policy changes).
    """
    base = CameraConfig.from_settings(cg.settings)
    runtime = CameraRuntime(
        base,
        CameraTables.of(cg.tables.by_name),
        CameraConfigs(base, cg.policies),
        clock or time.time,
        rng or random.Random(),
    )
    _RUNTIMES[cg.app] = runtime
    return runtime


def camera_runtime(cg: CamguardApp) -> CameraRuntime:
    """The camera runtime of ``cg``, created with defaults on first use."""
    found = _RUNTIMES.get(cg.app)
    return found if found is not None else configure_runtime(cg)


async def send_transitions(cg: CamguardApp, camera_id: str, moves: Iterable[Transition]) -> None:
    """Publish each transition to ``camera.breaker.transitions`` (key = camera_id)."""
    for move in moves:
        cg.count(f"breaker.transitions.{move.to_state.value.lower()}")
        value = cg.codec.encode("BreakerTransition", transition_record(camera_id, move))
        await cg.topics.transitions.send(key=camera_id.encode(), value=value)


async def breaker_allows(
    cg: CamguardApp,
    camera_id: str,
    now: float | None = None,
    *,
    event: Any = None,
    org_id: str | None = None,
) -> tuple[bool, str]:
    """Whether the frames path may process a frame of ``camera_id`` now, and why.

    Reasons: ``closed`` or ``probe`` (allowed); ``open``, ``forced_open``, ``probe_limit``
    (refused, and counted). An allowed probe in half-open holds a probe slot until
    :func:`record_frame_outcome` (or the probe timeout). With ``take_events`` batches pass
    the frame's ``event`` so the write goes to that camera's partition. The camera's
    resilience policy is resolved for ``org_id`` (default: the org its health row knows).
    """
    runtime = camera_runtime(cg)
    at = runtime.clock() if now is None else now
    before = runtime.tables.load(camera_id)
    config = runtime.configs.for_camera(org_id or before.health.org_id, camera_id)
    decision, after, moves = admit_frame(before.breaker, at, config, runtime.rng)
    if after != before.breaker:
        await runtime.tables.store_breaker(camera_id, after, before, event)
    if not decision.allowed:
        cg.count(f"frames.refused.{decision.reason}")
    await send_transitions(cg, camera_id, moves)
    return decision.allowed, decision.reason


async def record_frame_outcome(
    cg: CamguardApp,
    camera_id: str,
    ok: bool,
    latency_ms: float | None,
    now: float | None = None,
    error: str | None = None,
    *,
    event: Any = None,
    org_id: str | None = None,
) -> None:
    """Record a processed frame in the camera's breaker and health (like FRAME_OK/ERROR)."""
    runtime = camera_runtime(cg)
    at = runtime.clock() if now is None else now
    current = event if event is not None else current_event()
    position = None
    if current is not None:
        position = SourcePosition(current.message.topic, current.message.offset)
    before = runtime.tables.load(camera_id)
    held = before.holds(position)  # each row on its own: they can disagree (see holds)
    if all(held):
        return
    config = runtime.configs.for_camera(org_id or before.health.org_id, camera_id)
    update = apply_frame_outcome(
        before.breaker, before.health, ok, latency_ms, at, config, runtime.rng, error, held=held
    )
    await runtime.tables.store(camera_id, update, before, current, position)
    await send_transitions(cg, camera_id, update.transitions)
