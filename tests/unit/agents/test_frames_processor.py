"""FramesProcessor.handle on its own: the frames agent's decisions without a broker.

The topics are recorders (this is a unit test of the agent's logic; the integration tests run
the same code against a real broker); the detector that fails is a real onnxruntime session
that raises onnxruntime's own error (tests/unit/anonymize/failing_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pytest
from faust.types import TP

from agents.frames import FramesProcessor
from streams.anonymize.blur import BlurConfig, laplacian_variance
from streams.anonymize.detector import CENTERFACE, FakeDetector, OnnxDetector
from streams.anonymize.exceptions import ModelMissingError, PrivacyConfigError
from streams.anonymize.geometry import Detection
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.pipeline import Anonymizer
from streams.app import CamguardApp, Topics
from streams.codec import AvroCodec
from streams.policy.manager import PolicyManager
from streams.settings import Settings
from tests.unit.anonymize.failing_model import BAD_FRAME, failing_session

CODEC = AvroCodec()
FACE = Detection("FACE", 100, 100, 200, 220, 0.9)
PLATE = Detection("PLATE", 300, 400, 420, 440, 0.8)


@dataclass
class Recorder:
    sent: list[tuple[bytes | None, bytes]] = field(default_factory=list)

    async def send(self, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append((key, value))


@dataclass
class Message:
    key: bytes
    value: bytes
    topic: str = "camera.frames"
    partition: int = 0
    offset: int = 0


@dataclass
class Event:
    message: Message


def _cg() -> CamguardApp:
    recorders = {name: Recorder() for name in Topics.__dataclass_fields__}
    return CamguardApp(
        app=None,  # type: ignore[arg-type]
        settings=Settings(),
        topics=Topics(**recorders),  # type: ignore[arg-type]
        tables=None,  # type: ignore[arg-type]
        codec=CODEC,
        policies=PolicyManager("camguard"),
    )


def _event(camera_id: str, hw: tuple[int, int], seq: int) -> Event:
    image = np.random.default_rng(seq).integers(0, 256, (*hw, 3), dtype=np.uint8)
    record = {
        "camera_id": camera_id,
        "org_id": "org-1",
        "site_id": None,
        "captured_at": 1_700_000_000_000 + seq,
        "seq": seq,
        "encoding": "JPEG",
        "width": hw[1],
        "height": hw[0],
        "data": bytes(cv2.imencode(".jpg", image)[1]),
    }
    return Event(Message(camera_id.encode(), CODEC.encode("Frame", record), offset=seq))


async def _allow(camera_id: str, org_id: str | None, event: Any) -> tuple[bool, str]:
    return True, "closed"


@dataclass
class Outcomes:
    seen: list[tuple[str, bool, str | None]] = field(default_factory=list)
    orgs: list[str | None] = field(default_factory=list)

    async def __call__(
        self,
        camera_id: str,
        org_id: str | None,
        ok: bool,
        latency: float | None,
        error: str | None,
        event: Any,
    ) -> None:
        self.seen.append((camera_id, ok, error))
        self.orgs.append(org_id)


def _processor(
    cg: CamguardApp, middleware: AnonymizationMiddleware, privacy: Any
) -> tuple[FramesProcessor, Outcomes]:
    outcomes = Outcomes()
    return FramesProcessor(cg, middleware, privacy, _allow, outcomes), outcomes


def _fakes() -> Anonymizer:
    return Anonymizer(
        {
            "FACE": FakeDetector("FACE", "faces", default=[FACE]),
            "PLATE": FakeDetector("PLATE", "plates", default=[PLATE]),
        }
    )


def _published(cg: CamguardApp) -> list[dict[str, Any]]:
    recorder: Recorder = cg.topics.anonymized  # type: ignore[assignment]
    return [CODEC.decode_as("AnonymizedFrame", value) for _, value in recorder.sent]


def _dead(cg: CamguardApp) -> list[dict[str, Any]]:
    recorder: Recorder = cg.topics.deadletter  # type: ignore[assignment]
    return [CODEC.decode_as("DeadLetter", value) for _, value in recorder.sent]


async def test_a_failed_privacy_lookup_blurs_every_kind() -> None:
    cg = _cg()
    no_faces = BlurConfig(face_blur_enabled=False)

    def lookup(org_id: str | None, camera_id: str) -> tuple[BlurConfig, int | None]:
        if camera_id == "cam-broken":
            raise PrivacyConfigError("privacy policy v7: blur_strength: not a number")
        return no_faces, 3

    async with AnonymizationMiddleware(_fakes(), Settings(worker_pool_size=1)) as middleware:
        processor, _ = _processor(cg, middleware, lookup)
        await processor.handle(
            [_event("cam-ok", (720, 1280), 1), _event("cam-broken", (720, 1280), 2)]
        )

    ok, broken = _published(cg)
    assert (ok["faces"], ok["plates"], ok["policy_version"]) == (0, 1, 3)
    assert (broken["faces"], broken["plates"], broken["policy_version"]) == (1, 1, None)
    assert cg.counters["frames.privacy_lookup_failed.privacy_policy_invalid"] == 1
    assert _dead(cg) == []


async def test_an_unavailable_anonymizer_dead_letters_every_frame() -> None:
    cg = _cg()

    def no_models(settings: Settings) -> Any:
        raise ModelMissingError("centerface missing: run `camguard models fetch`")

    events = [_event("cam-1", (720, 1280), i) for i in range(3)]
    async with AnonymizationMiddleware(None, Settings(worker_pool_size=1), no_models) as middleware:
        processor, _ = _processor(cg, middleware, lambda org, cam: (BlurConfig(), None))
        await processor.handle(events)

    assert _published(cg) == []
    dead = _dead(cg)
    assert [d["reason"] for d in dead] == ["model_missing"] * 3
    assert [d["value"] for d in dead] == [e.message.value for e in events]  # nothing lost
    assert cg.counters["frames.withheld"] == 3


async def test_one_frames_real_onnxruntime_failure_fails_only_that_frame_closed() -> None:
    cg = _cg()
    core = Anonymizer(
        {
            "FACE": OnnxDetector(failing_session(), CENTERFACE, max_side=640),
            "PLATE": FakeDetector("PLATE", "plates", default=[PLATE]),
        }
    )
    events = [
        _event("cam-1", (720, 1280), 1),
        _event("cam-2", BAD_FRAME, 2),  # this canvas makes onnxruntime raise
        _event("cam-1", (720, 1280), 3),
    ]
    async with AnonymizationMiddleware(core, Settings(worker_pool_size=1)) as middleware:
        processor, outcomes = _processor(cg, middleware, lambda org, cam: (BlurConfig(), 1))
        await processor.handle(events)

    first, failed, last = _published(cg)
    assert (first["fail_closed"], last["fail_closed"]) == (False, False)
    assert (first["plates"], last["plates"]) == (1, 1)
    assert failed["fail_closed"] is True
    assert failed["camera_id"] == "cam-2"
    image = cv2.imdecode(np.frombuffer(failed["data"], np.uint8), cv2.IMREAD_COLOR)
    original = np.random.default_rng(2).integers(0, 256, (*BAD_FRAME, 3), dtype=np.uint8)
    assert laplacian_variance(image) < laplacian_variance(original) / 50
    assert outcomes.seen == [
        ("cam-1", True, None),
        ("cam-2", False, "detection_failed"),
        ("cam-1", True, None),
    ]
    assert cg.counters["frames.fail_closed"] == 1
    assert _dead(cg) == []


async def test_drop_dead_letters_the_failing_frame_with_its_reason() -> None:
    cg = _cg()
    core = Anonymizer({"FACE": OnnxDetector(failing_session(), CENTERFACE, max_side=640)})
    config = BlurConfig(license_plate_blur_enabled=False, fail_closed_action="drop")
    events = [_event("cam-2", BAD_FRAME, 1), _event("cam-1", (720, 1280), 2)]
    async with AnonymizationMiddleware(core, Settings(worker_pool_size=1)) as middleware:
        processor, _ = _processor(cg, middleware, lambda org, cam: (config, None))
        await processor.handle(events)

    (published,) = _published(cg)
    assert published["camera_id"] == "cam-1"
    (dead,) = _dead(cg)
    assert dead["reason"] == "detection_failed"
    assert dead["value"] == events[0].message.value
    assert cg.counters["frames.fail_closed"] == 1


@pytest.mark.parametrize("bad", [b"", b"\xc3\x01garbage"])
async def test_undecodable_frames_are_dead_lettered_and_the_rest_published(bad: bytes) -> None:
    cg = _cg()
    good = _event("cam-1", (720, 1280), 1)
    async with AnonymizationMiddleware(_fakes(), Settings(worker_pool_size=1)) as middleware:
        processor, _ = _processor(cg, middleware, lambda org, cam: (BlurConfig(), None))
        await processor.handle([Event(Message(b"cam-1", bad)), good])
    assert len(_published(cg)) == 1
    assert len(_dead(cg)) == 1


async def test_the_breaker_and_its_outcome_get_the_frames_org() -> None:
    """The org picks the camera's resilience policy (camera > org > global)."""
    cg = _cg()
    asked: list[tuple[str, str | None]] = []

    async def allow(camera_id: str, org_id: str | None, event: Any) -> tuple[bool, str]:
        asked.append((camera_id, org_id))
        return True, "closed"

    outcomes = Outcomes()
    async with AnonymizationMiddleware(_fakes(), Settings(worker_pool_size=1)) as middleware:
        processor = FramesProcessor(
            cg, middleware, lambda org, cam: (BlurConfig(), None), allow, outcomes
        )
        await processor.handle([_event("cam-1", (480, 640), 1)])
    assert asked == [("cam-1", "org-1")]
    assert outcomes.orgs == ["org-1"]


