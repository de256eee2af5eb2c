"""Breakers and health survive a SIGKILLed worker: recovered from the changelog, on a real broker.

50 cameras send events while a worker subprocess runs; the worker is killed with SIGKILL in the
middle of the stream, more events arrive while it is down, and a second worker with an empty
data directory (so every table row must come back from the changelog) takes over.

- ``exactly_once``: every counter and breaker equals what the produced events give when folded
  through the same pure core: nothing lost, nothing counted twice.
- ``at_least_once`` (the default): nothing is lost, but events processed after the last commit
  before the kill are processed again by the next worker, so counters are *at least* the
  produced counts (equal when the kill happened to fall on a commit).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from streams.codec import AvroCodec
from streams.contract.records import EventKind
from streams.devstack import REPO_ROOT
from streams.resilience.breaker import BreakerState
from streams.resilience.camera import CameraConfig, apply_observation
from streams.resilience.changelogs import ensure_changelog_topics
from streams.resilience.health import HealthState, Observation
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.worker_process import Worker, local_cameras, start_at_end

pytestmark = [pytest.mark.integration, pytest.mark.faust_edge, pytest.mark.timeout(600)]

CAMERAS = 50
EVENTS_PER_CAMERA = 120
TOTAL = CAMERAS * EVENTS_PER_CAMERA


def kind_of(camera: int, index: int) -> EventKind:
    """Camera c starts with c % 8 failures (five or more trip its breaker), then mostly frames."""
    if index < camera % 8:
        return EventKind.FRAME_ERROR
    return EventKind.HEARTBEAT if index % 10 == 9 else EventKind.FRAME_OK


@dataclass(frozen=True)
class Expected:
    breaker: BreakerState
    health: HealthState


def expected(prefix: str) -> dict[str, Expected]:
    """What the produced events give, folded through the pure core."""
    config, rng, out = CameraConfig(), random.Random(0), {}
    for camera in range(CAMERAS):
        camera_id = f"{prefix}{camera}"
        breaker, health = BreakerState(), HealthState(camera_id)
        for index in range(EVENTS_PER_CAMERA):
            obs = Observation(kind_of(camera, index), 1000.0 + index, 5.0)
            update = apply_observation(breaker, health, obs, 1000.0, config, rng)
            breaker, health = update.breaker, update.health
        out[camera_id] = Expected(breaker, health)
    return out


async def wait_for(
    check: Callable[[], Any], worker: Worker, what: str, timeout_s: float = 180.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found:
            return found
        assert worker.proc.poll() is None, f"worker exited:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{worker.tail()}"
        await asyncio.sleep(0.25)


class EventSource:
    """Produces the test's events round by round (one event per camera per round)."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str) -> None:
        self.producer, self.prefix, self.codec = producer, prefix, AvroCodec()
        self.rounds = 0

    async def produce(self, rounds: int, pause_s: float = 0.0) -> None:
        for _ in range(rounds):
            index = self.rounds
            for camera in range(CAMERAS):
                camera_id = f"{self.prefix}{camera}"
                record = {
                    "event_id": str(uuid.uuid4()),
                    "camera_id": camera_id,
                    "occurred_at": int(time.time() * 1000),
                    "kind": kind_of(camera, index).value,
                    "latency_ms": 5.0,
                    "attributes": {},
                }
                value = self.codec.encode("CameraEvent", record)
                await self.producer.send("camera.events", value=value, key=camera_id.encode())
            self.rounds += 1
            await self.producer.flush()
            if pause_s:
                await asyncio.sleep(pause_s)


@asynccontextmanager
async def event_source(bootstrap: str, prefix: str) -> AsyncIterator[EventSource]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        yield EventSource(producer, prefix)
    finally:
        await producer.stop()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
