"""The events agent: ``camera.events`` -> tables ``breakers`` + ``camera_health``.

Each message is decoded as a ``CameraEvent``; what cannot be decoded, carries a key other than
its camera_id (it would land in another partition's state), a timestamp further off than
``max_clock_skew_s`` or a negative latency goes to ``camguard.deadletter`` with its reason.
Everything else updates the camera's breaker and health (unknown cameras get fresh state) and
publishes breaker transitions. A message whose offset the rows already hold (a replay after a
crash) is skipped, so table counts stay exact (see :mod:`streams.resilience.tables`). The logic
is in :mod:`streams.resilience.camera`.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.breakers import CameraRuntime, camera_runtime, send_transitions
from streams.app import CamguardApp
from streams.deadletter import RawMessage, send_dead_letter
from streams.exceptions import CamguardError
from streams.resilience.camera import SourcePosition, apply_observation, observation_from_record
from streams.resilience.exceptions import InvalidEventError

CONSUMER = "agents.events"
log = logging.getLogger(__name__)


def _key_text(key: object) -> str | None:
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key).decode("utf-8", errors="replace")
    return None if key is None else str(key)


async def handle_camera_event(cg: CamguardApp, runtime: CameraRuntime, event: Any) -> bool:
    """Fold one ``camera.events`` message into the tables; False if it was not applied."""
    message: RawMessage = event.message
    now = runtime.clock()
    try:
        record = cg.codec.decode_as("CameraEvent", message.value)
        camera_id = str(record["camera_id"])
        if _key_text(message.key) != camera_id:
            raise InvalidEventError(
                "key_mismatch", f"key {message.key!r} is not camera_id {camera_id!r}"
            )
        obs = observation_from_record(record, now, runtime.config.max_skew_s)
    except CamguardError as exc:
        await send_dead_letter(cg, message, exc, CONSUMER)
        return False
    position = SourcePosition(message.topic, message.offset)
    before = runtime.tables.load(camera_id)
    if before.applied(position):
        cg.count("events.replayed")
        log.debug("replayed %s[%d]@%d skipped", message.topic, message.partition, message.offset)
        return False
    update = apply_observation(
        before.breaker, before.health, obs, now, runtime.config, runtime.rng, record.get("error")
    )
    await runtime.tables.store(camera_id, update, before, event, position)
    await send_transitions(cg, camera_id, update.transitions)
    cg.count("events.processed")
    return True


def install(cg: CamguardApp) -> None:
    """Register the events agent on ``cg.app``."""
    runtime = camera_runtime(cg)

    @cg.app.agent(cg.topics.events, name="camguard.events")
    async def camera_events(stream: Any) -> None:
        async for event in stream.events():
            await handle_camera_event(cg, runtime, event)
