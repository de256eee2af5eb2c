"""The world-wide licence-plate detector (YOLOv8n, ``yolov8_plate``): pure numpy pre/post.

The ONNX model is converted at fetch time from safelicensing's ``best.pt``
(:mod:`streams.anonymize.yolov8`). It takes the letterboxed frames themselves, uint8 BGR
``[B, H, W, 3]`` (H, W multiples of 32), and returns ``output0`` ``[B, 5, N]``: per anchor
cx, cy, w, h in canvas pixels and the plate score (sigmoid), anchors decoded in the graph.

Preprocessing is Ultralytics' letterbox except for the anchoring: the frame is scaled into the
top-left of the canvas (:func:`streams.anonymize.geometry.plan_letterbox`) and the rest is grey
114, as Ultralytics pads. Decoding follows Ultralytics' ``non_max_suppression`` defaults for
``predict``: scores above the threshold (0.25 by default), IoU 0.7, at most 300 boxes; boxes are
then clipped to the resized frame inside the canvas (Ultralytics clips after NMS as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from streams.anonymize.geometry import FloatArray, Image, Letterbox, letterbox_into, nms

if TYPE_CHECKING:
    from streams.anonymize.detector import ModelCodec

INPUT_NAME = "images"
OUTPUT_NAMES = ("output0",)
PAD_VALUE = 114
NMS_IOU = 0.7  # Ultralytics' predict default
MAX_DETECTIONS = 300
DEFAULT_THRESHOLD = 0.25  # Ultralytics' predict default


def preprocess(images_bgr: Sequence[Image], plans: Sequence[Letterbox]) -> Image:
    """BGR frames (same canvas) to the network input: uint8 BGR ``[B, H, W, 3]``, each frame
    resized straight into the top-left of its grey (114) slot."""
    canvas_h, canvas_w = plans[0].canvas
    batch = np.full((len(images_bgr), canvas_h, canvas_w, 3), PAD_VALUE, dtype=np.uint8)
    for slot, image, plan in zip(batch, images_bgr, plans, strict=True):
        letterbox_into(image, plan, slot)
    return batch


def decode_one(output: FloatArray, plan: Letterbox, threshold: float) -> FloatArray:
    """One batch element's ``[4 + nc, N]`` to canvas boxes ``[M, 5]`` (x1, y1, x2, y2, score),
    best first, clipped to the resized frame."""
    if output.ndim != 2 or output.shape[0] < 5:
        raise ValueError(f"expected [4 + nc, N] predictions, got {output.shape}")
    scores = output[4:].max(axis=0)
    keep = np.nonzero(scores > threshold)[0]
    if keep.size == 0:
        return np.empty((0, 5), dtype=np.float32)
    cx, cy, w, h = output[:4, keep]
    half_w, half_h = w / 2, h / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    dets = np.concatenate([boxes, scores[keep, None]], axis=1).astype(np.float32)
    dets = dets[nms(dets[:, :4], dets[:, 4], NMS_IOU)[:MAX_DETECTIONS]]
    limits = np.asarray([plan.resized_w, plan.resized_h] * 2, dtype=np.float32)
    dets[:, :4] = np.clip(dets[:, :4], 0.0, limits)
    return dets


def decode(
    outputs: Sequence[FloatArray], plans: Sequence[Letterbox], threshold: float
) -> list[FloatArray]:
    """Batch output ``(output0,)`` ``[B, 4 + nc, N]`` to one ``[M, 5]`` canvas array per frame."""
    (predictions,) = outputs[:1]
    if len(predictions) != len(plans):
        raise ValueError(f"{len(predictions)} predictions for {len(plans)} frames")
    return [decode_one(predictions[i], plan, threshold) for i, plan in enumerate(plans)]


def codec() -> ModelCodec:
    """The :class:`~streams.anonymize.detector.ModelCodec` of ``yolov8_plate``."""
    # imported here: detector.py may import this module
    from streams.anonymize.detector import ModelCodec

    return ModelCodec(
        name="yolov8_plate",
        kind="PLATE",
        input_name=INPUT_NAME,
        output_names=OUTPUT_NAMES,
        preprocess=preprocess,
        decode=decode,
        default_threshold=DEFAULT_THRESHOLD,
    )