async def test_state_recovers_from_the_changelog_after_sigkill(
    guarantee: str, kafka_bootstrap: str, tmp_path: Path, workers: list[Worker]
) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"rec-{run}-"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_APP_ID": f"camguard-recovery-{guarantee}-{run}",
        "CAMGUARD_PROCESSING_GUARANTEE": guarantee,
        "CAMGUARD_BROKER_COMMIT_INTERVAL_S": "0.5",
        "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "1",
        # deterministic breakers: no jitter, and no half-open within the test
        "CAMGUARD_BREAKER_JITTER_RATIO": "0",
        "CAMGUARD_BREAKER_RECOVERY_TIMEOUT_S": "3600",
    }
    for name in ("CAMGUARD_PG_DSN", "CAMGUARD_SUPABASE_URL"):
        env.pop(name, None)
    settings = Settings(broker=env["CAMGUARD_BROKER"], app_id=env["CAMGUARD_APP_ID"])
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)
    # this test is about events: skip the frames earlier tests left (minutes of CPU to anonymize)
    await start_at_end(kafka_bootstrap, env["CAMGUARD_APP_ID"], ["camera.frames"])
    want = expected(prefix)
    async with event_source(kafka_bootstrap, prefix) as source, httpx.AsyncClient() as client:
        await source.produce(20)
        first = Worker(env, tmp_path / "worker-1", tmp_path / "worker-1.log", loglevel="info")
        workers.append(first)

        def events_seen(found: dict[str, Any]) -> int:
            return sum(c["events"] for c in found.values())

        async def processed(rounds: int) -> bool:
            return events_seen(await local_cameras(client, first, prefix)) >= rounds * CAMERAS

        await wait_for(lambda: processed(20), first, "the first worker to take the backlog")
        producing = asyncio.create_task(source.produce(60, pause_s=0.05))
        await wait_for(lambda: processed(30), first, "the first worker to follow the stream")
        first.kill()  # mid-stream: events are still being produced and consumed
        await producing
        assert source.rounds == 80
        await source.produce(EVENTS_PER_CAMERA - source.rounds)

        second = Worker(env, tmp_path / "worker-2", tmp_path / "worker-2.log", loglevel="info")
        workers.append(second)

        last: dict[str, Any] = {}

        async def caught_up() -> dict[str, Any] | None:
            last.update(await local_cameras(client, second, prefix))
            done = len(last) == CAMERAS and all(
                c["events"] >= EVENTS_PER_CAMERA for c in last.values()
            )
            return last if done else None

        try:
            await wait_for(caught_up, second, "the second worker to catch up")
        except AssertionError:
            metrics = (await client.get(f"{second.url}/metrics")).text
            behind = {k: c["events"] for k, c in last.items() if c["events"] < EVENTS_PER_CAMERA}
            print("cameras behind:", behind, "known:", len(last))
            print("\n".join(m for m in metrics.splitlines() if m.startswith("camguard_")))
            raise
        await asyncio.sleep(2.0)  # anything still in flight lands; then compare
        found = await local_cameras(client, second, prefix)

    for camera_id, exp in want.items():
        got = found[camera_id]
        counts = (got["events"], got["frames_processed"], got["errors_count"])
        exp_counts = (exp.health.events, exp.health.frames_processed, exp.health.errors_count)
        breaker = got["breaker"]
        if guarantee == "exactly_once":
            assert counts == exp_counts, camera_id
            assert breaker["state"] == exp.breaker.state.value, camera_id
            assert (breaker["successes"], breaker["failures"], breaker["trips"]) == (
                exp.breaker.successes,
                exp.breaker.failures,
                exp.breaker.trips,
            ), camera_id
        else:
            assert all(g >= e for g, e in zip(counts, exp_counts, strict=True)), camera_id
            assert breaker["successes"] + breaker["failures"] >= EVENTS_PER_CAMERA, camera_id
            if exp.breaker.state.value == "OPEN":
                assert breaker["state"] == "OPEN", camera_id
        assert got["circuit_breaker_state"] == breaker["state"], camera_id
    assert sum(c["events"] for c in found.values()) >= TOTAL
