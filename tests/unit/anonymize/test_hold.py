"""The box hold: a region found in frame t also covers t-k .. t+k of its camera or clip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from streams.anonymize.blur import BlurConfig, laplacian_variance
from streams.anonymize.clip import anonymize_clip
from streams.anonymize.geometry import Detection, Image
from streams.anonymize.hold import BoxHold
from streams.anonymize.pipeline import Anonymizer

BOX = Detection("FACE", 10, 10, 40, 40, 0.9)
HW = (64, 96)


def test_a_batch_shares_boxes_both_ways_and_later_batches_get_them_forward() -> None:
    hold = BoxHold(2)
    tracks = [("cam", 10), ("cam", 11), ("cam", 12), ("other", 11)]
    held = hold.exchange(tracks, [HW] * 4, [[], [BOX], [], []])
    assert held == [[BOX], [], [BOX], []]  # same camera only, within 2 frames, not itself

    later = hold.exchange([("cam", 13), ("cam", 14)], [HW] * 2, [[], []])
    assert later == [[BOX], []]  # 13 is within 2 of 11; 14 is not


def test_other_sizes_and_a_zero_hold_get_nothing() -> None:
    assert BoxHold(2).exchange([("c", 1), ("c", 2)], [HW, (720, 1280)], [[BOX], []]) == [[], []]
    assert BoxHold(0).exchange([("c", 1), ("c", 2)], [HW, HW], [[BOX], []]) == [[], []]


def test_old_frames_and_tracks_are_forgotten() -> None:
    hold = BoxHold(1, max_tracks=2)
    for cam in ("a", "b", "c"):
        hold.exchange([(cam, 1)], [HW], [[BOX]])
    assert hold.exchange([("a", 2)], [HW], [[]]) == [[]]  # "a" was evicted
    assert hold.exchange([("c", 2)], [HW], [[]]) == [[BOX]]


@dataclass
class Flicker:
    """A face detector that finds the face only in frames whose marker pixel is bright: the
    jitter a real detector shows on a moving face."""

    kind: str = "FACE"
    name: str = "flicker"
    calls: list[int] = field(default_factory=list)

    def detect(
        self, images: Sequence[Image], threshold: float | None = None
    ) -> list[list[Detection]]:
        self.calls.append(len(images))
        return [[BOX] if int(im[0, 0].mean()) > 128 else [] for im in images]


def _frame(marked: bool, seed: int) -> np.ndarray:
    image = np.random.default_rng(seed).integers(0, 256, (*HW, 3), dtype=np.uint8)
    image[:4, :4] = 255 if marked else 0
    return image


def test_the_stream_hold_blurs_a_frame_its_detector_missed() -> None:
    core = Anonymizer({"FACE": Flicker()}, hold=BoxHold(2))  # type: ignore[dict-item]
    faces_only = BlurConfig(license_plate_blur_enabled=False)
    frames = [_frame(True, 1), _frame(False, 2)]
    found, missed = core.anonymize(frames, [faces_only] * 2, tracks=[("cam", 1), ("cam", 2)])
    assert (found.faces, missed.faces) == (1, 0)
    assert missed.held == (BOX,)
    region = (slice(12, 38), slice(12, 38))
    assert laplacian_variance(missed.image[region]) < laplacian_variance(frames[1][region]) / 10  # type: ignore[index]
    assert missed.protection is not None
    assert missed.protection["held_boxes"] == 1
    assert missed.protection["hold_frames"] == 2


def test_a_clip_holds_boxes_backwards_across_batches(tmp_path: Path) -> None:
    """Only frame 4 is detected; with hold 2 and batches of 3, frames 2..6 are blurred, 2 and 3
    from a later batch's detection (the clip looks one batch ahead)."""
    source, target = tmp_path / "in.avi", tmp_path / "out.avi"
    frames = [_frame(i == 4, i) for i in range(9)]
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=10)  # lossless: the marker survives
        stream.width, stream.height, stream.pix_fmt = HW[1], HW[0], "bgr0"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    core = Anonymizer({"FACE": Flicker()})  # type: ignore[dict-item]
    config = BlurConfig(license_plate_blur_enabled=False)
    summary = anonymize_clip(source, target, core, config, batch=3, hold=2)

    assert summary.frames == 9
    assert summary.faces == 1
    assert summary.held_boxes == 4
    with av.open(str(target)) as container:
        out = [f.to_ndarray(format="bgr24") for f in container.decode(container.streams.video[0])]
    region = (slice(12, 38), slice(12, 38))
    blurred = [
        laplacian_variance(o[region]) < laplacian_variance(i[region]) / 5
        for i, o in zip(frames, out, strict=True)
    ]
    assert blurred == [False, False, True, True, True, True, True, False, False]
