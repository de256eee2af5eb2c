"""Multi-scale detection: tile layout, views and the merge across views (pure)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.anonymize.detector import (
    CENTERFACE,
    OnnxDetector,
    Tiling,
    merge_detections,
    plan_views,
    tile_spans,
)


@given(
    length=st.integers(1, 8000),
    crop=st.integers(64, 2000),
    overlap=st.integers(0, 63),
)
def test_tiles_cover_the_side_with_the_overlap_and_never_exceed_the_crop(
    length: int, crop: int, overlap: int
) -> None:
    spans = tile_spans(length, crop, overlap)
    assert spans[0][0] == 0
    assert spans[-1][0] + spans[-1][1] == length
    for start, size in spans:
        assert start >= 0
        assert size <= max(crop, 1) or len(spans) == 1
        assert start + size <= length
    for (a, size_a), (b, _) in itertools.pairwise(spans):
        assert a + size_a - b >= overlap - 1  # rounding of evenly spread starts


def test_1080p_gets_the_whole_frame_and_two_native_tiles() -> None:
    views = plan_views(0, 1080, 1920, 640, Tiling(side=1280, overlap=96))
    base, *tiles = views
    assert base.plan.canvas == (384, 640)
    assert len(tiles) == 2
    assert all(v.plan.scale_x == 1.0 for v in tiles)  # native pixels
    assert tiles[0].x == 0
    assert tiles[1].x + tiles[1].w == 1920
    # the whole-frame pass finds faces from ~40 px at 1/3 scale: tiles share >= 120 px
    assert tiles[0].x + tiles[0].w - tiles[1].x >= 120


def test_no_tiles_when_the_whole_frame_pass_is_already_near_native() -> None:
    assert len(plan_views(0, 480, 640, 640, Tiling())) == 1
    assert len(plan_views(0, 1080, 1920, 0, Tiling())) == 1  # max_side 0: full resolution
    assert len(plan_views(0, 1080, 1920, 640, None)) == 1


def test_a_frame_smaller_than_the_detection_size_is_enlarged_up_to_the_limit() -> None:
    (small,) = plan_views(0, 240, 426, 640, Tiling(), upscale=2.0)
    assert (small.plan.resized_h, small.plan.resized_w) == (361, 640)  # x1.5, up to max_side
    (tiny,) = plan_views(0, 120, 160, 640, Tiling(), upscale=2.0)
    assert (tiny.plan.resized_h, tiny.plan.resized_w) == (240, 320)  # capped at x2
    (kept,) = plan_views(0, 240, 426, 640, Tiling(), upscale=1.0)
    assert (kept.plan.resized_h, kept.plan.resized_w) == (240, 426)
    # frames at or above the detection size are never enlarged, full resolution stays native
    assert plan_views(0, 1080, 1920, 640, None, upscale=2.0)[0].plan.resized_w == 640
    assert plan_views(0, 240, 426, 0, None, upscale=2.0)[0].plan.resized_w == 426


def test_a_coarse_pass_sees_the_whole_frame_again_at_a_fraction_of_the_first() -> None:
    base, coarse = plan_views(0, 600, 450, 640, None, upscale=2.0, coarse=0.5)
    assert (base.plan.resized_h, base.plan.resized_w) == (640, 480)  # enlarged to max_side
    assert (coarse.plan.resized_h, coarse.plan.resized_w) == (320, 240)  # half of that
    assert (coarse.x, coarse.y, coarse.h, coarse.w) == (0, 0, 600, 450)  # the whole frame
    assert coarse.coarse
    assert not base.coarse
    # with tiles: the coarse pass comes second, the tiles after it
    views = plan_views(0, 1080, 1920, 640, Tiling(side=1280), coarse=0.5)
    assert [v.plan.resized_w for v in views[:2]] == [640, 320]
    assert len(views) == 4
    # off by default, and skipped where it would be too small to see anything
    assert len(plan_views(0, 600, 450, 640, None)) == 1
    assert len(plan_views(0, 200, 150, 640, None, coarse=0.5)) == 1


def test_merge_keeps_one_box_per_region_and_drops_tile_cut_pieces() -> None:
    whole = np.asarray([[100, 100, 140, 150, 0.9]], np.float32)
    same_from_tile = np.asarray([[101, 99, 141, 151, 0.8]], np.float32)
    cut_piece = np.asarray([[100, 100, 120, 150, 0.7]], np.float32)  # left half, tile edge
    elsewhere = np.asarray([[500, 500, 520, 525, 0.6]], np.float32)
    merged = merge_detections([whole, same_from_tile, cut_piece, elsewhere], 0.3)
    assert merged[:, 4].tolist() == pytest.approx([0.9, 0.6])


class PeakSession:
    """One 8 px face-centre peak per view at canvas cell (2, 2): tiles map back with offsets."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray]
    ) -> list[np.ndarray]:
        (blob,) = input_feed.values()
        self.shapes.append(blob.shape)
        b, h, w, _ = blob.shape
        heat = np.zeros((b, 1, h // 4, w // 4), np.float32)
        heat[:, 0, 2, 2] = 0.9
        scale = np.full((b, 2, h // 4, w // 4), np.log(2.0), np.float32)
        return [heat, scale, np.zeros_like(scale)]


def test_tiles_of_several_frames_share_inference_batches_and_map_back() -> None:
    session = PeakSession()
    detector = OnnxDetector(session, CENTERFACE, max_side=640, tiling=Tiling(side=1280))
    found = detector.detect([np.zeros((1080, 1920, 3), np.uint8)] * 3)

    # the 3 whole frames in one batch, their 6 tiles (one canvas) in another
    assert sorted(s[0] for s in session.shapes) == [3, 6]
    second_tile = plan_views(0, 1080, 1920, 640, Tiling(side=1280))[2]
    for dets in found:
        # the peak's box is canvas (6..14): native in each tile (+ its offset), x3 in the frame
        assert sorted(round(d.x1) for d in dets) == [6, 18, second_tile.x + 6]
        assert sorted(round(d.width) for d in dets) == [8, 8, 24]
