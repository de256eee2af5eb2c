"""The gateway in-process against the in-memory sink: frames, events, failures, web pages."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np

from streams.codec import AvroCodec
from streams.contract.gateway_http import QueueStatsResponse
from streams.gateway.camera_loop import CameraOptions, CameraSpec
from streams.gateway.service import Gateway, GatewayConfig
from streams.settings import Settings
from streams.spool.sink import MemorySink

codec = AvroCodec()


def settings(tmp_path: Path) -> Settings:
    return Settings(spool_dir=tmp_path / "spool", gateway_port=0)


def gateway(tmp_path: Path, sink: MemorySink, *cameras: CameraSpec, frames: int = 5) -> Gateway:
    config = GatewayConfig(
        cameras=cameras,
        heartbeat_interval_s=0.05,
        camera=CameraOptions(max_frames=frames, max_backoff_s=0.01),
        port=0,
    )
    return Gateway(settings(tmp_path), config, sink=sink)


def frames(sink: MemorySink) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for record in sink.delivered:
        if record.topic == "camera.frames":
            frame = codec.decode_as("Frame", record.value)
            assert record.key == frame["camera_id"].encode()
            out.setdefault(frame["camera_id"], []).append(frame["seq"])
    return out


def events(sink: MemorySink) -> Counter[tuple[str, str]]:
    kinds: Counter[tuple[str, str]] = Counter()
    for record in sink.delivered:
        if record.topic == "camera.events":
            event = codec.decode_as("CameraEvent", record.value)
            kinds[(event["camera_id"], event["kind"])] += 1
    return kinds


async def test_cameras_produce_ordered_frames_and_events(tmp_path: Path) -> None:
    sink = MemorySink()
    gw = gateway(
        tmp_path,
        sink,
        CameraSpec("cam-1", "synthetic", fps=200, width=64, height=48, frame_events=True),
        CameraSpec(
            "cam-2",
            "synthetic:noface",
            fps=200,
            width=64,
            height=48,
            org_id="acme",
            frame_events=True,
        ),
    )
    await gw.start()
    await gw.cameras_done()
    await gw.stop()
    assert frames(sink) == {"cam-1": [1, 2, 3, 4, 5], "cam-2": [1, 2, 3, 4, 5]}
    kinds = events(sink)
    for cam in ("cam-1", "cam-2"):
        assert kinds[(cam, "CONNECTED")] == 1
        assert kinds[(cam, "FRAME_OK")] == 5
        assert kinds[(cam, "HEARTBEAT")] >= 1


async def test_no_frame_ok_events_by_default_so_the_worker_does_not_count_frames_twice(
    tmp_path: Path,
) -> None:
    sink = MemorySink()
    gw = gateway(tmp_path, sink, CameraSpec("cam-1", "synthetic", fps=200, width=64, height=48))
    await gw.start()
    await gw.cameras_done()
    await gw.stop()
    assert frames(sink) == {"cam-1": [1, 2, 3, 4, 5]}
    kinds = events(sink)
    assert kinds[("cam-1", "FRAME_OK")] == 0
    assert kinds[("cam-1", "CONNECTED")] == 1


async def test_stats_and_metrics_pages(tmp_path: Path) -> None:
    sink = MemorySink()
    gw = gateway(tmp_path, sink, CameraSpec("cam-1", "synthetic", fps=200, width=64, height=48))
    await gw.start()
    await gw.cameras_done()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
        stats = await client.get("/queue/stats")
        metrics = await client.get("/metrics")
        healthz = await client.get("/healthz")
    await gw.stop()
    assert healthz.json() == {"status": "ok", "app_id": "camguard-gateway"}
    assert stats.status_code == 200
    body = QueueStatsResponse.model_validate_json(stats.content)
    assert {"memory_queue_size", "disk_queue_size", "total_queued"} <= set(stats.json())
    assert body.cameras["cam-1"].frames_captured == 5
    assert body.producer.breaker_state == "CLOSED"
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'camguard_spool_queued{tier="disk"}' in text
    assert 'camguard_gateway_frames_captured_total{camera_id="cam-1"} 5.0' in text


async def test_unreadable_source_reports_errors_and_keeps_retrying(tmp_path: Path) -> None:
    sink = MemorySink()
    missing = str(tmp_path / "missing.mp4")
    gw = gateway(tmp_path, sink, CameraSpec("cam-x", missing, fps=50))
    await gw.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while events(sink)[("cam-x", "ERROR")] < 3:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    await gw.stop()
    status = gw.cameras[0].status
    assert not status.connected
    assert status.errors >= 3
    assert "does not exist" in (status.last_error or "")


async def test_video_file_source_loops_at_its_end(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    sink = MemorySink()
    gw = gateway(tmp_path, sink, CameraSpec("file-cam", str(video), fps=200), frames=10)
    await gw.start()
    await gw.cameras_done()
    await gw.stop()
    assert frames(sink) == {"file-cam": list(range(1, 11))}
    first = next(r.value for r in sink.delivered if r.topic == "camera.frames")
    frame = codec.decode_as("Frame", first)
    assert (frame["width"], frame["height"]) == (64, 48)
