"""Real-model fixtures: the pinned models are fetched once per session into the cache.

``CAMGUARD_MODELS_DIR`` picks the cache folder (default ~/.cache/camguard/models); a cache that
already holds verified models costs no download.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.anonymize.blur import BlurConfig
from streams.anonymize.model_registry import fetch_models
from streams.anonymize.pipeline import Anonymizer
from streams.anonymize.runtime import DetectorSet, load_detectors
from streams.settings import Settings


@pytest.fixture(scope="session")
def models_dir() -> Path:
    directory = Settings().models_dir
    fetch_models(directory)
    return directory


@pytest.fixture(scope="session", params=["int8", "fp32"])
def detectors(models_dir: Path, request: pytest.FixtureRequest) -> DetectorSet:
    """Both CenterFace copies: every real-model test runs with each (fp32 the default, int8
    the opt-in)."""
    return load_detectors(Settings(models_dir=models_dir, face_precision=request.param))


@pytest.fixture
def anonymizer(detectors: DetectorSet) -> Anonymizer:
    detectors.face.max_side = detectors.plate.max_side = 640
    return Anonymizer({"FACE": detectors.face, "PLATE": detectors.plate})


@pytest.fixture
def config() -> BlurConfig:
    return BlurConfig()
