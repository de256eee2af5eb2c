"""The detector interface, the ONNX detectors behind it and a fake for tests.

:class:`OnnxDetector` holds an inference session (anything with onnxruntime's ``run``; the
session itself is made in :mod:`streams.anonymize.runtime`) and one model's pure pre/post
processing (:mod:`~streams.anonymize.centerface`, :mod:`~streams.anonymize.plates`). A batch
may hold frames of different sizes from different cameras: frames are grouped by detector
canvas and each group runs as one or more batches of at most ``max_batch``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from streams.anonymize import centerface, plates
from streams.anonymize.exceptions import DetectionError
from streams.anonymize.geometry import (
    STRIDE,
    Detection,
    FloatArray,
    Image,
    Kind,
    Letterbox,
    as_detections,
    ceil_to,
    plan_letterbox,
    to_frame_pixels,
)
from streams.settings import FACE_SCORE_THRESHOLD, PLATE_SCORE_THRESHOLD

CONTAINED = 0.7  # a box this much inside a better one is the same region cut by a tile edge
UNION_MERGE_IOU = 0.3  # boxes of different models of one kind that are the same region


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
    merge_iou: float = 0.3  # fusing the boxes of the views (whole frame, tiles) of one frame


CENTERFACE = ModelCodec(
    name="centerface",
    kind="FACE",
    input_name=centerface.INPUT_NAME,
    output_names=centerface.OUTPUT_NAMES,
    preprocess=centerface.preprocess,
    decode=centerface.decode,
    default_threshold=FACE_SCORE_THRESHOLD,
    merge_iou=centerface.NMS_IOU,
)

CLP_DET = ModelCodec(
    name="clp_det",
    kind="PLATE",
    input_name=plates.INPUT_NAME,
    output_names=plates.OUTPUT_NAMES,
    preprocess=plates.preprocess,
    decode=plates.decode,
    default_threshold=PLATE_SCORE_THRESHOLD,
    merge_iou=plates.NMS_IOU,
)


def group_by_canvas(plans: Sequence[Letterbox], max_batch: int) -> list[list[int]]:
    """Indices of views that share a canvas, in chunks of at most ``max_batch``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, plan in enumerate(plans):
        groups.setdefault(plan.canvas, []).append(index)
    return [
        members[start : start + max_batch]
        for members in groups.values()
        for start in range(0, len(members), max_batch)
    ]


@dataclass(frozen=True)
class Tiling:
    """Multi-scale detection: besides the whole frame at ``max_side``, overlapping tiles of the
    frame at a higher resolution, so small, far regions reach the size the model needs.

    ``side``: the longest side of a tile in model pixels (0: one tile, the whole frame);
    ``scale``: tile resolution relative to the source frame (1.0 = native pixels);
    ``overlap``: source pixels shared by neighbouring tiles; every region up to this size lies
    wholly inside one tile (larger ones are the whole-frame pass's);
    ``min_gain``: tiles run only where they see the frame at least this many times larger than
    the whole-frame pass does (a 640 px frame at max_side 640 gets none);
    ``base_reliable_px``: the size at detection resolution from which the whole-frame pass finds
    regions reliably; the overlap grows to cover what it misses (a 4K frame at max_side 640 sees
    faces at 1/6: tiles then share at least 6 x 40 px, so no face it misses is cut in two).

    Measured on 720p and 1080p composites (CenterFace int8): at native resolution faces from
    22 px up are found, at 0.85x from 26 px, at 0.75x from 32 px; the whole frame at 640 finds
    48 px faces on 720p and 96 px on 1080p. Hence native tiles by default.
    """

    side: int = 1280
    scale: float = 1.0
    overlap: int = 96
    min_gain: float = 1.5
    base_reliable_px: int = 40

    def describe(self) -> str:
        side = "full" if self.side <= 0 else str(self.side)
        return f"tiles {side}@{self.scale:g}x, overlap {self.overlap}"


