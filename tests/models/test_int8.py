"""The int8 CenterFace copy: reproducible from the pinned inputs, and as good as fp32 here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from streams.anonymize.model_registry import CENTERFACE, MANIFEST
from streams.anonymize.quantize import write_int8_copy
from streams.anonymize.runtime import DetectorSet, load_detectors
from streams.settings import Settings
from tests.models.scenes import face_composite, iou

pytestmark = pytest.mark.models


def _no_download(package: str, version: str, dest: Path) -> Path:
    raise AssertionError("the calibration files are installed with scikit-image")


def test_quantizing_again_gives_the_bytes_recorded_in_the_manifest(
    models_dir: Path, tmp_path: Path
) -> None:
    recorded = json.loads((models_dir / MANIFEST).read_text())["centerface"]
    shutil.copy(models_dir / CENTERFACE.original_file, tmp_path / CENTERFACE.original_file)

    again = write_int8_copy(CENTERFACE, tmp_path, _no_download)

    assert again["int8_sha256"] == recorded["int8_sha256"]
    assert again["int8_recipe"] == recorded["int8_recipe"]


def test_int8_and_fp32_find_the_same_faces_in_the_same_places(
    detectors: DetectorSet, models_dir: Path
) -> None:
    """One face per frame, 56-200 px: each precision finds it where fp32 does."""
    settings = Settings(models_dir=models_dir, face_precision="fp32")
    reference = load_detectors(settings, calibrate=False)
    rng = np.random.default_rng(11)
    scenes = [face_composite(720, 1280, int(h), rng) for h in rng.integers(56, 200, 12)]
    frames = [image for image, _ in scenes]
    detectors.face.max_side = reference.face.max_side = 640
    got = detectors.face.detect(frames, 0.4)
    want = reference.face.detect(frames, 0.4)
    for found, expected in zip(got, want, strict=True):
        assert len(found) == len(expected) == 1
        (a,), (b,) = found, expected
        assert iou((a.x1, a.y1, a.x2, a.y2), (b.x1, b.y1, b.x2, b.y2)) > 0.8