async def test_a_record_delivered_again_is_published_once_while_its_partition_stays() -> None:
    """Faust's seek back to the committed offset after a rebalance re-delivers records already
    in the open transaction; they stay skipped while this worker keeps the partition (its
    transaction goes on) and are handled again once the partition was lost and came back."""
    cg = _cg()
    first, second = _event("cam-1", (120, 160), 1), _event("cam-1", (120, 160), 2)
    frames0, frames1 = TP("camera.frames", 0), TP("camera.frames", 1)
    async with AnonymizationMiddleware(_fakes(), Settings(worker_pool_size=1)) as middleware:
        processor, _ = _processor(cg, middleware, lambda org, cam: (BlurConfig(), 1))
        await processor.handle([first, second])
        await processor.handle([first, second])  # the same offsets again: skipped
        assert [f["seq"] for f in _published(cg)] == [1, 2]
        assert cg.counters["frames.redelivered_skipped"] == 2
        processor.keep_handled({frames0, frames1})  # a rebalance that keeps partition 0
        await processor.handle([second])
        assert [f["seq"] for f in _published(cg)] == [1, 2]  # still in the open transaction
        processor.keep_handled({frames1})  # partition 0 lost: its transaction is given up
        await processor.handle([second])
    assert [f["seq"] for f in _published(cg)] == [1, 2, 2]
