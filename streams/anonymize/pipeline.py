"""The synchronous anonymization core: decode, detect (batched), blur, encode.

Runs inside the worker pool (never on the event loop). A batch may mix cameras and privacy
configurations: each detector runs once over the frames that want it, at the lowest threshold
asked for, and each frame keeps only the boxes above its own threshold.

Failure handling, per frame:

- bad bytes (:class:`ImageError`): the outcome carries the error; the caller dead-letters it.
- detection failed (:class:`DetectionError`): a batch that fails is retried frame by frame so one
  bad frame cannot take its neighbours down; a frame that still fails is, with ``fail_closed``,
  blurred whole (or dropped, ``fail_closed_action="drop"``) and flagged; without
  ``fail_closed`` its outcome carries the error and it is dead-lettered, never published as is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.anonymize import images as codec
from streams.anonymize.blur import BlurConfig, anonymize_regions, anonymize_whole
from streams.anonymize.detector import Detector
from streams.anonymize.exceptions import AnonymizeError, DetectionError, ImageError
from streams.anonymize.geometry import Detection, Image, Kind

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
        except DetectionError as exc:
            if len(frames) == 1:
                return [exc]
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
        decoded: saves a full-frame copy each).
        """
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
            self._count(f"error.{failure.reason}")
            if not config.fail_closed:
                return FrameOutcome(None, error=failure)
            self._count("fail_closed")
            if config.fail_closed_action == "drop":
                return FrameOutcome(None, fail_closed=True, error=failure)
            return FrameOutcome(anonymize_whole(frame, config), fail_closed=True, error=failure)
        self._count("frames")
        return FrameOutcome(anonymize_regions(frame, found, config, in_place), tuple(found))

    def anonymize_encoded(self, jobs: Sequence[EncodedJob]) -> list[EncodedOutcome]:
        """Decode (header checks first), anonymize as one batch, and encode each frame."""
        start = self.clock()
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
        encoded: list[bytes] = []
        for i in range(len(jobs)):
            result = outcomes[i].image
            encoded.append(
                b"" if result is None else codec.encode(result, sizes[i][2], self.jpeg_quality)
            )
        latency = (self.clock() - start) * 1000.0
        return [
            EncodedOutcome(encoded[i], sizes[i][2], sizes[i][0], sizes[i][1], outcomes[i], latency)
            for i in range(len(jobs))
        ]
