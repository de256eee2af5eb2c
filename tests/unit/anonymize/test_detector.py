"""OnnxDetector batching and error handling with a scripted inference session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from streams.anonymize.detector import CENTERFACE, FakeDetector, OnnxDetector, group_by_canvas
from streams.anonymize.exceptions import DetectionError
from streams.anonymize.geometry import Detection, plan_letterbox


class ScriptedSession:
    """Stands in for onnxruntime.InferenceSession: one face-centre peak per image."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.shapes: list[tuple[int, ...]] = []

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray]
    ) -> list[np.ndarray]:
        (blob,) = input_feed.values()
        self.shapes.append(blob.shape)
        if self.fail:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")
        b, h, w, _ = blob.shape  # CenterFace's derived copy takes uint8 BGR [B, H, W, 3]
        heat = np.zeros((b, 1, h // 4, w // 4), np.float32)
        heat[:, 0, 2, 2] = 0.9
        scale = np.full((b, 2, h // 4, w // 4), np.log(2.0), np.float32)  # 8 x 8 px
        offset = np.zeros((b, 2, h // 4, w // 4), np.float32)
        return [heat, scale, offset]


def _frames() -> list[np.ndarray]:
    hd = np.zeros((720, 1280, 3), np.uint8)
    vga = np.zeros((480, 640, 3), np.uint8)
    return [hd, vga, hd, hd, vga]


def test_frames_of_different_cameras_are_batched_by_canvas() -> None:
    session = ScriptedSession()
    detector = OnnxDetector(session, CENTERFACE, max_side=640, max_batch=2)
    found = detector.detect(_frames())

    assert sorted(session.shapes) == [(1, 384, 640, 3), (2, 384, 640, 3), (2, 480, 640, 3)]
    # one face per frame, mapped back to each frame's own pixels (720p was scaled by 1/2)
    assert [len(f) for f in found] == [1] * 5
    assert found[0][0] == Detection("FACE", 12.0, 12.0, 28.0, 28.0, pytest.approx(0.9))
    assert found[1][0] == Detection("FACE", 6.0, 6.0, 14.0, 14.0, pytest.approx(0.9))


def test_session_failure_is_a_detection_error() -> None:
    detector = OnnxDetector(ScriptedSession(fail=True), CENTERFACE)
    with pytest.raises(DetectionError) as caught:
        detector.detect(_frames())
    assert caught.value.reason == "detection_failed"


def test_grouping_preserves_order_within_a_canvas() -> None:
    plans = [plan_letterbox(*hw, 640) for hw in [(720, 1280), (480, 640), (1080, 1920)]]
    assert group_by_canvas(plans, 8) == [[0, 2], [1]]
    assert group_by_canvas(plans, 1) == [[0], [2], [1]]


def test_fake_detector_returns_boxes_by_image_size_and_records_batches() -> None:
    box = Detection("FACE", 1, 1, 5, 5, 0.9)
    fake = FakeDetector(boxes={(720, 1280): [box]})
    assert fake.detect(_frames()) == [[box], [], [box], [box], []]
    assert fake.calls == [5]
