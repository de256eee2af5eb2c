"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.anonymize.model_registry import fetch_models
from streams.settings import Settings


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The pinned ONNX models in the cache (``camguard models fetch``; no download when there)."""
    directory = Settings().models_dir
    fetch_models(directory)
    return directory
