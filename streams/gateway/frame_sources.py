"""Frame sources: a synthetic scene, or anything OpenCV opens (files, RTSP, HTTP streams).

Reading blocks (decoding, network), so the camera loop calls :meth:`FrameSource.read` in an
executor. ``read`` returns a BGR image, or None when a frame could not be read (the loop
reports it and reopens the source).

The synthetic scene is deterministic for a seed and frame index: a drifting gradient, a car
with a licence-plate-like white box and text, and (by default) a face-like pattern, a skin-tone
ellipse with eyes and a mouth, walking across; enough for the detectors to have work to do.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from streams.gateway.exceptions import SourceError

Image = npt.NDArray[np.uint8]
SYNTHETIC = "synthetic"


class FrameSource(Protocol):
    """A camera: blocking reads of BGR images."""

    def read(self) -> Image | None: ...

    def close(self) -> None: ...


def render_synthetic(index: int, width: int, height: int, seed: int, face: bool = True) -> Image:
    """Frame ``index`` of the synthetic scene (pure: same arguments, same pixels)."""
    t = index / 10.0 + seed
    ys, xs = np.mgrid[0:height, 0:width]
    base = ((xs + 3 * index) % width * 160 // max(width, 1) + 40).astype(np.uint8)
    frame = np.stack(
        [base, ((ys * 120) // max(height, 1) + 60).astype(np.uint8), np.full_like(base, 90)],
        axis=-1,
    )
    frame = np.ascontiguousarray(frame)
    car_x = int((index * 7 + seed * 31) % (width + 200)) - 200
    car_y = int(height * 0.62)
    cv2.rectangle(frame, (car_x, car_y), (car_x + 180, car_y + 70), (40, 40, 200), -1)
    plate = (car_x + 60, car_y + 40)
    cv2.rectangle(frame, plate, (plate[0] + 60, plate[1] + 18), (245, 245, 245), -1)
    cv2.putText(frame, "CG 042", (plate[0] + 3, plate[1] + 14), 0, 0.4, (10, 10, 10), 1)
    if face:
        cx = int(width * (0.5 + 0.35 * math.sin(t / 3)))
        cy = int(height * 0.35)
        size = max(12, min(width, height) // 9)
        cv2.ellipse(frame, (cx, cy), (size, int(size * 1.3)), 0, 0, 360, (140, 180, 225), -1)
        for dx in (-size // 3, size // 3):
            cv2.circle(frame, (cx + dx, cy - size // 4), max(2, size // 7), (30, 30, 30), -1)
        cv2.ellipse(
            frame, (cx, cy + size // 2), (size // 3, size // 8), 0, 0, 180, (40, 40, 120), 2
        )
    cv2.putText(frame, f"#{index}", (8, 20), 0, 0.6, (255, 255, 255), 1)
    return frame


class SyntheticSource:
    """A generated moving scene; never fails."""

    def __init__(self, width: int = 640, height: int = 360, seed: int = 0, face: bool = True):
        self.width, self.height, self.seed, self.face = width, height, seed, face
        self.index = 0

    def read(self) -> Image | None:
        frame = render_synthetic(self.index, self.width, self.height, self.seed, self.face)
        self.index += 1
        return frame

    def close(self) -> None:
        return None


class OpenCVSource:
    """A file, RTSP or HTTP stream read with OpenCV's FFmpeg backend. Opening blocks."""

    def __init__(self, uri: str, *, loop_file: bool = True, timeout_ms: int = 5000) -> None:
        self.uri = uri
        self.is_file = "://" not in uri
        if self.is_file and not Path(uri).exists():
            raise SourceError(f"video file {uri} does not exist")
        self.loop_file = loop_file
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        self._capture = cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"OpenCV could not open {uri}")

    def read(self) -> Image | None:
        ok, frame = self._capture.read()
        if not ok and self.is_file and self.loop_file:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        return np.asarray(frame, dtype=np.uint8)

    def close(self) -> None:
        self._capture.release()


def open_source(uri: str, *, width: int = 640, height: int = 360, seed: int = 0) -> FrameSource:
    """``synthetic``, ``synthetic:noface`` or an OpenCV URI/path. May block; may raise."""
    if uri == SYNTHETIC or uri.startswith(SYNTHETIC + ":"):
        return SyntheticSource(width, height, seed, face=not uri.endswith(":noface"))
    return OpenCVSource(uri)


def encode_jpeg(frame: Image, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR image (CPU-bound: call it in an executor)."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SourceError("JPEG encoding failed")
    return bytes(buf)
