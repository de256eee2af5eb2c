"""The events batch lane (streams/faust_edge/lanes.py) in Faust's consumer group, on a real broker.

A worker takes a backlog of ``camera.events``; a second worker joins while events keep coming,
so the group rebalances and half the partitions (with their table rows) move. At the end:

- every camera is owned by exactly one worker (tables co-partitioned with the topic);
- every camera's counters equal what was produced: nothing lost at the hand-over, nothing
  counted twice (a replayed event is recognised by the rows' source offsets);
- the group's committed offsets on ``camera.events`` reach the end of every partition: the
  lane's batches are acknowledged into Faust's own commit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.codec import AvroCodec
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.worker_process import (
    Worker,
    counters,
    local_cameras,
    start_at_end,
    worker_env,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.faust_edge, pytest.mark.timeout(600)]

CAMERAS = 40
TOPIC = "camera.events"


def kind_of(camera: int, index: int) -> str:
    return "FRAME_ERROR" if (camera + index) % 23 == 0 else "FRAME_OK"


async def produce(producer: AIOKafkaProducer, prefix: str, rounds: range) -> None:
    codec = AvroCodec()
    for index in rounds:
        for camera in range(CAMERAS):
            camera_id = f"{prefix}{camera}"
            record = {
                "event_id": str(uuid.uuid4()),
                "camera_id": camera_id,
                "occurred_at": int(time.time() * 1000),
                "kind": kind_of(camera, index),
                "latency_ms": 3.0,
                "attributes": {},
            }
            value = codec.encode("CameraEvent", record)
            await producer.send(TOPIC, value=value, key=camera_id.encode())
        await producer.flush()


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_rebalance_moves_partitions_without_losing_or_repeating_events(
    guarantee: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    prefix, app_id = f"lane-{run}-", f"camguard-lane-{run}"
    env = worker_env(
        kafka_bootstrap,
        app_id=app_id,
        processing_guarantee=guarantee,
        broker_commit_interval_s="0.5",
        health_publish_interval_s="1",
        breaker_jitter_ratio="0",
        breaker_recovery_timeout_s="3600",
        batch_max_frames="1",
    )
    for name in ("CAMGUARD_PG_DSN", "CAMGUARD_SUPABASE_URL"):
        env.pop(name, None)
    settings = Settings(broker=f"kafka://{kafka_bootstrap}", app_id=app_id)
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)
    await start_at_end(kafka_bootstrap, app_id, ["camera.frames"])  # this test is about events

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    workers: list[Worker] = []
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await produce(producer, prefix, range(0, 50))
            first = Worker(env, tmp_path / "w1", tmp_path / "w1.log", loglevel="info")
            workers.append(first)

            async def first_has_backlog() -> bool | None:
                found = await local_cameras(client, first, prefix)
                return sum(c["events"] for c in found.values()) >= 50 * CAMERAS or None

            await eventually(first_has_backlog, 180, "the first worker to take the backlog")
            second = Worker(env, tmp_path / "w2", tmp_path / "w2.log", loglevel="info")
            workers.append(second)
            # Keep events coming, a round every 0.1 s, until the second worker has joined and
            # handled some itself (so partitions moved mid-stream), then a few more rounds.
            rounds = 50
            deadline = time.monotonic() + 180
            while (await counters(client, second)).get("events.processed", 0) == 0:
                assert time.monotonic() < deadline, second.tail()
                assert second.proc.poll() is None, second.tail()
                await produce(producer, prefix, range(rounds, rounds + 1))
                rounds += 1
                await asyncio.sleep(0.1)
            await produce(producer, prefix, range(rounds, rounds + 20))
            rounds += 20

            views: list[dict[str, Any]] = []

            async def all_counted() -> list[dict[str, Any]] | None:
                views[:] = [await local_cameras(client, w, prefix) for w in workers]
                merged = {k: v for view in views for k, v in view.items()}
                done = len(merged) == CAMERAS and all(
                    c["events"] >= rounds for c in merged.values()
                )
                return views if done and all(views) else None

            try:
                await eventually(all_counted, 240, "both workers to count every event")
            except AssertionError:
                print(first.tail(), second.tail(), sep="\n----\n")
                raise

            def counts(views: list[dict[str, Any]]) -> list[dict[str, tuple[int, ...]]]:
                fields = ("events", "frames_processed", "errors_count")
                return [{k: tuple(c[f] for f in fields) for k, c in v.items()} for v in views]

            async def settled() -> list[dict[str, Any]] | None:
                before = [await local_cameras(client, w, prefix) for w in workers]
                await asyncio.sleep(1.0)  # anything still in flight would show up here
                after = [await local_cameras(client, w, prefix) for w in workers]
                return after if counts(after) == counts(before) else None

            final = await eventually(settled, 60, "the counts to settle")
            for worker in workers:  # the lane's own gauges, since it is not a Faust stream
                metrics = (await client.get(f"{worker.url}/metrics")).text
                assert 'camguard_events_total{name="events.batches"}' in metrics
                assert 'camguard_gauge{name="events.batch_size"}' in metrics

            probe = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=app_id)
            await probe.start()
            try:
                tps = [TopicPartition(TOPIC, p) for p in probe.partitions_for_topic(TOPIC) or ()]
                ends = await probe.end_offsets(tps)

                async def committed_to_the_end() -> bool | None:
                    done = [await probe.committed(tp) == ends[tp] for tp in tps]
                    return all(done) or None

                await eventually(committed_to_the_end, 60, "the group to commit every batch")
            finally:
                await probe.stop()
    finally:
        await producer.stop()
        for worker in workers:
            worker.stop()

    owned = [set(view) for view in final]
    assert all(owned), "the rebalance gave each worker some cameras"
    assert not owned[0] & owned[1], "a camera is owned by one worker only"
    merged = {k: v for view in final for k, v in view.items()}
    assert len(merged) == CAMERAS
    for camera in range(CAMERAS):
        got = merged[f"{prefix}{camera}"]
        errors = sum(kind_of(camera, i) == "FRAME_ERROR" for i in range(rounds))
        assert (got["events"], got["frames_processed"], got["errors_count"]) == (
            rounds,
            rounds - errors,
            errors,
        ), got["camera_id"]
        breaker = got["breaker"]
        assert breaker["successes"] + breaker["failures"] == rounds, got["camera_id"]
