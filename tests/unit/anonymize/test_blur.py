"""Blur: only regions change, and they stop being sharp."""

from __future__ import annotations

import numpy as np
import pytest

from streams.anonymize.blur import (
    BlurConfig,
    anonymize_regions,
    anonymize_whole,
    expand,
    laplacian_variance,
)
from streams.anonymize.geometry import Detection


def _texture(h: int = 360, w: int = 640, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).any(axis=2)


FACE = Detection("FACE", 100.0, 50.0, 200.0, 170.0, 0.9)
SMALL = Detection("FACE", 400.0, 300.0, 420.0, 324.0, 0.9)


@pytest.mark.parametrize("mode", ["gaussian", "pixelate", "solid"])
def test_only_the_margin_expanded_boxes_change_and_they_lose_detail(mode: str) -> None:
    image = _texture()
    config = BlurConfig(blur_mode=mode, mask_margin=0.1)
    out = anonymize_regions(image, [FACE, SMALL], config)

    allowed = np.zeros(image.shape[:2], dtype=bool)
    for det in (FACE, SMALL):
        x1, y1, x2, y2 = expand(det, 0.1, *image.shape[:2])
        allowed[y1:y2, x1:x2] = True
        before = laplacian_variance(image[y1:y2, x1:x2])
        after = laplacian_variance(out[y1:y2, x1:x2])
        assert after < before / 20
    assert not _changed(image, out)[~allowed].any()
    assert out is not image
    assert (image == _texture()).all()


def test_ellipse_mask_leaves_the_box_corners_alone() -> None:
    image = _texture()
    out = anonymize_regions(image, [FACE], BlurConfig(mask_shape="ellipse", mask_margin=0.0))
    changed = _changed(image, out)
    assert not changed[50, 100]  # top-left corner of the box
    assert changed[110, 150]  # centre


def test_margin_grows_the_box_and_is_clipped_to_the_frame() -> None:
    assert expand(FACE, 0.1, 360, 640) == (90, 38, 210, 182)
    edge = Detection("PLATE", 0.0, 0.0, 50.0, 20.0, 0.9)
    assert expand(edge, 0.5, 360, 640) == (0, 0, 75, 30)


@pytest.mark.parametrize("strength", [0.3, 0.6, 1.0])
def test_stronger_blur_removes_more_detail(strength: float) -> None:
    image = _texture()
    weak = anonymize_regions(image, [FACE], BlurConfig(blur_strength=strength * 0.5))
    strong = anonymize_regions(image, [FACE], BlurConfig(blur_strength=strength))
    region = (slice(50, 170), slice(100, 200))
    assert laplacian_variance(strong[region]) < laplacian_variance(weak[region])


def test_large_regions_blur_as_strongly_as_small_ones() -> None:
    image = _texture(1080, 1920)
    big = Detection("FACE", 200.0, 100.0, 800.0, 900.0, 0.9)
    out = anonymize_regions(image, [big], BlurConfig())
    region = (slice(100, 900), slice(200, 800))
    assert laplacian_variance(out[region]) < laplacian_variance(image[region]) / 100


def test_in_place_writes_into_the_given_array() -> None:
    image = _texture()
    out = anonymize_regions(image, [FACE], BlurConfig(), in_place=True)
    assert out is image


def test_whole_frame_fail_closed_blur_covers_everything() -> None:
    image = _texture()
    out = anonymize_whole(image, BlurConfig(blur_strength=0.1))
    assert out.shape == image.shape
    assert laplacian_variance(out) < laplacian_variance(image) / 100
    solid = anonymize_whole(image, BlurConfig(blur_mode="solid"))
    assert (solid == 0).all()


def test_config_rejects_out_of_range_strength() -> None:
    with pytest.raises(ValueError):
        BlurConfig(blur_strength=1.5)
