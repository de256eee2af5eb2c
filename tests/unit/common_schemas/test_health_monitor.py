"""CameraHealthMonitor: where the stats go (broker topic, Supabase, nowhere) and what they say."""

from __future__ import annotations

import pytest

from common_schemas.health import (
    HEALTH_TOPIC,
    CameraHealthMonitor,
    TopicHealthStore,
    health_store,
    snapshot_from_stats,
)
from streams.app import HEALTH
from streams.codec import AvroCodec
from streams.resilience.breaker import State
from streams.settings import Settings
from streams.spool.kafka import KafkaSink
from streams.spool.sink import MemorySink, SinkUnavailableError
from streams.store.supabase import SupabaseHealthStore
from tests.support.waiting import eventually


class Project:
    """What supabase-py's clients expose of their project (URL and key)."""

    supabase_url = "https://project.supabase.co/"
    supabase_key = "service-key"


def test_the_topic_is_camguards_health_topic() -> None:
    assert HEALTH_TOPIC == HEALTH


def test_a_configured_broker_wins_over_the_supabase_client() -> None:
    store = health_store(Project(), Settings(broker="kafka://10.0.0.1:9092"))
    assert isinstance(store, TopicHealthStore)
    assert isinstance(store.sink, KafkaSink)
    assert store.sink.bootstrap_servers == "10.0.0.1:9092"
    assert isinstance(health_store(Project(), Settings()), SupabaseHealthStore)
    assert health_store(None, Settings()) is None


async def test_with_a_broker_stats_are_camera_health_records_keyed_by_camera() -> None:
    sink = MemorySink()
    monitor = CameraHealthMonitor(None, settings=Settings(), sink=sink)
    stats = {
        "frames_processed": 100,
        "avg_latency_ms": 45,
        "errors_count": 3,
        "org_id": "org_1",
        "circuit_breaker_state": "half_open",
    }
    monitor.update_camera_stats("cam_1", stats)
    await monitor.start_monitoring()
    await eventually(lambda: len(sink.delivered) > 0)
    await monitor.stop_monitoring()
    record = sink.delivered[-1]
    assert (record.topic, record.key) == ("camera.health", b"cam_1")
    name, value = AvroCodec().decode(record.value, logical_types=False)
    assert name == "CameraHealth"
    assert value["frames_processed"] == 100
    assert value["errors_count"] == 3
    assert value["avg_latency_ms"] == 45.0
    assert value["org_id"] == "org_1"
    assert value["circuit_breaker_state"] == "HALF_OPEN"
    assert value["online"] is True
    assert not sink.started  # stopped with the monitor


async def test_an_unacknowledged_send_is_a_retriable_error() -> None:
    sink = MemorySink()
    store = TopicHealthStore(sink, send_timeout_s=0.05)
    update = await store.update_cameras([snapshot_from_stats("cam_1", {}, 1.0)])
    assert update.updated == ("cam_1",)
    sink.set_available(False)  # the broker went away: deliveries hang
    with pytest.raises(SinkUnavailableError) as err:
        await store.update_cameras([snapshot_from_stats("cam_1", {}, 2.0)])
    assert err.value.retriable
    await store.close()


def test_a_camera_goes_offline_when_its_stats_stop() -> None:
    now = [1000.0]
    monitor = CameraHealthMonitor(
        None, settings=Settings(offline_after_s=60), sink=MemorySink(), clock=lambda: now[0]
    )
    monitor.update_camera_stats("cam_1", {"frames_processed": 1})
    monitor.update_camera_stats("cam_1", {"errors_count": 2})
    assert monitor.camera_stats["cam_1"] == {"frames_processed": 1, "errors_count": 2}
    now[0] += 59
    [snap] = monitor.snapshots()
    assert (snap.online, snap.frames_processed, snap.errors_count) == (True, 1, 2)
    now[0] += 1
    [snap] = monitor.snapshots()
    assert (snap.online, snap.last_seen, snap.observed_at) == (False, 1000.0, 1060.0)


def test_bad_stats_are_refused_when_given() -> None:
    monitor = CameraHealthMonitor(None, settings=Settings(), sink=MemorySink())
    with pytest.raises(ValueError, match=r"(?i)closedish"):
        monitor.update_camera_stats("cam_1", {"circuit_breaker_state": "closedish"})
    with pytest.raises(ValueError, match="many"):
        monitor.update_camera_stats("cam_1", {"frames_processed": "many"})
    assert monitor.camera_stats == {}
    assert snapshot_from_stats("c", {}, 5.0).circuit_breaker_state is State.CLOSED
