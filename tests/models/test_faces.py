"""CenterFace through the whole core: faces found, blurred, and nothing else touched."""

from __future__ import annotations

import numpy as np
import pytest

from streams.anonymize.blur import BlurConfig, expand, laplacian_variance
from streams.anonymize.detector import Tiling
from streams.anonymize.geometry import Detection
from streams.anonymize.pipeline import Anonymizer
from streams.anonymize.runtime import DetectorSet, tiling_for
from streams.settings import FACE_SCORE_THRESHOLD, Settings
from tests.models.scenes import ASTRONAUT_FACE, astronaut_bgr, face_composite, iou

pytestmark = pytest.mark.models

FACE_HEIGHTS = (16, 20, 24, 32, 48, 64, 96, 160, 240)


def _box(det: Detection) -> tuple[float, float, float, float]:
    return (det.x1, det.y1, det.x2, det.y2)


def test_astronaut_face_is_found_and_blurred_and_nothing_else_changes(
    anonymizer: Anonymizer, config: BlurConfig
) -> None:
    image = astronaut_bgr()
    (outcome,) = anonymizer.anonymize([image], [config])

    faces = [d for d in outcome.detections if d.kind == "FACE"]
    assert len(faces) == 1
    assert iou(_box(faces[0]), ASTRONAUT_FACE) > 0.7
    assert outcome.image is not None
    touched = np.zeros(image.shape[:2], dtype=bool)
    for det in outcome.detections:
        x1, y1, x2, y2 = expand(det, config.mask_margin, *image.shape[:2])
        touched[y1:y2, x1:x2] = True
        before = laplacian_variance(image[y1:y2, x1:x2])
        after = laplacian_variance(outcome.image[y1:y2, x1:x2])
        assert after < before / 10, f"{det.kind}: sharpness {before:.0f} -> {after:.0f}"
    assert (outcome.image[~touched] == image[~touched]).all()
    # and the blurred face is no longer found
    (again,) = anonymizer.anonymize([outcome.image], [config])
    assert again.faces == 0


def _recall(
    detectors: DetectorSet,
    max_side: int,
    tiling: Tiling | None,
    frame: tuple[int, int] = (720, 1280),
    seed: int = 7,
) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    detectors.face.max_side = max_side
    detectors.face.tiling = tiling
    recall = {}
    for face_height in FACE_HEIGHTS:
        scenes = [face_composite(*frame, face_height, rng) for _ in range(3)]
        found = detectors.face.detect([image for image, _ in scenes], FACE_SCORE_THRESHOLD)
        hits = [
            any(iou(_box(d), truth) >= 0.3 for d in dets)
            for dets, (_, truth) in zip(found, scenes, strict=True)
        ]
        recall[face_height] = sum(hits) / len(hits)
    return recall


DEFAULT_TILING = tiling_for(Settings(), "FACE")


@pytest.mark.parametrize(
    ("max_side", "tiling", "frame", "smallest_sure"),
    [
        (640, DEFAULT_TILING, (720, 1280), 24),  # the default: whole frame + native tiles
        (640, DEFAULT_TILING, (1080, 1920), 24),
        (1280, None, (720, 1280), 24),  # full resolution of a 720p frame, one pass
        (640, None, (720, 1280), 48),  # without tiles a 720p frame is halved
    ],
    ids=["default-720p", "default-1080p", "1280-720p", "640-no-tiles-720p"],
)
def test_face_recall_by_size_at_several_positions(
    detectors: DetectorSet,
    max_side: int,
    tiling: Tiling | None,
    frame: tuple[int, int],
    smallest_sure: int,
) -> None:
    """Recall per face height (px) in composites; printed for bench/RESULTS.md.

    CenterFace needs a face of about 20 px at detection resolution: the default's native tiles
    find 24 px faces on 720p and 1080p; at max_side 640 without tiles a 720p frame is halved,
    so faces under ~48 px are lost (measured and asserted, not hidden).
    """
    try:
        recall = _recall(detectors, max_side, tiling, frame)
    finally:
        detectors.face.tiling = DEFAULT_TILING  # the session fixture is shared
    name = "tiles" if tiling else "no tiles"
    print(f"\nface recall, {frame[1]}x{frame[0]}, max_side={max_side}, {name}: {recall}")
    assert all(recall[h] == 1.0 for h in FACE_HEIGHTS if h >= smallest_sure), recall
    # 16 px is below the model's reach: at threshold 0.3 a few are found, never all
    assert recall[16] < 1.0


def test_small_frames_are_enlarged_so_their_small_faces_are_found(detectors: DetectorSet) -> None:
    """A 426x240 camera: 18 px faces are found at the default (the frame is detected at x1.5);
    without enlarging, CenterFace's ~20 px minimum at detection resolution loses most."""
    rng = np.random.default_rng(5)
    scenes = [face_composite(240, 426, 18, rng) for _ in range(6)]

    def found(upscale: float) -> int:
        detectors.face.upscale = upscale
        try:
            got = detectors.face.detect([image for image, _ in scenes], FACE_SCORE_THRESHOLD)
        finally:
            detectors.face.upscale = Settings().detection_upscale  # shared session fixture
        return sum(
            any(iou(_box(d), truth) >= 0.3 for d in dets)
            for dets, (_, truth) in zip(got, scenes, strict=True)
        )

    enlarged, native = found(Settings().detection_upscale), found(1.0)
    print(f"\n18 px faces in 426x240 frames: {enlarged}/6 enlarged, {native}/6 native")
    assert enlarged == 6
    assert native < enlarged


def test_faces_in_a_batch_of_mixed_cameras_are_all_blurred(
    anonymizer: Anonymizer, config: BlurConfig
) -> None:
    rng = np.random.default_rng(3)
    frames = [face_composite(720, 1280, 120, rng), face_composite(480, 640, 80, rng)]
    frames.append((astronaut_bgr(), ASTRONAUT_FACE))
    outcomes = anonymizer.anonymize([f for f, _ in frames], [config] * 3)
    for (image, truth), outcome in zip(frames, outcomes, strict=True):
        assert outcome.faces >= 1
        assert outcome.image is not None
        x1, y1, x2, y2 = (int(v) for v in truth)
        assert (
            laplacian_variance(outcome.image[y1:y2, x1:x2])
            < laplacian_variance(image[y1:y2, x1:x2]) / 10
        )


def test_face_blur_disabled_leaves_faces_untouched(anonymizer: Anonymizer) -> None:
    image = astronaut_bgr()
    config = BlurConfig(face_blur_enabled=False)
    (outcome,) = anonymizer.anonymize([image], [config])
    assert outcome.faces == 0
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_FACE)
    assert outcome.image is not None
    assert (outcome.image[y1:y2, x1:x2] == image[y1:y2, x1:x2]).all()
