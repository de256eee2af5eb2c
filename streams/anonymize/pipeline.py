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

log = logging.getLogger(__name__)

KINDS: tuple[Kind, ...] = ("FACE", "PLATE")


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame. ``image`` is None when the frame was dropped or failed."""

    image: Image | None
    detections: tuple[Detection, ...] = ()
    fail_closed: bool = False
    error: AnonymizeError | None = None

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


@dataclass(frozen=True)
class EncodedOutcome:
    """An anonymized encoded frame (``data`` empty when dropped) or the error that stopped it."""

    data: bytes
    encoding: codec.Encoding
    width: int
    height: int
    outcome: FrameOutcome
    latency_ms: float


@dataclass
class Anonymizer:
    """Detectors plus the rules above; safe to call from several pool threads at once."""

    detectors: Mapping[Kind, Detector]
    max_pixels: int = 40_000_000
    jpeg_quality: int = 90
    clock: Callable[[], float] = time.perf_counter
    counters: dict[str, int] = field(default_factory=dict)

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
        self, frames: Sequence[Image], configs: Sequence[BlurConfig], in_place: bool = False
    ) -> list[FrameOutcome]:
        """Anonymize decoded frames (any of 1, 3, 4 channels).

        The inputs are not modified unless ``in_place`` (for frames the caller owns, e.g. just
        decoded: saves a full-frame copy each). Never raises: an unexpected error fails every
        frame of the batch closed.
        """
        try:
            return self._anonymize(frames, configs, in_place)
        except Exception as exc:  # a bug or a library fault: no frame leaves as it came in
            log.exception("anonymizing a batch of %d frames failed", len(frames))
            error = AnonymizeFailedError(f"{type(exc).__name__}: {exc}")
            return [self._fail_closed(f, c, error) for f, c in zip(frames, configs, strict=True)]

    def _anonymize(
        self, frames: Sequence[Image], configs: Sequence[BlurConfig], in_place: bool
    ) -> list[FrameOutcome]:
        usable: dict[int, Image] = {}
        refused: dict[int, ImageError] = {}
        for i, frame in enumerate(frames):
            try:
                usable[i] = codec.as_bgr(frame)
            except ImageError as exc:
                refused[i] = exc
        found: list[list[Detection]] = [[] for _ in frames]
        failed: dict[int, DetectionError] = {}
        for kind in KINDS:
            wanted = [i for i in usable if configs[i].wants(kind)]
            if not wanted:
                continue
            results = self._detect_kind(
                kind, [usable[i] for i in wanted], [configs[i] for i in wanted]
            )
            for i, result in zip(wanted, results, strict=True):
                if isinstance(result, DetectionError):
                    failed.setdefault(i, result)
                else:
                    found[i].extend(result)
        return [
            self._finish(frames[i], refused.get(i), found[i], failed.get(i), configs[i], in_place)
            for i in range(len(frames))
        ]

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
            return FrameOutcome(anonymize_whole(frame, config), fail_closed=True, error=error)
        except Exception as exc:  # cannot even blur it: withheld
            self._count("error.blur_failed")
            return FrameOutcome(None, fail_closed=True, error=BlurError(f"{error}; then {exc}"))

    def _finish(
        self,
        frame: Image,
        refused: ImageError | None,
        found: list[Detection],
        failure: DetectionError | None,
        config: BlurConfig,
        in_place: bool,
    ) -> FrameOutcome:
        if refused is not None:
            self._count(f"error.{refused.reason}")
            return FrameOutcome(None, error=refused)
        if failure is not None:
            return self._fail_closed(frame, config, failure)
        try:
            image = anonymize_regions(frame, found, config, in_place)
        except Exception as exc:
            # in_place may have blurred some regions already: the whole-frame blur covers all
            return self._fail_closed(frame, config, BlurError(f"{type(exc).__name__}: {exc}"))
        self._count("frames")
        return FrameOutcome(image, tuple(found))

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
            sizes = {
                i: (*(job.declared_size or (0, 0)), job.encoding or "JPEG")
                for i, job in enumerate(jobs)
            }
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
                width, height = job.declared_size or (0, 0)
                sizes[i] = (width, height, job.encoding or "JPEG")
                continue
            decoded.append(image)
            index.append(i)
            sizes[i] = (header.width, header.height, header.encoding)
        done = self.anonymize(decoded, [jobs[i].config for i in index], in_place=True)
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