@dataclass(frozen=True)
class View:
    """One crop of one frame fed to the model: ``frame[y : y + h, x : x + w]`` on ``plan``."""

    frame: int
    x: int
    y: int
    h: int
    w: int
    plan: Letterbox
    coarse: bool = False  # the whole frame's second, smaller pass (not a tile)


MIN_COARSE_SIDE = 128  # a coarse pass smaller than this sees nothing worth its inference


def tile_spans(length: int, crop: int, overlap: int) -> list[tuple[int, int]]:
    """(start, size) of the fewest evenly spread crops of at most ``crop`` pixels covering
    ``length``, neighbours sharing at least ``overlap``; sizes are multiples of the stride where
    that fits (``crop`` must exceed ``overlap``)."""
    if length <= crop:
        return [(0, length)]
    count = math.ceil((length - overlap) / (crop - overlap))
    size = min(crop, ceil_to((length + (count - 1) * overlap) / count, STRIDE))
    last = length - size
    return [(round(i * last / (count - 1)), size) for i in range(count)]


def plan_views(
    index: int,
    height: int,
    width: int,
    max_side: int,
    tiling: Tiling | None,
    upscale: float = 1.0,
    coarse: float = 0.0,
) -> list[View]:
    """The whole frame at ``max_side`` (a smaller frame enlarged by up to ``upscale``); with
    ``coarse``, the whole frame once more at that fraction of the first pass's size (a region
    that fills too much of the canvas for the model is seen smaller); with ``tiling``, its tiles
    (see :class:`Tiling`; an enlarged frame needs none)."""
    plan = plan_letterbox(height, width, max_side, upscale=upscale)
    base = View(index, 0, 0, height, width, plan)
    views = [base]
    base_scale = min(base.plan.scale_x, base.plan.scale_y)
    coarse_side = round(max(height, width) * base_scale * coarse)
    if coarse_side >= MIN_COARSE_SIDE:
        coarse_plan = plan_letterbox(height, width, coarse_side)
        views.append(View(index, 0, 0, height, width, coarse_plan, coarse=True))
    if tiling is None:
        return views
    if tiling.scale < tiling.min_gain * base_scale:
        return views
    overlap = max(0, tiling.overlap, math.ceil(tiling.base_reliable_px / base_scale))
    crop = max(height, width) if tiling.side <= 0 else int(tiling.side / tiling.scale)
    crop = max(crop, overlap + STRIDE)
    for y, h in tile_spans(height, crop, overlap):
        for x, w in tile_spans(width, crop, overlap):
            # scale 1: native pixels (max_side 0); below 1 the tile's longer side is scaled
            side = 0 if tiling.scale >= 1.0 else max(1, round(max(h, w) * tiling.scale))
            views.append(View(index, x, y, h, w, plan_letterbox(h, w, side)))
    return views


def merge_detections(
    parts: Sequence[NDArray[np.floating[Any]]], iou: float
) -> NDArray[np.floating[Any]]:
    """Frame-pixel boxes ``[N, 5]`` of several views (or models) of one frame, as one set.

    Boxes that overlap a better-scoring one (IoU >= ``iou``, or either lying >= 70 % inside the
    other: a tile edge cuts a region its neighbour sees whole) are fused into it, and the fused
    box is the *enclosing* rectangle: NMS would keep only the best-scoring box, which may cover
    less of the region than the one it suppresses. Counts stay one per region.
    """
    if len(parts) == 1:
        return parts[0]
    dets = np.concatenate(parts)
    if len(dets) < 2:
        return dets
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    fused: list[list[float]] = []
    for x1, y1, x2, y2, score in dets.tolist():
        area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        for box in fused:
            w = min(x2, box[2]) - max(x1, box[0])
            h = min(y2, box[3]) - max(y1, box[1])
            if w <= 0 or h <= 0:
                continue
            inter = w * h
            other = (box[2] - box[0]) * (box[3] - box[1])
            union = area + other - inter
            if inter >= iou * union or inter >= CONTAINED * min(area, other):
                box[:4] = [min(x1, box[0]), min(y1, box[1]), max(x2, box[2]), max(y2, box[3])]
                break
        else:
            fused.append([x1, y1, x2, y2, score])
    return np.asarray(fused, dtype=np.float32).reshape(-1, 5)


