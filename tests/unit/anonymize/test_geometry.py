"""Letterbox, NMS and box mapping: the maths every detector shares."""

from __future__ import annotations

import numpy as np
import pytest

from streams.anonymize.geometry import Detection, letterbox, nms, plan_letterbox, to_frame


@pytest.mark.parametrize(
    ("hw", "max_side", "resized", "canvas"),
    [
        ((1080, 1920), 640, (360, 640), (384, 640)),
        ((720, 1280), 640, (360, 640), (384, 640)),
        ((480, 640), 1280, (480, 640), (480, 640)),  # never upscaled
        ((1080, 1920), 0, (1080, 1920), (1088, 1920)),  # 0 = full resolution
        ((1920, 1080), 640, (640, 360), (640, 384)),  # portrait keeps its aspect ratio
        ((5, 7), 640, (5, 7), (32, 32)),
    ],
)
def test_letterbox_keeps_aspect_ratio_and_pads_to_stride(
    hw: tuple[int, int], max_side: int, resized: tuple[int, int], canvas: tuple[int, int]
) -> None:
    plan = plan_letterbox(*hw, max_side)
    assert (plan.resized_h, plan.resized_w) == resized
    assert plan.canvas == canvas


def test_letterbox_image_is_padded_bottom_right_with_the_pad_colour() -> None:
    image = np.full((90, 160, 3), 200, dtype=np.uint8)
    plan = plan_letterbox(90, 160, 80)
    out = letterbox(image, plan, (1, 2, 3))
    assert out.shape == (64, 96, 3)
    assert (out[:45, :80] == 200).all()
    assert (out[45:, :] == (1, 2, 3)).all()
    assert (out[:, 80:] == (1, 2, 3)).all()


def test_empty_image_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_letterbox(0, 10, 640)


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_boxes() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=np.float32
    )
    scores = np.array([0.8, 0.9, 0.5, 0.1], dtype=np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(boxes[:0], scores[:0], 0.3).tolist() == []


def test_canvas_boxes_map_back_to_frame_pixels_and_are_clipped() -> None:
    plan = plan_letterbox(1080, 1920, 640)  # scale 1/3
    dets = np.array([[10, 20, 40, 50, 0.9], [630, 350, 700, 400, 0.8]], dtype=np.float32)
    found = to_frame("FACE", dets, plan)
    assert found[0] == Detection("FACE", 30.0, 60.0, 120.0, 150.0, pytest.approx(0.9))
    assert (found[1].x2, found[1].y2) == (1920.0, 1080.0)


def test_box_record_rounds_outwards() -> None:
    box = Detection("PLATE", 10.4, 20.6, 30.2, 40.1, 0.75).as_box()
    assert box == {"kind": "PLATE", "x": 10, "y": 20, "w": 21, "h": 21, "score": 0.75}
