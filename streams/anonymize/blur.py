"""Region anonymization (pure numpy/cv2): gaussian, pixelate or solid, box or ellipse mask.

Only the pixels of each (margin-expanded) region are written; everything else in the frame keeps
its exact value. Strength 0..1 is mapped relative to the region's size, so a face far away and a
face close to the camera are equally unrecognisable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from streams.anonymize.geometry import Detection, Image
from streams.settings import FACE_SCORE_THRESHOLD, PLATE_SCORE_THRESHOLD

BlurMode = Literal["gaussian", "pixelate", "solid"]
MaskShape = Literal["box", "ellipse"]

MIN_SCORE = 0.05
_MAX_DIRECT_SIGMA = 6.0  # larger blurs run on a downscaled copy: same look, bounded cost


class BlurConfig(BaseModel):
    """How one frame is anonymized; the field names are the privacy policy's."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    face_blur_enabled: bool = True
    license_plate_blur_enabled: bool = True
    blur_strength: float = Field(default=0.8, ge=0.0, le=1.0, description="0 = none, 1 = max")
    blur_mode: BlurMode = "gaussian"
    mask_shape: MaskShape = "box"
    mask_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    fail_closed: bool = True
    fail_closed_action: Literal["blur", "drop"] = "blur"
    face_score_threshold: float = Field(default=FACE_SCORE_THRESHOLD, ge=0.0, le=1.0)
    plate_score_threshold: float = Field(default=PLATE_SCORE_THRESHOLD, ge=0.0, le=1.0)
    solid_color: tuple[int, int, int] = (0, 0, 0)

    def wants(self, kind: str) -> bool:
        return self.face_blur_enabled if kind == "FACE" else self.license_plate_blur_enabled

    def threshold(self, kind: str) -> float:
        """The score threshold for ``kind``; never below MIN_SCORE (0 would box every pixel)."""
        value = self.face_score_threshold if kind == "FACE" else self.plate_score_threshold
        return max(value, MIN_SCORE)


def expand(det: Detection, margin: float, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer region ``(x1, y1, x2, y2)`` grown by ``margin`` of its size, inside the frame."""
    dx, dy = det.width * margin, det.height * margin
    x1 = max(0, math.floor(det.x1 - dx))
    y1 = max(0, math.floor(det.y1 - dy))
    x2 = min(width, math.ceil(det.x2 + dx))
    y2 = min(height, math.ceil(det.y2 + dy))
    return x1, y1, x2, y2


def _gaussian(region: Image, sigma: float) -> Image:
    if sigma <= _MAX_DIRECT_SIGMA:
        return np.asarray(cv2.GaussianBlur(region, (0, 0), sigma), dtype=np.uint8)
    h, w = region.shape[:2]
    factor = sigma / _MAX_DIRECT_SIGMA
    small_w, small_h = max(1, round(w / factor)), max(1, round(h / factor))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), _MAX_DIRECT_SIGMA)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _pixelate(region: Image, strength: float) -> Image:
    h, w = region.shape[:2]
    cells = max(2, round(2 + 14 * (1.0 - strength)))  # cells along the longer side
    size = max(h, w) / cells
    small_w, small_h = max(1, round(w / size)), max(1, round(h / size))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), dtype=np.uint8)


def obscure(region: Image, config: BlurConfig) -> Image:
    """The anonymized version of ``region`` (a new array), without masking."""
    if config.blur_mode == "solid":
        out = np.empty_like(region)
        channels = 1 if region.ndim == 2 else region.shape[2]
        colour = (*config.solid_color, 255)  # opaque where there is an alpha channel
        out[:] = colour[0] if channels == 1 else colour[:channels]
        return out
    if config.blur_strength <= 0.0:
        return region.copy()
    if config.blur_mode == "pixelate":
        return _pixelate(region, config.blur_strength)
    sigma = config.blur_strength * max(region.shape[:2]) / 6.0
    return _gaussian(region, max(sigma, 0.5))


def ellipse_mask(height: int, width: int) -> NDArray[np.bool_]:
    """The ellipse inscribed in a ``height`` x ``width`` box."""
    mask = np.zeros((height, width), dtype=np.uint8)
    centre = (width // 2, height // 2)
    axes = (max(1, width // 2), max(1, height // 2))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, thickness=-1)
    return mask.astype(bool)


def anonymize_regions(
    image: Image, detections: Iterable[Detection], config: BlurConfig, in_place: bool = False
) -> Image:
    """``image`` with each detection's region anonymized per ``config``."""
    out = image if in_place else image.copy()
    height, width = out.shape[:2]
    for det in detections:
        x1, y1, x2, y2 = expand(det, config.mask_margin, height, width)
        if x2 <= x1 or y2 <= y1:
            continue
        region = out[y1:y2, x1:x2]
        replaced = obscure(region, config)
        if config.mask_shape == "ellipse":
            mask = ellipse_mask(y2 - y1, x2 - x1)
            region[mask] = replaced[mask]
        else:
            region[:] = replaced
    return out


def anonymize_whole(image: Image, config: BlurConfig) -> Image:
    """Fail-closed output: the whole frame obscured at least as strongly as a region would be."""
    strong = config.model_copy(update={"blur_strength": max(config.blur_strength, 0.8)})
    if strong.blur_mode == "gaussian":
        return _gaussian(image, max(image.shape[:2]) / 24.0)
    return obscure(image, strong)


def laplacian_variance(region: NDArray[Any]) -> float:
    """Sharpness of ``region`` (variance of its Laplacian): the blur tests' and stats' measure."""
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
