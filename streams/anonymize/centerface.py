"""CenterFace pre- and post-processing (pure numpy): no onnxruntime here.

The network takes RGB 0-255 floats ``[B, 3, H, W]`` (H, W multiples of 32); the copies that
``camguard models fetch`` derives take the letterboxed BGR frames themselves, uint8
``[B, H, W, 3]``, and convert inside the graph (:func:`streams.anonymize.derive.bgr_uint8_input`).
It returns, at
stride 4, a face-centre heatmap ``[B, 1, h, w]``, log box sizes ``[B, 2, h, w]`` (height,
width) and sub-cell centre offsets ``[B, 2, h, w]`` (y, x). The decoding follows deface 1.5.0's
``CenterFace.decode``, vectorised and per batch element.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streams.anonymize.geometry import FloatArray, Image, Letterbox, letterbox_into, nms

INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539")  # heatmap, scale, offset (landmarks "540" are unused)
OUTPUT_STRIDE = 4
NMS_IOU = 0.3


def preprocess(images_bgr: Sequence[Image], plans: Sequence[Letterbox]) -> Image:
    """BGR frames (same canvas) to the network input: uint8 BGR ``[B, H, W, 3]``, each frame
    resized straight into its zero-padded slot (no float copy; the graph converts)."""
    canvas_h, canvas_w = plans[0].canvas
    batch = np.zeros((len(images_bgr), canvas_h, canvas_w, 3), dtype=np.uint8)
    for slot, image, plan in zip(batch, images_bgr, plans, strict=True):
        letterbox_into(image, plan, slot)
    return batch


def decode_one(
    heatmap: FloatArray,
    scale: FloatArray,
    offset: FloatArray,
    plan: Letterbox,
    threshold: float,
) -> FloatArray:
    """One batch element's outputs (``[1|2, h, w]`` each) to canvas boxes ``[N, 5]``.

    Boxes are clipped to the resized image inside the canvas, so padding never yields a box.
    """
    ys, xs = np.nonzero(heatmap[0] > threshold)
    if ys.size == 0:
        return np.empty((0, 5), dtype=np.float32)
    box_h = np.exp(scale[0, ys, xs]) * OUTPUT_STRIDE
    box_w = np.exp(scale[1, ys, xs]) * OUTPUT_STRIDE
    limit_w, limit_h = float(plan.resized_w), float(plan.resized_h)
    x1 = np.clip((xs + offset[1, ys, xs] + 0.5) * OUTPUT_STRIDE - box_w / 2, 0.0, limit_w)
    y1 = np.clip((ys + offset[0, ys, xs] + 0.5) * OUTPUT_STRIDE - box_h / 2, 0.0, limit_h)
    x2 = np.minimum(x1 + box_w, limit_w)
    y2 = np.minimum(y1 + box_h, limit_h)
    dets = np.stack([x1, y1, x2, y2, heatmap[0, ys, xs]], axis=1).astype(np.float32)
    return dets[nms(dets[:, :4], dets[:, 4], NMS_IOU)]


def decode(
    outputs: Sequence[FloatArray], plans: Sequence[Letterbox], threshold: float
) -> list[FloatArray]:
    """Batch outputs ``(heatmap, scale, offset)`` to one ``[N, 5]`` canvas array per frame."""
    heatmaps, scales, offsets = outputs[0], outputs[1], outputs[2]
    return [
        decode_one(heatmaps[i], scales[i], offsets[i], plan, threshold)
        for i, plan in enumerate(plans)
    ]
