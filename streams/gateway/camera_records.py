"""Frame and CameraEvent records as the Avro schemas want them (pure, no I/O).

Topic names, keys and priorities are docs/architecture.md's contract: both topics are keyed by
camera_id; events (heartbeats, errors) leave the gateway's queue before frames.
"""

from __future__ import annotations

from typing import Any

from streams.contract.records import EventKind

EVENT_PRIORITY = 0
FRAME_PRIORITY = 1


def frame_record(
    *,
    camera_id: str,
    seq: int,
    captured_ms: int,
    data: bytes,
    width: int,
    height: int,
    org_id: str | None = None,
    site_id: str | None = None,
    encoding: str = "JPEG",
) -> dict[str, Any]:
    """A ``Frame`` record."""
    return {
        "camera_id": camera_id,
        "org_id": org_id,
        "site_id": site_id,
        "captured_at": captured_ms,
        "seq": seq,
        "encoding": encoding,
        "width": width,
        "height": height,
        "data": data,
    }


def event_record(
    *,
    event_id: str,
    camera_id: str,
    kind: EventKind,
    occurred_ms: int,
    org_id: str | None = None,
    latency_ms: float | None = None,
    error: str | None = None,
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``CameraEvent`` record."""
    return {
        "event_id": event_id,
        "camera_id": camera_id,
        "org_id": org_id,
        "occurred_at": occurred_ms,
        "kind": kind.value,
        "latency_ms": latency_ms,
        "error": error,
        "attributes": dict(attributes or {}),
    }
