"""The seed's async API: awaitable, off the event loop, typed errors."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from streams.anonymize.blur import BlurConfig, laplacian_variance
from streams.anonymize.detector import FakeDetector
from streams.anonymize.exceptions import CorruptImageError, DetectionError, UnsupportedImageError
from streams.anonymize.geometry import Detection, Image
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.pipeline import Anonymizer
from streams.settings import Settings

HD = (720, 1280)
FACE = Detection("FACE", 100, 100, 200, 220, 0.9)


class GatedDetector(FakeDetector):
    """Blocks inside detect() until the test opens the gate from the event loop."""

    def __init__(self) -> None:
        super().__init__(boxes={HD: [FACE]})
        self.gate = threading.Event()
        self.entered = threading.Event()

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        self.entered.set()
        assert self.gate.wait(timeout=10)
        return super().detect(images, threshold)


def _middleware(face: FakeDetector | None = None, **settings: object) -> AnonymizationMiddleware:
    detectors = {"FACE": face or FakeDetector(boxes={HD: [FACE]}), "PLATE": FakeDetector("PLATE")}
    return AnonymizationMiddleware(Anonymizer(detectors), Settings(**settings))  # type: ignore[arg-type]


def _frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*HD, 3), dtype=np.uint8)


async def test_inference_runs_off_the_event_loop() -> None:
    gated = GatedDetector()
    async with _middleware(gated) as middleware:
        task = asyncio.ensure_future(middleware.anonymize_frame(_frame()))
        # the loop keeps running while inference is blocked in the pool
        deadline = asyncio.get_running_loop().time() + 10
        while not gated.entered.is_set():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0)
        assert not task.done()
        gated.gate.set()
        outcome = await task
    assert outcome.faces == 1


async def test_process_frame_returns_the_blurred_frame() -> None:
    frame = _frame()
    original = frame.copy()
    async with _middleware() as middleware:
        blurred = await middleware.process_frame(frame, BlurConfig())
        outcome = await middleware.anonymize_frame(frame, BlurConfig())
    assert (blurred.shape, blurred.dtype) == (frame.shape, frame.dtype)
    assert not (blurred[100:220, 100:200] == frame[100:220, 100:200]).all()
    assert (blurred[300:, 300:] == frame[300:, 300:]).all()
    assert (frame == original).all()  # the caller's frame is not written to
    assert outcome.image is not None
    assert (outcome.image == blurred).all()
    assert outcome.faces == 1


async def test_process_image_b64_returns_base64_of_the_anonymized_image() -> None:
    frame = _frame()
    data = base64.b64encode(cv2.imencode(".png", frame)[1].tobytes()).decode()
    async with _middleware() as middleware:
        encoded = await middleware.process_image_b64(data, BlurConfig())
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), 1)
    assert decoded.shape == frame.shape
    assert not (decoded[100:220, 100:200] == frame[100:220, 100:200]).all()
    assert (decoded[300:, 300:] == frame[300:, 300:]).all()  # PNG: lossless outside the box


async def test_anonymize_image_b64_round_trip() -> None:
    data = base64.b64encode(cv2.imencode(".jpg", _frame())[1].tobytes()).decode()
    async with _middleware() as middleware:
        result = await middleware.anonymize_image_b64(data)
        assert middleware.stats()["counters"]["frames"] == 1
    assert result.encoding == "JPEG"
    assert result.faces == 1
    assert result.boxes == [{"kind": "FACE", "x": 100, "y": 100, "w": 100, "h": 120, "score": 0.9}]
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(result.image_b64), np.uint8), 1)
    assert decoded.shape == (*HD, 3)


async def test_bad_inputs_raise_typed_errors_and_the_middleware_keeps_working() -> None:
    async with _middleware() as middleware:
        with pytest.raises(CorruptImageError):
            await middleware.process_image_b64("not base64 !!")
        with pytest.raises(CorruptImageError):
            await middleware.process_image_b64(base64.b64encode(b"\xff\xd8garbage").decode())
        with pytest.raises(UnsupportedImageError):
            await middleware.process_frame(np.zeros((4, 4, 2), np.uint8))
        assert (await middleware.anonymize_frame(_frame())).faces == 1


async def test_detection_failure_raises_only_when_not_failing_closed() -> None:
    failing = FakeDetector(error=DetectionError("gpu lost"))
    async with _middleware(failing) as middleware:
        closed = await middleware.anonymize_frame(_frame())
        assert closed.fail_closed
        with pytest.raises(DetectionError):
            await middleware.anonymize_frame(_frame(), BlurConfig(fail_closed=False))


async def test_the_plain_calls_return_the_fail_closed_frame_or_raise_never_the_input() -> None:
    failing = FakeDetector(error=DetectionError("gpu lost"))
    frame = _frame()
    data = base64.b64encode(cv2.imencode(".png", frame)[1].tobytes()).decode()
    drop = BlurConfig(fail_closed_action="drop")
    async with _middleware(failing) as middleware:
        whole = await middleware.process_frame(frame)
        assert whole.shape == frame.shape
        assert laplacian_variance(whole) < laplacian_variance(frame) / 100
        for config in (drop, BlurConfig(fail_closed=False)):
            with pytest.raises(DetectionError, match="gpu lost"):
                await middleware.process_frame(frame, config)
            with pytest.raises(DetectionError, match="gpu lost"):
                await middleware.process_image_b64(data, config)
        dropped = await middleware.anonymize_image_b64(data, drop)
    assert (dropped.image_b64, dropped.fail_closed) == ("", True)
    assert isinstance(dropped.error, DetectionError)


def _write_clip(path: Path, frames: int, fps: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for i in range(frames):
            image = np.full((96, 128, 3), (i * 10) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _count_frames(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return sum(1 for _ in container.decode(video)), float(video.average_rate)


async def test_clip_round_trip_keeps_frame_count_and_fps(tmp_path: Path) -> None:
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    _write_clip(source, frames=23, fps=15)
    face = FakeDetector(boxes={(96, 128): [Detection("FACE", 10, 10, 40, 40, 0.9)]})
    async with _middleware(face, batch_max_frames=4) as middleware:
        summary = await middleware.process_clip(source, target)
    assert (summary.frames, summary.fps, summary.faces) == (23, 15.0, 23)
    assert _count_frames(target) == (23, 15.0)


async def test_a_batch_is_shared_between_the_pool_workers_in_order() -> None:
    face = FakeDetector(boxes={HD: [FACE]})
    frames = [_frame() for _ in range(6)]
    async with _middleware(face, worker_pool_size=2) as middleware:
        outcomes = await middleware.process_frames(frames, [BlurConfig()] * 6)
    assert sorted(face.calls) == [3, 3]
    assert [o.faces for o in outcomes] == [1] * 6
