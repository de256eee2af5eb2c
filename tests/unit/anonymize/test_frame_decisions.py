"""The frames agent's decisions on their own (streams/anonymize/frame_decisions.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import AnonymizeError, PrivacyConfigError
from streams.anonymize.frame_decisions import (
    Redeliveries,
    privacy_or_blur_all,
    publication,
    read_frame,
    withheld,
)
from streams.anonymize.pipeline import EncodedOutcome, FrameOutcome
from streams.codec import AvroCodec, CodecError
from streams.exceptions import CamguardError

CODEC = AvroCodec()
FRAME = {
    "camera_id": "cam-1",
    "org_id": "org-1",
    "site_id": None,
    "captured_at": 1_700_000_000_000,
    "seq": 3,
    "encoding": "JPEG",
    "width": 4,
    "height": 2,
    "data": b"\xff\xd8",
}


def decode(value: bytes) -> dict[str, Any]:
    return CODEC.decode_as("Frame", value)


def test_a_record_seen_again_is_skipped_until_its_partition_is_lost() -> None:
    seen = Redeliveries()
    assert [seen.first_time("camera.frames", 0, o) for o in (5, 6, 6, 4, 7)] == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert seen.first_time("camera.frames", 1, 6), "another partition has its own offsets"
    assert seen.keep([("camera.frames", 1)]) == 1
    assert seen.first_time("camera.frames", 0, 6), "partition 0 was lost: handled again"
    assert not seen.first_time("camera.frames", 1, 6), "partition 1 was kept"


def test_a_frame_is_read_or_refused_with_its_reason() -> None:
    value = CODEC.encode("Frame", FRAME)
    assert read_frame(value, b"cam-1", decode)["camera_id"] == "cam-1"  # type: ignore[index]
    wrong_key = read_frame(value, b"cam-2", decode)
    assert isinstance(wrong_key, CamguardError)
    assert wrong_key.reason == "key_mismatch"
    assert isinstance(read_frame(b"\x00garbage", b"cam-1", decode), CodecError)
    assert isinstance(read_frame(None, b"cam-1", decode), CodecError)


@pytest.mark.parametrize(
    ("error", "reason"),
    [(PrivacyConfigError("bad blur"), PrivacyConfigError.reason), (KeyError("org"), "KeyError")],
)
def test_a_failed_privacy_lookup_blurs_every_kind(error: Exception, reason: str) -> None:
    def lookup(org_id: str | None, camera_id: str) -> tuple[BlurConfig, int | None]:
        raise error

    choice = privacy_or_blur_all(lookup, "org-1", "cam-1")
    assert choice.failed == reason
    assert choice.config == BlurConfig()
    assert choice.config.face_blur_enabled
    assert choice.config.license_plate_blur_enabled
    assert choice.config.fail_closed
    assert choice.version is None


def test_a_policy_answer_is_used_as_it_is() -> None:
    config = BlurConfig(license_plate_blur_enabled=False)
    choice = privacy_or_blur_all(lambda org, cam: (config, 4), "org-1", "cam-1")
    assert (choice.config, choice.version, choice.failed) == (config, 4, None)


def test_an_anonymizer_failure_withholds_with_an_anonymize_error() -> None:
    assert isinstance(withheld(RuntimeError("no provider")), AnonymizeError)
    own = PrivacyConfigError("x")
    assert withheld(own) is own


def _result(image: bool, error: AnonymizeError | None = None) -> EncodedOutcome:
    outcome = FrameOutcome(
        image=np.zeros((2, 4, 3), np.uint8) if image else None,
        fail_closed=error is not None,
        error=error,
    )
    data = b"\xff\xd8jpeg" if image else b""
    return EncodedOutcome(data, "JPEG", 4, 2, outcome, 1.0)


def test_an_anonymized_frame_is_published_and_anything_else_dead_lettered() -> None:
    published = publication(
        FRAME, _result(True), "fake", 2, lambda r: CODEC.encode("AnonymizedFrame", r)
    )
    assert isinstance(published, bytes)
    assert CODEC.decode_as("AnonymizedFrame", published)["policy_version"] == 2
    dropped = publication(FRAME, _result(False, PrivacyConfigError("dropped")), "fake", 2, bytes)
    assert isinstance(dropped, PrivacyConfigError)
    nothing = publication(FRAME, _result(False), "fake", 2, bytes)
    assert isinstance(nothing, AnonymizeError)

    def cannot_encode(record: dict[str, Any]) -> bytes:
        raise ValueError("schema")

    undescribed = publication(FRAME, _result(True), "fake", 2, cannot_encode)
    assert isinstance(undescribed, AnonymizeError)
    assert "AnonymizedFrame: schema" in str(undescribed)
