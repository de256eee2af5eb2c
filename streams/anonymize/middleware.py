"""The seed's asynchronous API over the anonymization core.

Every method is awaitable and does its work (JPEG coding, inference, blurring, video) in a
bounded thread pool, never on the event loop: onnxruntime, OpenCV and PyAV release the GIL, so
``worker_pool_size`` threads run in parallel, and at most twice that many jobs wait for them
(callers beyond that wait on the semaphore: backpressure instead of an unbounded queue).

Two levels, one core:

- ``process_frame`` / ``process_image_b64`` (the platform specification's calls) return the
  anonymized frame / base64 image itself;
- ``anonymize_frame`` / ``anonymize_image_b64`` return the rich result (boxes, counts,
  ``fail_closed``, the error that forced it).

Errors: a bad input raises its :class:`~streams.anonymize.exceptions.ImageError`; a detection
failure raises :class:`DetectionError` unless the config fails closed, in which case the result
is the whole-frame blur with ``fail_closed`` set. With ``fail_closed_action="drop"`` there is no
image: the rich calls return the outcome without one, the plain calls raise the error, so a
caller of ``process_frame`` never receives a frame that was not anonymized.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from streams.anonymize.blur import BlurConfig
from streams.anonymize.clip import ClipSummary, anonymize_clip
from streams.anonymize.exceptions import AnonymizeError, AnonymizeFailedError, CorruptImageError
from streams.anonymize.geometry import Image
from streams.anonymize.hold import BoxHold
from streams.anonymize.images import Encoding
from streams.anonymize.pipeline import Anonymizer, EncodedJob, EncodedOutcome, FrameOutcome
from streams.anonymize.runtime import DetectorSet, load_detectors
from streams.settings import Settings

T = TypeVar("T")


def config_from_settings(settings: Settings) -> BlurConfig:
    """The privacy defaults a worker uses when no policy applies."""
    return BlurConfig(
        face_blur_enabled=settings.face_blur_enabled,
        license_plate_blur_enabled=settings.license_plate_blur_enabled,
        fail_closed=settings.fail_closed,
        fail_closed_action=settings.frame_failure_policy,
        face_score_threshold=settings.face_score_threshold,
        plate_score_threshold=settings.plate_score_threshold,
    )


def model_versions(loaded: DetectorSet) -> dict[str, str]:
    """Detector name -> ``model@package==version`` (a union of plate models joined by ``|``)."""
    versions = dict(loaded.versions)
    versions[loaded.plate.name] = "|".join(
        loaded.versions.get(name, name) for name in loaded.plate.name.split("|")
    )
    return versions


@dataclass(frozen=True)
class ImageResult:
    """Result of :meth:`AnonymizationMiddleware.anonymize_image_b64` (``image_b64`` is empty
    when the frame was dropped; ``error`` says why it failed closed)."""

    image_b64: str
    encoding: Encoding
    faces: int
    plates: int
    boxes: list[dict[str, object]]
    fail_closed: bool
    latency_ms: float
    error: AnonymizeError | None = None


def _raise_unless_published(outcome: FrameOutcome) -> None:
    if outcome.image is None and not outcome.fail_closed and outcome.error is not None:
        raise outcome.error


def _withheld(error: AnonymizeError | None) -> AnonymizeError:
    """Why a frame has no anonymized image (dropped or withheld after failing closed)."""
    return error or AnonymizeFailedError("the frame was withheld")


class AnonymizationMiddleware:
    """Face and plate anonymization for frames, base64 images and clips."""

    def __init__(
        self,
        anonymizer: Anonymizer | None = None,
        settings: Settings | None = None,
        detectors: Callable[[Settings], DetectorSet] = load_detectors,
    ) -> None:
        self.settings = settings or Settings()
        self._anonymizer = anonymizer
        self._load = detectors
        self.detector_set: DetectorSet | None = None
        size = self.settings.worker_pool_size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="anonymize")
        self._slots = asyncio.Semaphore(2 * size)
        self._loading = asyncio.Lock()

    @property
    def default_config(self) -> BlurConfig:
        return config_from_settings(self.settings)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def anonymizer(self) -> Anonymizer:
        """The core, loading the ONNX detectors (in the pool) on first use."""
        if self._anonymizer is None:
            async with self._loading:
                if self._anonymizer is None:
                    loaded = await self._run(self._load, self.settings)
                    self.detector_set = loaded
                    self._anonymizer = Anonymizer(
                        {"FACE": loaded.face, "PLATE": loaded.plate},
                        max_pixels=self.settings.max_image_pixels,
                        versions=model_versions(loaded),
                        hold=BoxHold(self.settings.hold_frames),
                    )
        return self._anonymizer

    async def process_frames(
        self, frames: Sequence[Image], configs: Sequence[BlurConfig]
    ) -> list[FrameOutcome]:
        """Anonymize a batch of decoded frames (BGR, BGRA or grayscale uint8)."""
        core = await self.anonymizer()
        parts = await asyncio.gather(
            *(
                self._run(core.anonymize, list(frames[part]), list(configs[part]))
                for part in self._chunks(len(frames))
            )
        )
        return [outcome for part in parts for outcome in part]

    async def anonymize_frame(self, frame: Image, config: BlurConfig | None = None) -> FrameOutcome:
        """Anonymize one decoded frame; ``outcome.image`` has the input's layout (None only
        when the config fails closed by dropping)."""
        (outcome,) = await self.process_frames([frame], [config or self.default_config])
        _raise_unless_published(outcome)
        return outcome

    async def process_frame(self, frame: Image, config: BlurConfig | None = None) -> Image:
        """The anonymized copy of a decoded frame (BGR, BGRA or grayscale uint8): same shape
        and dtype; the whole-frame blur where detection failed and the config fails closed.

        Raises the frame's error where there is no image to return (a bad input, a failure
        with ``fail_closed`` off, or ``fail_closed_action="drop"``); the input is never
        returned unanonymized. :meth:`anonymize_frame` has the boxes and counts.
        """
        outcome = await self.anonymize_frame(frame, config)
        if outcome.image is None:
            raise _withheld(outcome.error)
        return outcome.image

    def _chunks(self, count: int) -> list[slice]:
        """Split a batch over the pool: never below the detectors' tuned batch size (a GPU
        wants one big batch), else evenly over the workers (CPUs run them in parallel)."""
        tuned = self.detector_set.face.max_batch if self.detector_set else 1
        size = max(tuned, math.ceil(count / self.settings.worker_pool_size), 1)
        return [slice(start, start + size) for start in range(0, count, size)]

    async def process_encoded(self, jobs: Sequence[EncodedJob]) -> list[EncodedOutcome]:
        """Decode, anonymize and encode a batch; errors are returned per frame, not raised."""
        core = await self.anonymizer()
        parts = await asyncio.gather(
            *(
                self._run(core.anonymize_encoded, list(jobs[part]))
                for part in self._chunks(len(jobs))
            )
        )
        return [result for part in parts for result in part]

    async def process_image_b64(self, image_b64: str, config: BlurConfig | None = None) -> str:
        """The anonymized image as base64, in the input's encoding (JPEG or PNG).

        Raises like :meth:`process_frame`; :meth:`anonymize_image_b64` has boxes and counts.
        """
        result = await self.anonymize_image_b64(image_b64, config)
        if not result.image_b64:
            raise _withheld(result.error)
        return result.image_b64

    async def anonymize_image_b64(
        self, image_b64: str, config: BlurConfig | None = None
    ) -> ImageResult:
        """Anonymize a base64 JPEG/PNG; the result is base64 in the same encoding."""
        try:
            data = base64.b64decode(image_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CorruptImageError(f"not base64: {exc}") from exc
        (result,) = await self.process_encoded([EncodedJob(data, config or self.default_config)])
        _raise_unless_published(result.outcome)
        return ImageResult(
            image_b64=base64.b64encode(result.data).decode("ascii"),
            encoding=result.encoding,
            faces=result.outcome.faces,
            plates=result.outcome.plates,
            boxes=[d.as_box() for d in result.outcome.detections],
            fail_closed=result.outcome.fail_closed,
            latency_ms=result.latency_ms,
            error=result.outcome.error,
        )

    async def process_clip(
        self, path_in: Path | str, path_out: Path | str, config: BlurConfig | None = None
    ) -> ClipSummary:
        """Anonymize a video file into another, keeping its frame count and frame rate."""
        core = await self.anonymizer()
        return await self._run(
            anonymize_clip,
            Path(path_in),
            Path(path_out),
            core,
            config or self.default_config,
            self.settings.batch_max_frames,
            self.settings.hold_frames,
        )

    def stats(self) -> dict[str, Any]:
        """Detector, provider, model versions and the core's counters."""
        loaded = self.detector_set.stats() if self.detector_set else {}
        core = self._anonymizer
        return {
            **loaded,
            "detector": loaded.get("detector", core.name if core else None),
            "counters": dict(core.counters) if core else {},
            "pool_size": self.settings.worker_pool_size,
        }

    async def close(self) -> None:
        """Wait for running jobs and stop the pool."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)

    async def __aenter__(self) -> AnonymizationMiddleware:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
