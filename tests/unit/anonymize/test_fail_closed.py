"""Fail closed with onnxruntime's real errors (a tiny real model that fails on some shapes).

onnxruntime raises ``onnxruntime_pybind11_state.Fail`` / ``InvalidArgument`` /
``RuntimeException`` / ``EPFail``, which derive from ``Exception``, not ``RuntimeError``: a
detector or a provider fallback that catches ``RuntimeError`` lets them through.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from streams.anonymize.blur import BlurConfig, laplacian_variance
from streams.anonymize.detector import CENTERFACE, FakeDetector, OnnxDetector
from streams.anonymize.exceptions import DetectionError, EncodeError, ProviderError
from streams.anonymize.geometry import Detection
from streams.anonymize.pipeline import Anonymizer, EncodedJob, FrameOutcome
from streams.anonymize.runtime import ONNXOptimizer
from streams.settings import Settings
from tests.unit.anonymize.failing_model import BAD_FRAME, failing_session

HD = (720, 1280)
PLATE = Detection("PLATE", 300, 400, 420, 440, 0.8)


def _frame(hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def _core() -> Anonymizer:
    faces = OnnxDetector(failing_session(), CENTERFACE, max_side=640)
    plates = FakeDetector("PLATE", "plates", default=[PLATE])
    return Anonymizer({"FACE": faces, "PLATE": plates})


def test_onnxruntime_errors_are_not_runtime_errors() -> None:
    """Why the detector catches Exception: the real error classes."""
    session = failing_session()
    with pytest.raises(Exception) as caught:
        session.run(None, {"input.1": np.zeros((1, *BAD_FRAME, 3), np.uint8)})
    assert type(caught.value).__module__.startswith("onnxruntime")
    assert not isinstance(caught.value, RuntimeError)


def test_a_real_onnxruntime_failure_is_a_detection_error() -> None:
    detector = OnnxDetector(failing_session(), CENTERFACE, max_side=640)
    assert detector.detect([_frame(HD)]) == [[]]
    with pytest.raises(DetectionError) as caught:
        detector.detect([_frame(BAD_FRAME)])
    assert type(caught.value.__cause__).__module__.startswith("onnxruntime")
    assert "Add node" in str(caught.value)  # the broadcast the graph cannot make


def test_the_failing_frame_fails_closed_and_its_batch_neighbours_are_normal() -> None:
    core = _core()
    good, bad = _frame(HD, 1), _frame(BAD_FRAME, 2)
    outcomes = core.anonymize([good, bad, good], [BlurConfig()] * 3)

    normal, failed, normal_too = outcomes
    for outcome in (normal, normal_too):
        assert not outcome.fail_closed
        assert outcome.error is None
        assert outcome.plates == 1  # the other detector's boxes are kept
    assert failed.fail_closed
    assert failed.error is not None
    assert failed.error.reason == "detection_failed"
    assert failed.image is not None
    assert laplacian_variance(failed.image) < laplacian_variance(bad) / 100  # blurred whole
    assert core.counters["fail_closed"] == 1
    assert core.counters["batch_retried"] == 1  # the batch was retried frame by frame


def test_drop_withholds_and_no_fail_closed_dead_letters_the_failing_frame() -> None:
    core = _core()
    bad = _frame(BAD_FRAME)
    dropped, refused = core.anonymize(
        [bad, bad], [BlurConfig(fail_closed_action="drop"), BlurConfig(fail_closed=False)]
    )
    assert dropped.image is None
    assert dropped.fail_closed
    assert refused.image is None
    assert not refused.fail_closed
    assert refused.error is not None
    assert refused.error.reason == "detection_failed"


def test_encoded_frames_fail_closed_through_a_real_onnxruntime_error() -> None:
    core = _core()
    bad = _frame(BAD_FRAME)
    data = bytes(cv2.imencode(".jpg", bad)[1])
    (result,) = core.anonymize_encoded([EncodedJob(data, BlurConfig())])
    assert result.outcome.fail_closed
    assert result.data
    decoded = cv2.imdecode(np.frombuffer(result.data, np.uint8), cv2.IMREAD_COLOR)
    assert laplacian_variance(decoded) < laplacian_variance(bad) / 50


def test_a_blur_that_raises_fails_the_frame_closed() -> None:
    """A broken model can emit NaN boxes: the region blur raises (ValueError from the pixel
    maths), the frame is blurred whole instead."""
    nan_box = Detection("FACE", float("nan"), 10, 60, 60, 0.9)
    core = Anonymizer({"FACE": FakeDetector(default=[nan_box])})
    frame = _frame(HD)
    (outcome,) = core.anonymize([frame], [BlurConfig(license_plate_blur_enabled=False)])
    assert outcome.fail_closed
    assert outcome.error is not None
    assert outcome.error.reason == "blur_failed"
    assert outcome.image is not None
    assert laplacian_variance(outcome.image) < laplacian_variance(frame) / 100


def test_an_encode_failure_withholds_the_frame() -> None:
    """OpenCV's real encoder error (a 2-channel image) withholds the frame: no data."""
    core = Anonymizer({"FACE": FakeDetector()})
    outcome = FrameOutcome(np.zeros((8, 8, 2), np.uint8))
    data, withheld = core._encode(outcome, "JPEG", BlurConfig())
    assert data == b""
    assert withheld.image is None
    assert isinstance(withheld.error, EncodeError)
    assert "cv2.error" in str(withheld.error) or "error" in str(withheld.error)
    assert core.counters["error.encode_failed"] == 1


def test_provider_fallback_catches_onnxruntime_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A model onnxruntime cannot load raises InvalidProtobuf (not a RuntimeError): every
    provider of the plan is tried, then ProviderError, never the raw onnxruntime error."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    optimizer = ONNXOptimizer(
        True,
        Settings(providers="cuda,cpu"),
        available=["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    caplog.set_level(logging.WARNING, "streams.anonymize.runtime")
    with pytest.raises(ProviderError):
        optimizer.create_session("centerface", broken)
    tried = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert len(tried) == 2
    assert "INVALID_PROTOBUF" in tried[-1]  # CUDA is absent here: its try is a warning
    assert ort.get_available_providers()  # the real library answered