@dataclass
class OnnxDetector:
    """A :class:`Detector` running one ONNX model through an inference session.

    Every error while preparing the batch, running the session (onnxruntime raises its own
    ``Fail``, ``InvalidArgument``, ``RuntimeException``, ``EPFail`` ..., which derive from
    ``Exception``) or decoding the outputs becomes a :class:`DetectionError`: the caller fails the
    frames closed.
    """

    session: InferenceSession
    codec: ModelCodec
    max_side: int = 640
    threshold: float | None = None
    max_batch: int = 8
    tiling: Tiling | None = None
    upscale: float = 1.0  # frames smaller than max_side are enlarged by up to this factor
    coarse: float = 0.0  # > 0: also the whole frame at this fraction of the first pass's size

    @property
    def kind(self) -> Kind:
        return self.codec.kind

    @property
    def name(self) -> str:
        return self.codec.name

    def views(self, index: int, height: int, width: int) -> list[View]:
        return plan_views(
            index, height, width, self.max_side, self.tiling, self.upscale, self.coarse
        )

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        if threshold is None:
            threshold = self.codec.default_threshold if self.threshold is None else self.threshold
        try:
            return self._detect(images, threshold)
        except DetectionError:
            raise
        except Exception as exc:  # any failure fails the frames closed
            raise DetectionError(f"{self.codec.name}: {type(exc).__name__}: {exc}") from exc

    def _detect(self, images: Sequence[Image], threshold: float) -> list[list[Detection]]:
        views = [v for i, im in enumerate(images) for v in self.views(i, *im.shape[:2])]
        parts: list[list[NDArray[np.float64]]] = [[] for _ in images]
        for chunk in group_by_canvas([v.plan for v in views], max(1, self.max_batch)):
            chunk_views = [views[i] for i in chunk]
            crops = [images[v.frame][v.y : v.y + v.h, v.x : v.x + v.w] for v in chunk_views]
            plans = [v.plan for v in chunk_views]
            blob = self.codec.preprocess(crops, plans)
            outputs = self.session.run(list(self.codec.output_names), {self.codec.input_name: blob})
            decoded = self.codec.decode(outputs, plans, threshold)
            if len(decoded) != len(chunk_views):
                raise DetectionError(f"{self.codec.name}: {len(decoded)} results for {len(plans)}")
            for view, dets in zip(chunk_views, decoded, strict=True):
                parts[view.frame].append(to_frame_pixels(dets, view.plan, view.x, view.y))
        return [
            as_detections(self.codec.kind, merge_detections(p, self.codec.merge_iou)) for p in parts
        ]


@dataclass
class UnionDetector:
    """Several detectors of one kind as one: every part runs, their boxes merged per frame
    (``CAMGUARD_PLATE_MODEL=both``). A failing part fails the batch (closed)."""

    parts: tuple[OnnxDetector, ...]

    @property
    def kind(self) -> Kind:
        return self.parts[0].kind

    @property
    def name(self) -> str:
        return "|".join(p.name for p in self.parts)

    @property
    def max_side(self) -> int:
        return self.parts[0].max_side

    @max_side.setter
    def max_side(self, value: int) -> None:
        for part in self.parts:
            part.max_side = value

    @property
    def max_batch(self) -> int:
        return self.parts[0].max_batch

    def views(self, index: int, height: int, width: int) -> list[View]:
        return self.parts[0].views(index, height, width)

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        found = [part.detect(images, threshold) for part in self.parts]
        return [
            as_detections(
                self.kind,
                merge_detections([_as_boxes(dets) for dets in per_frame], UNION_MERGE_IOU),
            )
            for per_frame in zip(*found, strict=True)
        ]


def _as_boxes(dets: Sequence[Detection]) -> FloatArray:
    return np.asarray([[d.x1, d.y1, d.x2, d.y2, d.score] for d in dets], np.float32).reshape(-1, 5)


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
