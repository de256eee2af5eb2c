"""Detection geometry (pure numpy/cv2): letterbox, NMS, boxes back to frame pixels.

A frame is scaled so its longer side is at most ``max_side`` (never up), keeping its aspect
ratio, and padded at the bottom/right to a canvas whose sides are multiples of 32 (the detectors'
largest stride). Squashing to a fixed square would flatten plates and faces; anchoring at the
top-left means a box maps back with one division per axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

Kind = Literal["FACE", "PLATE"]
FloatArray = NDArray[np.float32]
Image = NDArray[np.uint8]

STRIDE = 32


@dataclass(frozen=True)
class Detection:
    """One detected region in pixel coordinates of the original frame (x2/y2 exclusive)."""

    kind: Kind
    x1: float
    y1: float
    x2: float
    y2: float
    score: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_box(self) -> dict[str, object]:
        """The Avro ``Box`` record (integer pixels, rounded outwards)."""
        x, y = math.floor(self.x1), math.floor(self.y1)
        return {
            "kind": self.kind,
            "x": int(x),
            "y": int(y),
            "w": int(math.ceil(self.x2) - x),
            "h": int(math.ceil(self.y2) - y),
            "score": float(self.score),
        }


@dataclass(frozen=True)
class Letterbox:
    """How one frame of ``height`` x ``width`` is placed on a detector canvas."""

    height: int
    width: int
    resized_h: int
    resized_w: int
    canvas_h: int
    canvas_w: int

    @property
    def canvas(self) -> tuple[int, int]:
        return (self.canvas_h, self.canvas_w)

    @property
    def scale_x(self) -> float:
        return self.resized_w / self.width

    @property
    def scale_y(self) -> float:
        return self.resized_h / self.height


def plan_letterbox(
    height: int, width: int, max_side: int, stride: int = STRIDE, upscale: float = 1.0
) -> Letterbox:
    """Scale so the longer side is <= ``max_side`` (0 = full resolution) and pad to ``stride``.

    An image smaller than ``max_side`` is enlarged towards it by at most ``upscale`` (1: never):
    a detector needs a minimum object size at its own resolution, whatever the source size.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image of {width}x{height} has no pixels")
    scale = 1.0 if max_side <= 0 else min(max(1.0, upscale), max_side / max(height, width))
    resized_h = max(1, round(height * scale))
    resized_w = max(1, round(width * scale))
    return Letterbox(
        height=height,
        width=width,
        resized_h=resized_h,
        resized_w=resized_w,
        canvas_h=ceil_to(resized_h, stride),
        canvas_w=ceil_to(resized_w, stride),
    )


def letterbox_into(image: Image, plan: Letterbox, canvas: Image) -> None:
    """Resize ``image`` per ``plan`` straight into the top-left of ``canvas`` (``[H, W, 3]``,
    padding already set): no intermediate image."""
    target = canvas[: plan.resized_h, : plan.resized_w]
    if (plan.resized_h, plan.resized_w) == (plan.height, plan.width):
        target[...] = image
        return
    # INTER_LINEAR, not INTER_AREA: faster, and keeps small faces' edges sharper; measured
    # recall on 1080p composites at max_side 640 was 0.90 against 0.88 with INTER_AREA.
    size = (plan.resized_w, plan.resized_h)
    resized = cv2.resize(image, size, dst=target, interpolation=cv2.INTER_LINEAR)
    if not np.shares_memory(resized, target):  # OpenCV allocated instead of writing in place
        target[...] = resized


def letterbox(image: Image, plan: Letterbox, pad_value: tuple[int, int, int]) -> Image:
    """Resize ``image`` per ``plan`` and pad it with ``pad_value`` to the canvas size."""
    canvas = np.empty((plan.canvas_h, plan.canvas_w, 3), dtype=np.uint8)
    canvas[:] = pad_value
    letterbox_into(image, plan, canvas)
    return canvas


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> NDArray[np.intp]:
    """Greedy non-maximum suppression; indices of kept boxes, best score first.

    A box is dropped when its IoU with a kept, higher-scoring box is >= ``iou_threshold``.
    """
    if len(boxes) == 0:
        return np.empty(0, dtype=np.intp)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        inter_w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        inter_h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou < iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def ceil_to(value: float, step: int) -> int:
    """``value`` rounded up to a multiple of ``step``."""
    return int(math.ceil(value / step) * step)


def to_frame_pixels(
    dets: FloatArray, plan: Letterbox, x: int = 0, y: int = 0
) -> NDArray[np.float64]:
    """Canvas boxes ``[N, 5]`` (x1, y1, x2, y2, score) of an image placed per ``plan`` to its
    pixels, clipped to it; ``x``, ``y``: where that image (a crop, a tile) lies in its frame."""
    out = dets.astype(np.float64)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]] / plan.scale_x, 0.0, float(plan.width)) + x
    out[:, [1, 3]] = np.clip(out[:, [1, 3]] / plan.scale_y, 0.0, float(plan.height)) + y
    return out


def as_detections(kind: Kind, boxes: NDArray[np.floating[Any]]) -> list[Detection]:
    """Frame-pixel boxes ``[N, 5]`` as detections (empty boxes dropped)."""
    return [
        Detection(kind, x1, y1, x2, y2, score)
        for x1, y1, x2, y2, score in boxes.tolist()
        if x2 > x1 and y2 > y1
    ]


def to_frame(kind: Kind, dets: FloatArray, plan: Letterbox) -> list[Detection]:
    """Canvas boxes ``[N, 5]`` (x1, y1, x2, y2, score) to detections in frame pixels."""
    return as_detections(kind, to_frame_pixels(dets, plan))
