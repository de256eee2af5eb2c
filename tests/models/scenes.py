"""Test scenes with known ground truth: astronaut composites and rendered licence plates.

Provenance: ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) and
``skimage.data.coffee()`` (Rachel Michetti, CC0), both shipped with scikit-image. Plates are
synthetic renders drawn here with OpenCV (no real plate numbers).
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

Box = tuple[float, float, float, float]

# The astronaut's face in the 512 x 512 image (x1, y1, x2, y2), checked by eye.
ASTRONAUT_FACE: Box = (181.0, 58.0, 270.0, 178.0)
_HEAD = (0, 300, 100, 350)  # rows, cols of the crop pasted into composites


def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


def background(height: int, width: int) -> np.ndarray:
    coffee = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA))


def iou(a: Box, b: Box) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def face_composite(
    height: int, width: int, face_height: int, rng: np.random.Generator
) -> tuple[np.ndarray, Box]:
    """The astronaut's head scaled so her face is ``face_height`` px tall, pasted at random."""
    r0, r1, c0, c1 = _HEAD
    scale = face_height / (ASTRONAUT_FACE[3] - ASTRONAUT_FACE[1])
    head = cv2.resize(
        astronaut_bgr()[r0:r1, c0:c1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
    )
    h, w = head.shape[:2]
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    image = background(height, width)
    image[y : y + h, x : x + w] = head
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    face = (
        x + (fx1 - c0) * scale,
        y + (fy1 - r0) * scale,
        x + (fx2 - c0) * scale,
        y + (fy2 - r0) * scale,
    )
    return image, face


def plate_scene(
    height: int,
    width: int,
    plate_width: int,
    rng: np.random.Generator,
    plate_bgr: tuple[int, int, int] = (200, 80, 20),
    text_bgr: tuple[int, int, int] = (255, 255, 255),
    text: str = "A 12345",
) -> tuple[np.ndarray, Box]:
    """A car-like shape on a road with a plate of ``plate_width`` px (default: blue, white text)."""
    image = np.full((height, width, 3), 120, np.uint8)
    image[height * 2 // 3 :] = 70  # road
    cw, ch = int(plate_width * 3.2), int(plate_width * 1.6)
    cx = int(rng.integers(cw // 2 + 1, width - cw // 2 - 1))
    cy = int(rng.integers(ch + 1, height - ch // 2 - ch // 4 - 1))
    cv2.rectangle(
        image, (cx - cw // 2, cy - ch // 2), (cx + cw // 2, cy + ch // 2), (40, 40, 160), -1
    )
    cv2.rectangle(image, (cx - cw // 3, cy - ch), (cx + cw // 3, cy - ch // 2), (30, 30, 120), -1)
    cv2.rectangle(
        image,
        (cx - cw // 3 + 6, cy - ch + 6),
        (cx + cw // 3 - 6, cy - ch // 2 - 4),
        (160, 140, 120),
        -1,
    )
    for side in (-1, 1):
        cv2.circle(image, (cx + side * cw // 3, cy + ch // 2), ch // 4, (20, 20, 20), -1)
    ph = int(plate_width * 0.28)
    x1, y1 = cx - plate_width // 2, cy + ch // 6
    cv2.rectangle(image, (x1, y1), (x1 + plate_width, y1 + ph), plate_bgr, -1)
    cv2.rectangle(image, (x1, y1), (x1 + plate_width, y1 + ph), (0, 0, 0), 2)
    size = ph / 32
    thickness = max(1, int(size * 2.5))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)
    origin = (x1 + (plate_width - tw) // 2, y1 + (ph + th) // 2)
    cv2.putText(
        image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, text_bgr, thickness, cv2.LINE_AA
    )
    return image, (float(x1), float(y1), float(x1 + plate_width), float(y1 + ph))
