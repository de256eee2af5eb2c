"""The synchronous anonymization core: decode, detect (batched), blur, encode.

Runs inside the worker pool (never on the event loop). A batch may mix cameras and privacy
configurations: each detector runs once over the frames that want it, at the lowest threshold
asked for, and each frame keeps only the boxes above its own threshold.

Failure handling, per frame (nothing here raises: every error has an outcome):

- bad bytes (:class:`ImageError`): the outcome carries the error; the caller dead-letters it.
- detection failed (any exception from a detector becomes :class:`DetectionError`): a batch that
  fails is retried frame by frame so one bad frame cannot take its neighbours down; a frame that
  still fails is, with ``fail_closed``, blurred whole (or dropped, ``fail_closed_action="drop"``)
  and flagged; without ``fail_closed`` its outcome carries the error and it is dead-lettered,
  never published as is.
- blurring failed (:class:`BlurError`): fail closed as above; if even the whole-frame blur
  fails, the frame is withheld. Encoding failed (:class:`EncodeError`): withheld.
- anything else (:class:`AnonymizeFailedError`): every frame of the batch fails closed.

Published means ``outcome.image`` is set: a frame without an image (dropped, withheld, refused)
is dead-lettered with its error's reason, and ``fail_closed`` says whether the rule dropped it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.anonymize import images as codec
from streams.anonymize.blur import BlurConfig, anonymize_regions, anonymize_whole
from streams.anonymize.detector import Detector
from streams.anonymize.exceptions import (
    AnonymizeError,
    AnonymizeFailedError,
    BlurError,
    DetectionError,
    EncodeError,
    ImageError,
)
from streams.anonymize.geometry import Detection, Image, Kind
from streams.anonymize.hold import BoxHold, Track

log = logging.getLogger(__name__)

KINDS: tuple[Kind, ...] = ("FACE", "PLATE")


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame. ``image`` is None when the frame was dropped or failed."""

    image: Image | None
    detections: tuple[Detection, ...] = ()
    fail_closed: bool = False
    error: AnonymizeError | None = None
    held: tuple[Detection, ...] = ()  # blurred too: found in neighbouring frames of the track
    protection: Mapping[str, Any] | None = None  # the AnonymizedFrame.protection record

    @property
    def faces(self) -> int:
        return sum(1 for d in self.detections if d.kind == "FACE")

    @property
    def plates(self) -> int:
        return sum(1 for d in self.detections if d.kind == "PLATE")


@dataclass(frozen=True)
class EncodedJob:
    """An encoded frame as it arrives from a producer."""

    data: bytes
    config: BlurConfig
    declared_size: tuple[int, int] | None = None  # (width, height)
    encoding: codec.Encoding | None = None
    track: Track | None = None  # (camera, seq) for the box hold


@dataclass(frozen=True)
class EncodedOutcome:
    """An anonymized encoded frame (``data`` empty when dropped) or the error that stopped it."""

    data: bytes
    encoding: codec.Encoding
    width: int
    height: int
    outcome: FrameOutcome
    latency_ms: float


def _declared(job: EncodedJob) -> tuple[int, int, codec.Encoding]:
    """(width, height, encoding) as the producer declared them, for a frame never decoded."""
    width, height = job.declared_size or (0, 0)
    return width, height, job.encoding or "JPEG"


