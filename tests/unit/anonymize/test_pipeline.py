"""The anonymization core with fake detectors: batching, thresholds, fail-closed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.anonymize.blur import BlurConfig, laplacian_variance
from streams.anonymize.detector import FakeDetector
from streams.anonymize.exceptions import DetectionError
from streams.anonymize.geometry import Detection
from streams.anonymize.pipeline import Anonymizer, EncodedJob

HD, VGA = (720, 1280), (480, 640)
FACE = Detection("FACE", 100, 100, 200, 220, 0.9)
WEAK_FACE = Detection("FACE", 400, 100, 440, 150, 0.45)
PLATE = Detection("PLATE", 300, 400, 420, 440, 0.8)


def _frame(hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def _jpeg(image: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


def _core(**face: object) -> tuple[Anonymizer, FakeDetector, FakeDetector]:
    faces = FakeDetector("FACE", "faces", boxes={HD: [FACE, WEAK_FACE]}, **face)  # type: ignore[arg-type]
    plates = FakeDetector("PLATE", "plates", boxes={HD: [PLATE]})
    return Anonymizer({"FACE": faces, "PLATE": plates}), faces, plates


def _sharp(image: np.ndarray, det: Detection) -> float:
    return laplacian_variance(image[int(det.y1) : int(det.y2), int(det.x1) : int(det.x2)])


def test_each_detector_runs_once_per_batch_and_frames_keep_their_own_boxes() -> None:
    core, faces, plates = _core()
    frames = [_frame(HD, 1), _frame(VGA, 2), _frame(HD, 3)]
    outcomes = core.anonymize(frames, [BlurConfig()] * 3)

    assert faces.calls == [3]
    assert plates.calls == [3]
    assert [(o.faces, o.plates) for o in outcomes] == [(2, 1), (0, 0), (2, 1)]
    assert (outcomes[1].image == frames[1]).all()
    assert _sharp(outcomes[0].image, FACE) < _sharp(frames[0], FACE) / 20  # type: ignore[arg-type]
    assert core.name == "faces+plates"


def test_disabled_kinds_are_not_detected_and_stay_untouched() -> None:
    core, faces, _plates = _core()
    frame = _frame(HD)
    no_faces = BlurConfig(face_blur_enabled=False)
    (outcome,) = core.anonymize([frame], [no_faces])
    assert faces.calls == []
    assert outcome.faces == 0
    assert outcome.plates == 1
    region = (slice(100, 220), slice(100, 200))
    assert (outcome.image[region] == frame[region]).all()  # type: ignore[index]


def test_each_frame_applies_its_own_score_threshold() -> None:
    core, _, _ = _core()
    strict, lenient = BlurConfig(face_score_threshold=0.8), BlurConfig(face_score_threshold=0.4)
    outcomes = core.anonymize([_frame(HD), _frame(HD)], [strict, lenient])
    assert [o.faces for o in outcomes] == [1, 2]


def test_detection_failure_fails_closed_with_whole_frame_blur_or_drop() -> None:
    core, _, _ = _core(error=DetectionError("boom"))
    frame = _frame(HD)
    blurred, dropped = core.anonymize(
        [frame, frame], [BlurConfig(), BlurConfig(fail_closed_action="drop")]
    )
    assert blurred.fail_closed
    assert blurred.image is not None
    assert laplacian_variance(blurred.image) < laplacian_variance(frame) / 100
    assert dropped.fail_closed
    assert dropped.image is None
    assert core.counters["fail_closed"] == 2


def test_without_fail_closed_a_failed_frame_is_not_published() -> None:
    core, _, _ = _core(error=DetectionError("boom"))
    (outcome,) = core.anonymize([_frame(HD)], [BlurConfig(fail_closed=False)])
    assert outcome.image is None
    assert not outcome.fail_closed
    assert isinstance(outcome.error, DetectionError)


def test_one_failing_frame_does_not_fail_its_batch_neighbours() -> None:
    core, faces, _ = _core(error=DetectionError("bad frame"), fail_on=VGA)
    outcomes = core.anonymize([_frame(HD), _frame(VGA), _frame(HD)], [BlurConfig()] * 3)
    assert [o.fail_closed for o in outcomes] == [False, True, False]
    assert [o.faces for o in outcomes] == [2, 0, 2]
    assert faces.calls == [3, 1, 1, 1]


def test_encoded_batch_reports_bad_frames_and_anonymizes_the_rest() -> None:
    core, _, _ = _core()
    good = _jpeg(_frame(HD))
    jobs = [
        EncodedJob(good, BlurConfig(), declared_size=(1280, 720), encoding="JPEG"),
        EncodedJob(b"", BlurConfig(), declared_size=(1280, 720)),
        EncodedJob(good, BlurConfig(), declared_size=(640, 480)),
        EncodedJob(good[: len(good) // 2], BlurConfig()),
    ]
    results = core.anonymize_encoded(jobs)

    assert [r.outcome.error.reason if r.outcome.error else None for r in results] == [
        None,
        "empty_image",
        "size_mismatch",
        "corrupt_image",
    ]
    assert results[0].data[:2] == b"\xff\xd8"
    assert (results[0].width, results[0].height, results[0].encoding) == (1280, 720, "JPEG")
    assert results[0].outcome.faces == 2
    assert all(r.data == b"" for r in results[1:])
    assert results[0].latency_ms >= 0


def test_png_in_png_out_and_unusual_layouts_keep_their_layout() -> None:
    core, _, _ = _core()
    png = bytes(cv2.imencode(".png", _frame(HD))[1].tobytes())
    (result,) = core.anonymize_encoded([EncodedJob(png, BlurConfig())])
    assert result.encoding == "PNG"
    assert result.data[:4] == b"\x89PNG"
    gray = _frame(HD)[..., 0]
    bgra = np.dstack([_frame(HD), np.full(HD, 255, np.uint8)])
    outcomes = core.anonymize([gray, bgra], [BlurConfig(), BlurConfig(blur_mode="solid")])
    assert outcomes[0].image.shape == HD  # type: ignore[union-attr]
    assert outcomes[1].image.shape == (*HD, 4)  # type: ignore[union-attr]
    assert (outcomes[1].image[150, 150] == (0, 0, 0, 255)).all()  # type: ignore[index]


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10, 2), np.uint8), np.zeros((10, 10, 3), np.float32)]
)
def test_unsupported_arrays_are_refused_per_frame(bad: np.ndarray) -> None:
    core, _, _ = _core()
    outcomes = core.anonymize([bad, _frame(HD)], [BlurConfig()] * 2)
    assert outcomes[0].error is not None
    assert outcomes[0].error.reason == "unsupported_image"
    assert outcomes[1].faces == 2
