"""Dashboard thumbnails: an ``AnonymizedFrame`` (already anonymized) scaled down, with its
detection boxes drawn (faces green, plates amber), as JPEG.

Runs only when a preview is asked for, off the event loop (the view uses a thread); the image is
decoded with the same checks as the frames path (:func:`streams.anonymize.images.decode`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from streams.anonymize.images import decode, encode

THUMBNAIL_SIDE = 320
MAX_PIXELS = 40_000_000
#: Box colours (BGR) by kind.
COLOURS = {"FACE": (60, 200, 60), "PLATE": (0, 170, 255)}


def thumbnail(record: Mapping[str, Any], side: int = THUMBNAIL_SIDE, quality: int = 75) -> bytes:
    """The frame of ``record`` (an AnonymizedFrame) at most ``side`` px wide or high, boxes
    drawn, as JPEG bytes. Raises the image errors of :mod:`streams.anonymize.images`."""
    image, _ = decode(bytes(record["data"]), MAX_PIXELS)
    height, width = image.shape[:2]
    scale = min(1.0, side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    else:
        image = image.copy()
    thickness = max(1, round(2 * max(scale, 0.5)))
    for box in record.get("boxes") or ():
        x, y = round(box["x"] * scale), round(box["y"] * scale)
        w, h = round(box["w"] * scale), round(box["h"] * scale)
        colour = COLOURS.get(str(box.get("kind")), (255, 255, 255))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness)
    return encode(image, "JPEG", quality)
