"""Frame -> job -> AnonymizedFrame records, and the event-loop lag meter."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.anonymize.blur import BlurConfig
from streams.anonymize.detector import FakeDetector
from streams.anonymize.exceptions import DetectionError
from streams.anonymize.geometry import Detection
from streams.anonymize.pipeline import Anonymizer
from streams.anonymize.records import anonymized_record, is_published, job_from_frame
from streams.anonymize.stats import LagMeter
from streams.codec import AvroCodec

CODEC = AvroCodec()


def _frame_record(data: bytes, width: int = 64, height: int = 48) -> dict[str, object]:
    record = {
        "camera_id": "cam-1",
        "org_id": "org-1",
        "site_id": None,
        "captured_at": 1_700_000_000_000,
        "seq": 42,
        "encoding": "JPEG",
        "width": width,
        "height": height,
        "data": data,
    }
    return CODEC.decode_as("Frame", CODEC.encode("Frame", record))


def _jpeg() -> bytes:
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


def _core(error: Exception | None = None) -> Anonymizer:
    face = FakeDetector(boxes={(48, 64): [Detection("FACE", 4, 4, 20, 24, 0.9)]}, error=error)
    return Anonymizer({"FACE": face, "PLATE": FakeDetector("PLATE")})


def test_an_anonymized_frame_keeps_the_frame_fields_and_adds_the_results() -> None:
    frame = _frame_record(_jpeg())
    (result,) = _core().anonymize_encoded([job_from_frame(frame, BlurConfig())])
    record = anonymized_record(frame, result, "fake+fake@cpu", policy_version=3)
    decoded = CODEC.decode_as("AnonymizedFrame", CODEC.encode("AnonymizedFrame", record))

    assert is_published(result)
    for name in ("camera_id", "org_id", "captured_at", "seq", "encoding", "width", "height"):
        assert decoded[name] == frame[name]
    assert decoded["data"][:2] == b"\xff\xd8"
    assert (decoded["faces"], decoded["plates"], decoded["policy_version"]) == (1, 0, 3)
    assert decoded["boxes"] == [
        {"kind": "FACE", "x": 4, "y": 4, "w": 16, "h": 20, "score": pytest.approx(0.9)}
    ]
    assert decoded["detector"] == "fake+fake@cpu"
    assert decoded["fail_closed"] is False


def test_declared_size_from_the_frame_is_checked() -> None:
    frame = _frame_record(_jpeg(), width=640, height=480)
    (result,) = _core().anonymize_encoded([job_from_frame(frame, BlurConfig())])
    assert not is_published(result)
    assert result.outcome.error is not None
    assert result.outcome.error.reason == "size_mismatch"


def test_a_dropped_fail_closed_frame_is_not_published_but_flagged_for_the_dead_letter() -> None:
    frame = _frame_record(_jpeg())
    config = BlurConfig(fail_closed_action="drop")
    (result,) = _core(DetectionError("x")).anonymize_encoded([job_from_frame(frame, config)])
    assert not is_published(result)
    assert result.data == b""
    assert result.outcome.fail_closed is True
    assert result.outcome.error is not None
    assert result.outcome.error.reason == "detection_failed"


def test_lag_meter_reports_only_time_beyond_the_interval() -> None:
    meter = LagMeter()
    assert meter.observe(0.25, 0.2501) == pytest.approx(0.1)
    assert meter.observe(0.25, 0.40) == pytest.approx(150.0)
    assert meter.observe(0.25, 0.20) == 0.0
    assert meter.max_ms == pytest.approx(150.0)
    assert meter.last_ms == 0.0
