"""CenterFace and plate-detector decoding on hand-made network outputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from streams.anonymize import centerface, plates
from streams.anonymize.geometry import plan_letterbox


def _centerface_outputs(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    heat = np.zeros((1, h // 4, w // 4), dtype=np.float32)
    scale = np.zeros((2, h // 4, w // 4), dtype=np.float32)
    offset = np.zeros((2, h // 4, w // 4), dtype=np.float32)
    return heat, scale, offset


def test_centerface_peak_becomes_a_box_of_the_predicted_size() -> None:
    plan = plan_letterbox(128, 128, 0)
    heat, scale, offset = _centerface_outputs(128, 128)
    heat[0, 10, 20] = 0.9
    scale[:, 10, 20] = (math.log(40 / 4), math.log(24 / 4))  # height 40, width 24
    offset[:, 10, 20] = (0.25, -0.5)  # y, x
    dets = centerface.decode_one(heat, scale, offset, plan, threshold=0.5)
    cx, cy = (20 - 0.5 + 0.5) * 4, (10 + 0.25 + 0.5) * 4
    assert dets.tolist() == [pytest.approx([cx - 12, cy - 20, cx + 12, cy + 20, 0.9], abs=1e-4)]


def test_centerface_neighbouring_peaks_merge_and_weak_ones_are_ignored() -> None:
    plan = plan_letterbox(128, 128, 0)
    heat, scale, offset = _centerface_outputs(128, 128)
    scale[:] = math.log(32 / 4)
    heat[0, 10, 10], heat[0, 10, 11], heat[0, 25, 25] = 0.9, 0.8, 0.3
    dets = centerface.decode_one(heat, scale, offset, plan, threshold=0.5)
    assert len(dets) == 1
    assert dets[0, 4] == pytest.approx(0.9)


def test_centerface_boxes_stay_inside_the_image_not_the_padding() -> None:
    plan = plan_letterbox(100, 100, 0)  # canvas 128 x 128, image 100 x 100
    heat, scale, offset = _centerface_outputs(128, 128)
    heat[0, 24, 24] = 0.9
    scale[:, 24, 24] = math.log(40 / 4)
    (box,) = centerface.decode_one(heat, scale, offset, plan, threshold=0.5)
    assert box[2] == 100.0
    assert box[3] == 100.0


def test_centerface_preprocess_letterboxes_bgr_frames_into_a_zero_padded_uint8_batch() -> None:
    bgr = np.zeros((100, 160, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # blue
    plan = plan_letterbox(100, 160, 80)  # halved to 50 x 80, padded to 64 x 96
    batch = centerface.preprocess([bgr, bgr], [plan] * 2)
    assert batch.shape == (2, 64, 96, 3)
    assert batch.dtype == np.uint8
    assert (batch[:, :50, :80, 0] == 255).all()
    assert (batch[:, :50, :80, 1:] == 0).all()
    assert (batch[:, 50:] == 0).all()
    assert (batch[:, :, 80:] == 0).all()


def test_centerface_preprocess_of_a_frame_that_fits_copies_it_unchanged() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    (canvas,) = centerface.preprocess([frame], [plan_letterbox(40, 70, 640)])
    assert canvas.shape == (64, 96, 3)
    assert (canvas[:40, :70] == frame).all()
    assert not canvas[40:].any()
    assert not canvas[:, 70:].any()


def _reference_priors(h: int, w: int) -> np.ndarray:
    """agentclpr 1.1.0's CLPDetector.gen_priors, transcribed."""
    anchors = []
    for k, step in enumerate(plates.STEPS):
        for i, j in itertools.product(range(math.ceil(h / step)), range(math.ceil(w / step))):
            for size in plates.MIN_SIZES[k]:
                anchors += [(j + 0.5) * step / w, (i + 0.5) * step / h, size / w, size / h]
    return np.array(anchors).reshape(-1, 4)


@pytest.mark.parametrize(("h", "w"), [(64, 96), (384, 640), (32, 32)])
def test_plate_priors_match_agentclpr_and_are_cached(h: int, w: int) -> None:
    first = plates.priors(h, w)
    np.testing.assert_allclose(first, _reference_priors(h, w), rtol=1e-6)
    assert plates.priors(h, w) is first
    assert not first.flags.writeable


def test_plate_zero_offsets_decode_to_the_prior_and_low_scores_are_dropped() -> None:
    plan = plan_letterbox(64, 96, 0)
    prior = plates.priors(64, 96)
    loc = np.zeros((len(prior), 4), dtype=np.float32)
    conf = np.zeros((len(prior), 2), dtype=np.float32)
    conf[0, 1], conf[5, 1] = 0.9, 0.2
    dets = plates.decode_one(loc, conf, plan, threshold=0.5)
    # prior 0: centre (4, 4), 24 x 24 px, clipped at the top-left corner
    assert dets.tolist() == [pytest.approx([0.0, 0.0, 16.0, 16.0, 0.9])]


def test_plate_prediction_count_must_match_the_priors() -> None:
    plan = plan_letterbox(64, 96, 0)
    with pytest.raises(ValueError):
        plates.decode_one(np.zeros((3, 4), np.float32), np.zeros((3, 2), np.float32), plan, 0.5)


def test_plate_preprocess_pads_with_the_mean_so_padding_is_zero() -> None:
    image = np.full((50, 96, 3), 255, dtype=np.uint8)
    blob = plates.preprocess([image], [plan_letterbox(50, 96, 0)])
    assert blob.shape == (1, 3, 64, 96)
    assert (blob[0, :, 50:, :] == 0).all()
    assert blob[0, :, 0, 0].tolist() == [151.0, 138.0, 132.0]
