"""Frame records in, AnonymizedFrame records out (pure dict plumbing for the frames agent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.anonymize.blur import BlurConfig
from streams.anonymize.pipeline import EncodedJob, EncodedOutcome

FRAME_FIELDS = (
    "camera_id",
    "org_id",
    "site_id",
    "captured_at",
    "seq",
    "encoding",
    "width",
    "height",
)


def job_from_frame(frame: Mapping[str, Any], config: BlurConfig) -> EncodedJob:
    """The anonymization job of a decoded ``Frame`` record (declared size and encoding kept)."""
    return EncodedJob(
        data=bytes(frame["data"]),
        config=config,
        declared_size=(int(frame["width"]), int(frame["height"])),
        encoding=frame["encoding"],
        track=(str(frame["camera_id"]), int(frame["seq"])),
    )


def is_published(result: EncodedOutcome) -> bool:
    """True when the frame goes to camera.frames.anonymized: it has an anonymized image (regions
    blurred, or blurred whole when it failed closed). Dropped (``fail_closed_action="drop"``),
    withheld and refused frames are dead-lettered instead."""
    return result.outcome.image is not None and bool(result.data)


def anonymized_record(
    frame: Mapping[str, Any],
    result: EncodedOutcome,
    detector: str,
    policy_version: int | None,
) -> dict[str, Any]:
    """The ``AnonymizedFrame`` for a published result."""
    record = {name: frame.get(name) for name in FRAME_FIELDS}
    record.update(
        data=result.data,
        faces=result.outcome.faces,
        plates=result.outcome.plates,
        boxes=[d.as_box() for d in result.outcome.detections],
        policy_version=policy_version,
        detector=detector,
        latency_ms=float(result.latency_ms),
        fail_closed=result.outcome.fail_closed,
        protection=None if result.outcome.protection is None else dict(result.outcome.protection),
    )
    return record