@dataclass
class Anonymizer:
    """Detectors plus the rules above; safe to call from several pool threads at once."""

    detectors: Mapping[Kind, Detector]
    max_pixels: int = 40_000_000
    jpeg_quality: int = 90
    clock: Callable[[], float] = time.perf_counter
    counters: dict[str, int] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)  # detector name -> model@pkg==v
    hold: BoxHold = field(default_factory=lambda: BoxHold(0))

    @property
    def name(self) -> str:
        return "+".join(self.detectors[k].name for k in KINDS if k in self.detectors)

    def _count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def _detect_kind(
        self, kind: Kind, frames: Sequence[Image], configs: Sequence[BlurConfig]
    ) -> list[list[Detection] | DetectionError]:
        detector = self.detectors.get(kind)
        if detector is None:
            return [DetectionError(f"no {kind} detector loaded") for _ in frames]
        threshold = min(c.threshold(kind) for c in configs)
        try:
            found: list[list[Detection] | DetectionError] = list(detector.detect(frames, threshold))
            if len(found) != len(frames):
                raise DetectionError(f"{detector.name}: {len(found)} results for {len(frames)}")
        except Exception as exc:  # a detector that raises anything fails its frames closed
            error = (
                exc
                if isinstance(exc, DetectionError)
                else DetectionError(f"{detector.name}: {type(exc).__name__}: {exc}")
            )
            if len(frames) == 1:
                return [error]
            self._count("batch_retried")
            return [
                self._detect_kind(kind, [f], [c])[0] for f, c in zip(frames, configs, strict=True)
            ]
        for i, config in enumerate(configs):
            dets = found[i]
            if isinstance(dets, list):
                found[i] = [d for d in dets if d.score >= config.threshold(kind)]
        return found

    def anonymize(
        self,
        frames: Sequence[Image],
        configs: Sequence[BlurConfig],
        in_place: bool = False,
        tracks: Sequence[Track | None] | None = None,
    ) -> list[FrameOutcome]:
        """Anonymize decoded frames (any of 1, 3, 4 channels).

        The inputs are not modified unless ``in_place`` (for frames the caller owns, e.g. just
        decoded: saves a full-frame copy each). ``tracks`` (camera or clip, frame number) turn
        on the box hold for those frames. Never raises: an unexpected error fails every frame
        of the batch closed.
        """
        try:
            return self._anonymize(frames, configs, in_place, tracks or [None] * len(frames))
        except Exception as exc:  # a bug or a library fault: no frame leaves as it came in
            log.exception("anonymizing a batch of %d frames failed", len(frames))
            error = AnonymizeFailedError(f"{type(exc).__name__}: {exc}")
            return [self._fail_closed(f, c, error) for f, c in zip(frames, configs, strict=True)]

    def _anonymize(
        self,
        frames: Sequence[Image],
        configs: Sequence[BlurConfig],
        in_place: bool,
        tracks: Sequence[Track | None],
    ) -> list[FrameOutcome]:
        detected = self.detect(frames, configs)
        held = self.hold.exchange(
            [t if isinstance(d, list) else None for d, t in zip(detected, tracks, strict=True)],
            [f.shape[:2] for f in frames],
            [d if isinstance(d, list) else [] for d in detected],
        )
        return [
            self.finish(frame, found, config, in_place, extra)
            for frame, found, config, extra in zip(frames, detected, configs, held, strict=True)
        ]

    def detect(
        self, frames: Sequence[Image], configs: Sequence[BlurConfig]
    ) -> list[list[Detection] | AnonymizeError]:
        """Each frame's detections (every kind its config wants, at its own thresholds), or the
        error that stops it: :class:`ImageError` (refused) or :class:`DetectionError`."""
        usable: dict[int, Image] = {}
        result: list[list[Detection] | AnonymizeError] = [[] for _ in frames]
        for i, frame in enumerate(frames):
            try:
                usable[i] = codec.as_bgr(frame)
            except ImageError as exc:
                result[i] = exc
        for kind in KINDS:
            wanted = [i for i in usable if configs[i].wants(kind)]
            if not wanted:
                continue
            found = self._detect_kind(
                kind, [usable[i] for i in wanted], [configs[i] for i in wanted]
            )
            for i, dets in zip(wanted, found, strict=True):
                current = result[i]
                if isinstance(current, AnonymizeError):
                    continue
                if isinstance(dets, DetectionError):
                    result[i] = dets
                else:
                    current.extend(dets)
        return result

    def finish(
        self,
        frame: Image,
        detected: list[Detection] | AnonymizeError,
        config: BlurConfig,
        in_place: bool = False,
        held: Sequence[Detection] = (),
    ) -> FrameOutcome:
        """Blur ``frame``'s detections and ``held`` regions, or fail it closed per ``config``."""
        if isinstance(detected, ImageError):
            self._count(f"error.{detected.reason}")
            return FrameOutcome(None, error=detected)
        if isinstance(detected, AnonymizeError):
            return self._fail_closed(frame, config, detected)
        held = [d for d in held if config.wants(d.kind)]
        try:
            image = anonymize_regions(frame, [*detected, *held], config, in_place)
        except Exception as exc:
            # in_place may have blurred some regions already: the whole-frame blur covers all
            return self._fail_closed(frame, config, BlurError(f"{type(exc).__name__}: {exc}"))
        self._count("frames")
        self._count("held_boxes", len(held))
        protection = self.protection(frame.shape[:2], config, len(held), None)
        return FrameOutcome(image, tuple(detected), held=tuple(held), protection=protection)

    def _fail_closed(self, frame: Image, config: BlurConfig, error: AnonymizeError) -> FrameOutcome:
        """The frame as the policy's fail-closed rule wants it: blurred whole (``blur``), or no
        image (``drop``, or ``fail_closed`` off: the caller dead-letters it). Never the input."""
        self._count(f"error.{error.reason}")
        if not config.fail_closed:
            return FrameOutcome(None, error=error)
        self._count("fail_closed")
        if config.fail_closed_action == "drop":
            return FrameOutcome(None, fail_closed=True, error=error)
        try:
            image = anonymize_whole(frame, config)
            protection = self.protection(frame.shape[:2], config, 0, error.reason)
            return FrameOutcome(image, fail_closed=True, error=error, protection=protection)
        except Exception as exc:  # cannot even blur it: withheld
            self._count("error.blur_failed")
            return FrameOutcome(None, fail_closed=True, error=BlurError(f"{error}; then {exc}"))

    def protection(
        self, size: tuple[int, int], config: BlurConfig, held: int, reason: str | None
    ) -> dict[str, Any]:
        """The ``Protection`` record of a frame of ``size`` (height, width) under ``config``."""
        passes = []
        for kind in KINDS:
            detector = self.detectors.get(kind)
            if detector is None or not config.wants(kind):
                continue
            model = self.versions.get(detector.name, detector.name)
            views = getattr(detector, "views", None)
            plan = views(0, *size) if callable(views) else []
            base = plan[0].plan.canvas if plan else (0, 0)
            tiles = [v for v in plan[1:] if not v.coarse]
            coarse = next((v.plan.canvas for v in plan[1:] if v.coarse), (0, 0))
            passes.append(
                {
                    "kind": kind,
                    "model": model,
                    "canvas_width": base[1],
                    "canvas_height": base[0],
                    "tiles": len(tiles),
                    "tile_width": max((t.w for t in tiles), default=0),
                    "tile_height": max((t.h for t in tiles), default=0),
                    "threshold": config.threshold(kind),
                    "coarse_width": coarse[1],
                    "coarse_height": coarse[0],
                }
            )
        face = self.detectors.get("FACE")
        return {
            "models": [p["model"] for p in passes],
            "detection_max_side": int(getattr(face, "max_side", 0)),
            "passes": passes,
            "hold_frames": self.hold.frames,
            "held_boxes": held,
            "fail_closed_reason": reason,
        }

    def anonymize_encoded(self, jobs: Sequence[EncodedJob]) -> list[EncodedOutcome]:
        """Decode (header checks first), anonymize as one batch, and encode each frame.

        Never raises: a frame that cannot be decoded carries its :class:`ImageError`; any other
        failure fails the frame closed (:meth:`_fail_closed`); a frame that cannot be encoded
        is withheld (no data, :class:`EncodeError`).
        """
        start = self.clock()
        try:
            outcomes, sizes = self._decode_and_anonymize(jobs)
        except Exception as exc:  # a bug or a library fault: nothing is published as it came
            log.exception("anonymizing a batch of %d encoded frames failed", len(jobs))
            error = AnonymizeFailedError(f"{type(exc).__name__}: {exc}")
            self._count(f"error.{error.reason}", len(jobs))
            outcomes = {
                i: FrameOutcome(None, fail_closed=True, error=error) for i in range(len(jobs))
            }
            sizes = {i: _declared(job) for i, job in enumerate(jobs)}
        encoded = [self._encode(outcomes[i], sizes[i][2], jobs[i].config) for i in range(len(jobs))]
        latency = (self.clock() - start) * 1000.0
        return [
            EncodedOutcome(data, sizes[i][2], sizes[i][0], sizes[i][1], outcome, latency)
            for i, (data, outcome) in enumerate(encoded)
        ]

    def _decode_and_anonymize(
        self, jobs: Sequence[EncodedJob]
    ) -> tuple[dict[int, FrameOutcome], dict[int, tuple[int, int, codec.Encoding]]]:
        decoded: list[Image] = []
        index: list[int] = []
        outcomes: dict[int, FrameOutcome] = {}
        sizes: dict[int, tuple[int, int, codec.Encoding]] = {}
        for i, job in enumerate(jobs):
            try:
                image, header = codec.decode(
                    job.data, self.max_pixels, job.declared_size, job.encoding
                )
            except ImageError as exc:
                self._count(f"error.{exc.reason}")
                outcomes[i] = FrameOutcome(None, error=exc)
                sizes[i] = _declared(job)
                continue
            decoded.append(image)
            index.append(i)
            sizes[i] = (header.width, header.height, header.encoding)
        done = self.anonymize(
            decoded,
            [jobs[i].config for i in index],
            in_place=True,
            tracks=[jobs[i].track for i in index],
        )
        outcomes.update(zip(index, done, strict=True))
        return outcomes, sizes

    def _encode(
        self, outcome: FrameOutcome, encoding: codec.Encoding, config: BlurConfig
    ) -> tuple[bytes, FrameOutcome]:
        if outcome.image is None:
            return b"", outcome
        try:
            return codec.encode(outcome.image, encoding, self.jpeg_quality), outcome
        except Exception as exc:  # withheld: the frame is dead-lettered, never sent unblurred
            error = EncodeError(f"{type(exc).__name__}: {exc}")
            self._count(f"error.{error.reason}")
            return b"", FrameOutcome(
                None, outcome.detections, fail_closed=config.fail_closed, error=error
            )
