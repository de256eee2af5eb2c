"""The specification's anonymization, optimization and contract snippets, run verbatim.

Lines marked ``# verbatim`` are the specification's calls as written. The anonymization runs
the real ONNX models from the models cache (``camguard models fetch``; fetched here when
missing, as tests/models does). tests/integration/test_service_contracts_node.py compiles the
exported TypeScript with tsc.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from agents.worker import build_worker
from common_schemas.anonymization import AnonymizationMiddleware, BlurConfig
from common_schemas.contracts import export_service_contracts
from common_schemas.optimization import (
    ONNXOptimizer,
    apply_service_optimizations,
    get_optimizer,
)
from streams.anonymize.blur import expand, laplacian_variance
from streams.anonymize.detector import CENTERFACE, OnnxDetector
from streams.anonymize.exceptions import DetectionError, ModelMissingError
from streams.anonymize.model_registry import fetch_models
from streams.anonymize.runtime import DetectorSet, load_detectors
from streams.settings import Settings
from tests.models.scenes import astronaut_bgr
from tests.unit.anonymize.failing_model import BAD_FRAME, failing_session
from tests.unit.codegen.fusion_app import fusion_app

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    directory = Settings().models_dir
    fetch_models(directory)  # verifies the cache; downloads only what is missing
    return directory


def _outside_boxes_unchanged(before: np.ndarray, after: np.ndarray, boxes: Any) -> bool:
    keep = np.ones(before.shape[:2], bool)
    for det in boxes:
        x1, y1, x2, y2 = expand(det, BlurConfig().mask_margin, *before.shape[:2])
        keep[y1:y2, x1:x2] = False
    return bool((before[keep] == after[keep]).all())


async def test_anonymization_snippets_with_the_real_models(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMGUARD_MODELS_DIR", str(models_dir))
    frame = astronaut_bgr()
    original = frame.copy()
    image_b64 = base64.b64encode(cv2.imencode(".png", frame)[1].tobytes()).decode()

    middleware = AnonymizationMiddleware()  # verbatim
    config = BlurConfig(face_blur_enabled=True, license_plate_blur_enabled=True, blur_strength=0.8)  # verbatim  # noqa: E501  # fmt: skip
    try:
        blurred = await middleware.process_frame(frame, config)  # verbatim
        result_b64 = await middleware.process_image_b64(image_b64, config)  # verbatim
        outcome = await middleware.anonymize_frame(frame, config)  # the rich result
    finally:
        await middleware.close()

    assert isinstance(blurred, np.ndarray)
    assert (blurred.shape, blurred.dtype) == (frame.shape, np.uint8)
    assert (frame == original).all()
    assert outcome.faces >= 1
    assert not outcome.fail_closed
    (face,) = [d for d in outcome.detections if d.kind == "FACE"]
    x1, y1, x2, y2 = (int(v) for v in (face.x1, face.y1, face.x2, face.y2))
    region = laplacian_variance(blurred[y1:y2, x1:x2])
    assert region < laplacian_variance(frame[y1:y2, x1:x2]) / 10
    assert _outside_boxes_unchanged(frame, blurred, outcome.detections)

    assert isinstance(result_b64, str)
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(result_b64), np.uint8), 1)
    assert decoded.shape == frame.shape
    assert (decoded == blurred).all()  # PNG in, PNG out: the same pixels as process_frame


async def test_a_missing_model_is_a_clear_error_never_the_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMGUARD_MODELS_DIR", str(tmp_path))
    middleware = AnonymizationMiddleware()  # verbatim
    config = BlurConfig(face_blur_enabled=True, license_plate_blur_enabled=True, blur_strength=0.8)  # verbatim  # noqa: E501  # fmt: skip
    try:
        with pytest.raises(ModelMissingError, match=r"missing: run `camguard models fetch`"):
            await middleware.process_frame(astronaut_bgr(), config)  # verbatim
    finally:
        await middleware.close()


def _real_plates_failing_faces(settings: Settings) -> DetectorSet:
    """The real models, with a real onnxruntime face session that fails on BAD_FRAME."""
    loaded = load_detectors(settings)
    failing = OnnxDetector(failing_session(), CENTERFACE, max_side=640)
    return dataclasses.replace(loaded, face=failing)


async def test_a_detection_failure_returns_the_whole_frame_blurred_or_raises(
    models_dir: Path,
) -> None:
    frame = np.ascontiguousarray(cv2.resize(astronaut_bgr(), BAD_FRAME[::-1]))
    image_b64 = base64.b64encode(cv2.imencode(".png", frame)[1].tobytes()).decode()
    config = BlurConfig(face_blur_enabled=True, license_plate_blur_enabled=True, blur_strength=0.8)  # verbatim  # noqa: E501  # fmt: skip
    settings = Settings(models_dir=models_dir)
    async with AnonymizationMiddleware(
        settings=settings, detectors=_real_plates_failing_faces
    ) as middleware:
        blurred = await middleware.process_frame(frame, config)  # verbatim
        result_b64 = await middleware.process_image_b64(image_b64, config)  # verbatim
        outcome = await middleware.anonymize_frame(frame, config)
        for refusing in (
            config.model_copy(update={"fail_closed": False}),
            config.model_copy(update={"fail_closed_action": "drop"}),
        ):
            with pytest.raises(DetectionError):
                await middleware.process_frame(frame, refusing)
            with pytest.raises(DetectionError):
                await middleware.process_image_b64(image_b64, refusing)

    assert outcome.fail_closed
    assert outcome.error is not None
    assert outcome.error.reason == "detection_failed"
    assert blurred.shape == frame.shape
    assert laplacian_variance(blurred) < laplacian_variance(frame) / 100  # blurred whole
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(result_b64), np.uint8), 1)
    assert laplacian_variance(decoded) < laplacian_variance(frame) / 100


def test_optimization_snippets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in THREAD_ENV:
        monkeypatch.delenv(key, raising=False)  # restored after the test
    opencv_threads = cv2.getNumThreads()
    try:
        applied = apply_service_optimizations("fusion")  # verbatim
        assert cv2.getNumThreads() == applied.intra_op
    finally:
        cv2.setNumThreads(opencv_threads)
    assert os.environ["OMP_NUM_THREADS"] == str(applied.intra_op)
    assert os.environ["MKL_NUM_THREADS"] == str(applied.intra_op)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert applied == get_optimizer().threads("centerface")

    device = get_optimizer().get_device_config("yolo")  # verbatim
    assert device["model"] == "yolo"
    assert device["device"] in ("cpu", "gpu")
    assert device["providers"][-1] == "cpu"
    assert device["precision"] == "fp32"
    assert device["batch_size"] >= 1
    assert device["intra_op_num_threads"] >= 1

    providers = ONNXOptimizer(gpu_available=True).get_providers("reid")  # verbatim
    names = [name for name, _ in providers]
    assert names == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert dict(providers)["TensorrtExecutionProvider"]["trt_fp16_enable"] == "True"


def test_contracts_snippet_for_a_fastapi_app() -> None:
    app = fusion_app()
    contracts = export_service_contracts(app, "fusion", "2.0.0")  # verbatim
    schema, types, client = contracts["schema"], contracts["types"], contracts["client"]
    assert schema["openapi"].startswith("3.0.")
    assert schema["info"]["version"] == "2.0.0"
    assert set(schema["paths"]) == {
        "/tracks/{track_id}/detections",
        "/tracks/{track_id}",
        "/health",
    }
    assert "export interface Detection {" in types
    assert "export interface Fused {" in types
    assert "export async function addDetectionTracksTrackIdDetectionsPost(" in client
    assert "export async function getTrackTracksTrackIdGet(" in client


def test_contracts_snippet_for_the_worker() -> None:
    app = build_worker(Settings())
    contracts = export_service_contracts(app, "fusion", "2.0.0")  # verbatim
    assert contracts["schema"]["openapi"] == "3.0.3"
    assert contracts["schema"]["info"] == {
        "title": "fusion",
        "version": "2.0.0",
        "description": "HTTP API of fusion",
    }
    assert "export interface CameraList" in contracts["types"]
    assert "export async function getApiCameras(" in contracts["client"]
