"""yolov8_plate: the converted ONNX model against PyTorch's own forward pass, and on renders.

``data/yolov8_plate_reference.npz`` holds inputs and the outputs of the original checkpoint run
by torch 2.15 + ultralytics 8.4.190 (``data/record_yolov8_reference.py`` says how). The
tolerances are a few times the float noise measured when recording: the ONNX copy differed from
torch by at most 4.7e-4 px in box coordinates (up to ~420 px; fp32 spacing there is 3e-5) and
1.8e-6 in scores, the same order as torch's own fused (conv + batch norm) model differs from
the unfused one (4.3e-4 px).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from streams.anonymize import yoloplates, yolov8
from streams.anonymize.detector import OnnxDetector
from streams.anonymize.geometry import plan_letterbox
from streams.anonymize.model_registry import YOLOV8_PLATE, resolve_model
from tests.models.scenes import background, face_composite, iou, plate_scene

pytestmark = pytest.mark.models

REFERENCE = Path(__file__).parent / "data" / "yolov8_plate_reference.npz"
SIZES = ("320x320", "256x416")
BOX_ATOL = 2e-3  # pixels
SCORE_ATOL = 2e-5
STYLES = {
    "blue/white (CN)": ((200, 80, 20), (255, 255, 255), "A 12345"),
    "white/black (EU)": ((255, 255, 255), (0, 0, 0), "AB 123 CD"),
    "yellow/black (UK rear)": ((0, 200, 240), (0, 0, 0), "AB12 CDE"),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as loaded:
        return {name: loaded[name] for name in loaded.files}


@pytest.fixture(scope="module")
def session(models_dir: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    path = resolve_model(YOLOV8_PLATE, models_dir)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def detector(session: ort.InferenceSession) -> OnnxDetector:
    return OnnxDetector(session, yoloplates.codec(), max_side=640)


def test_converting_again_gives_the_pinned_bytes(models_dir: Path) -> None:
    checkpoint = (models_dir / YOLOV8_PLATE.original_file).read_bytes()
    converted = yolov8.convert(checkpoint)
    assert hashlib.sha256(converted).hexdigest() == YOLOV8_PLATE.runtime_sha256


@pytest.mark.parametrize("size", SIZES)
def test_the_onnx_copy_matches_the_pytorch_forward_pass(
    session: ort.InferenceSession, reference: dict[str, np.ndarray], size: str
) -> None:
    images, want = reference[f"input_{size}"], reference[f"output_{size}"]

    (got,) = session.run([yolov8.OUTPUT_NAME], {yolov8.INPUT_NAME: images})

    assert got.shape == want.shape
    box_diff = float(np.abs(got[:, :4] - want[:, :4]).max())
    score_diff = float(np.abs(got[:, 4:] - want[:, 4:]).max())
    print(f"\n{size}: max |diff| boxes {box_diff:.2e} px, scores {score_diff:.2e}")
    assert box_diff <= BOX_ATOL
    assert score_diff <= SCORE_ATOL
    assert float(reference[f"fused_diff_{size}"]) <= BOX_ATOL  # torch's own float noise


@pytest.mark.parametrize("size", SIZES)
def test_decoding_gives_the_boxes_ultralytics_predict_gave(
    session: ort.InferenceSession, reference: dict[str, np.ndarray], size: str
) -> None:
    images = reference[f"input_{size}"]
    plans = [plan_letterbox(im.shape[0], im.shape[1], 640) for im in images]
    blob = yoloplates.preprocess(list(images), plans)
    assert (blob == images).all()  # already multiples of 32: no scaling, no padding

    found = yoloplates.decode(session.run(None, {yoloplates.INPUT_NAME: blob}), plans, 0.25)

    for index, dets in enumerate(found):
        want = reference[f"boxes_{size}_{index}"]
        assert dets.shape == want.shape == (1, 5)
        np.testing.assert_allclose(dets, want, atol=0.01)


def test_rendered_plates_of_several_layouts_are_found(detector: OnnxDetector) -> None:
    """Plates 120-240 px wide on 1280x720 frames (60-120 px on the 640 canvas)."""
    rng = np.random.default_rng(11)
    missed = []
    for style, (plate_bgr, text_bgr, text) in STYLES.items():
        for width in (120, 160, 240):
            scenes = [
                plate_scene(720, 1280, width, rng, plate_bgr, text_bgr, text) for _ in range(3)
            ]
            found = detector.detect([image for image, _ in scenes])
            for dets, (_, truth) in zip(found, scenes, strict=True):
                best = max((iou((d.x1, d.y1, d.x2, d.y2), truth) for d in dets), default=0.0)
                print(f"{style} {width}px: best IoU {best:.2f}, {len(dets)} box(es)")
                if best < 0.5:
                    missed.append((style, width))
                assert all(d.kind == "PLATE" and d.score >= 0.25 for d in dets)
    assert missed == []


def test_scenes_without_plates_give_no_boxes(detector: OnnxDetector) -> None:
    rng = np.random.default_rng(3)
    scenes = [face_composite(720, 1280, 120, rng)[0] for _ in range(2)]
    found = detector.detect([*scenes, background(720, 1280)])
    assert found == [[], [], []]


def test_batches_of_mixed_sizes_give_the_boxes_of_single_frames(detector: OnnxDetector) -> None:
    rng = np.random.default_rng(5)
    frames = [plate_scene(720, 1280, 200, rng)[0], plate_scene(480, 640, 120, rng)[0]]
    frames.append(plate_scene(720, 1280, 160, rng)[0])
    together = detector.detect(frames)
    alone = [detector.detect([frame])[0] for frame in frames]
    assert [len(d) for d in together] == [len(d) for d in alone] == [1, 1, 1]
    for a, b in zip(together, alone, strict=True):
        assert abs(a[0].x1 - b[0].x1) < 0.01
        assert abs(a[0].score - b[0].score) < 1e-4
