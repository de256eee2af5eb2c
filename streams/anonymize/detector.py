"""The detector interface, the ONNX detectors behind it and a fake for tests.

:class:`OnnxDetector` holds an inference session (anything with onnxruntime's ``run``; the
session itself is made in :mod:`streams.anonymize.runtime`) and one model's pure pre/post
processing (:mod:`~streams.anonymize.centerface`, :mod:`~streams.anonymize.plates`). A batch
may hold frames of different sizes from different cameras: frames are grouped by detector
canvas and each group runs as one or more batches of at most ``max_batch``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from numpy.typing import NDArray

from streams.anonymize import centerface, plates
from streams.anonymize.exceptions import DetectionError
from streams.anonymize.geometry import (
    Detection,
    FloatArray,
    Image,
    Kind,
    Letterbox,
    plan_letterbox,
    to_frame,
)


class Detector(Protocol):
    """Finds regions of one kind in a batch of BGR uint8 frames."""

    @property
    def kind(self) -> Kind: ...

    @property
    def name(self) -> str:
        """Model name reported in ``AnonymizedFrame.detector`` (``centerface``)."""
        ...

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        """One list of detections per image, in frame pixels, scoring at least ``threshold``
        (None: the detector's own). Raises DetectionError."""
        ...


class InferenceSession(Protocol):
    """The part of ``onnxruntime.InferenceSession`` the detectors use."""

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, NDArray[Any]]
    ) -> Sequence[FloatArray]: ...


@dataclass(frozen=True)
class ModelCodec:
    """A model's input/output names and its pure pre/post-processing."""

    name: str
    kind: Kind
    input_name: str
    output_names: tuple[str, ...]
    preprocess: Callable[[Sequence[Image], Sequence[Letterbox]], NDArray[Any]]
    decode: Callable[[Sequence[FloatArray], Sequence[Letterbox], float], list[FloatArray]]
    default_threshold: float


CENTERFACE = ModelCodec(
    name="centerface",
    kind="FACE",
    input_name=centerface.INPUT_NAME,
    output_names=centerface.OUTPUT_NAMES,
    preprocess=centerface.preprocess,
    decode=centerface.decode,
    default_threshold=0.4,
)

CLP_DET = ModelCodec(
    name="clp_det",
    kind="PLATE",
    input_name=plates.INPUT_NAME,
    output_names=plates.OUTPUT_NAMES,
    preprocess=plates.preprocess,
    decode=plates.decode,
    default_threshold=0.5,
)


def group_by_canvas(plans: Sequence[Letterbox], max_batch: int) -> list[list[int]]:
    """Indices of frames that share a canvas, in chunks of at most ``max_batch``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, plan in enumerate(plans):
        groups.setdefault(plan.canvas, []).append(index)
    return [
        members[start : start + max_batch]
        for members in groups.values()
        for start in range(0, len(members), max_batch)
    ]


@dataclass
class OnnxDetector:
    """A :class:`Detector` running one ONNX model through an inference session."""

    session: InferenceSession
    codec: ModelCodec
    max_side: int = 640
    threshold: float | None = None
    max_batch: int = 8

    @property
    def kind(self) -> Kind:
        return self.codec.kind

    @property
    def name(self) -> str:
        return self.codec.name

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        if threshold is None:
            threshold = self.codec.default_threshold if self.threshold is None else self.threshold
        plans = [plan_letterbox(im.shape[0], im.shape[1], self.max_side) for im in images]
        results: list[list[Detection]] = [[] for _ in images]
        for chunk in group_by_canvas(plans, max(1, self.max_batch)):
            chunk_plans = [plans[i] for i in chunk]
            blob = self.codec.preprocess([images[i] for i in chunk], chunk_plans)
            try:
                outputs = self.session.run(
                    list(self.codec.output_names), {self.codec.input_name: blob}
                )
                decoded = self.codec.decode(outputs, chunk_plans, threshold)
            except (RuntimeError, ValueError, IndexError) as exc:
                # onnxruntime raises its own RuntimeError subclasses (Fail, InvalidArgument ...)
                raise DetectionError(f"{self.codec.name}: {exc}") from exc
            for index, dets in zip(chunk, decoded, strict=True):
                results[index] = to_frame(self.codec.kind, dets, plans[index])
        return results


@dataclass
class FakeDetector:
    """A detector for tests: returns the boxes it was given, or raises the error it holds.

    ``boxes`` maps an image's (height, width) to detections in frame pixels; ``error`` is raised
    for every batch, or with ``fail_on`` only for batches holding an image of that size. Every
    call is recorded in ``calls`` (the batch sizes seen).
    """

    kind: Kind = "FACE"
    name: str = "fake"
    boxes: dict[tuple[int, int], list[Detection]] = field(default_factory=dict)
    default: list[Detection] = field(default_factory=list)
    error: Exception | None = None
    fail_on: tuple[int, int] | None = None  # raise only for batches holding this size
    calls: list[int] = field(default_factory=list)

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        self.calls.append(len(images))
        if self.error is not None and (
            self.fail_on is None or self.fail_on in {im.shape[:2] for im in images}
        ):
            raise self.error
        floor = 0.0 if threshold is None else threshold
        return [
            [d for d in self.boxes.get(im.shape[:2], self.default) if d.score >= floor]
            for im in images
        ]
