"""A clip through the real detectors keeps its frame count and frame rate."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from streams.anonymize.blur import laplacian_variance
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.pipeline import Anonymizer
from streams.settings import Settings
from tests.models.scenes import ASTRONAUT_FACE, astronaut_bgr

pytestmark = pytest.mark.models

FRAMES, FPS = 12, 10


def _write(path: Path) -> None:
    base = cv2.resize(astronaut_bgr(), (320, 320))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 320, "yuv420p"
        for i in range(FRAMES):
            image = np.roll(base, i * 2, axis=1)  # the face moves right
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _read(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video)]
        return frames, float(video.average_rate or 0)


async def test_clip_round_trip_blurs_the_face_in_every_frame(
    tmp_path: Path, anonymizer: Anonymizer
) -> None:
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    _write(source)
    async with AnonymizationMiddleware(anonymizer, Settings(batch_max_frames=4)) as middleware:
        summary = await middleware.process_clip(source, target)

    frames_in, fps_in = _read(source)
    frames_out, fps_out = _read(target)
    assert (len(frames_out), fps_out) == (len(frames_in), fps_in) == (FRAMES, FPS)
    assert summary.faces >= FRAMES
    assert summary.fail_closed_frames == 0
    scale = 320 / 512
    x1, y1, x2, y2 = (int(v * scale) for v in ASTRONAUT_FACE)
    for i, (before, after) in enumerate(zip(frames_in, frames_out, strict=True)):
        shift = i * 2
        face_in = before[y1:y2, x1 + shift : x2 + shift]
        face_out = after[y1:y2, x1 + shift : x2 + shift]
        assert laplacian_variance(face_out) < laplacian_variance(face_in) / 5, i
