"""Batch size chosen from latency measured at start (driven by a hand clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from streams.anonymize.detector import CENTERFACE, OnnxDetector
from streams.anonymize.runtime import batch_sizes, calibrate_batch_size


class TimedSession:
    """An inference session whose every run advances a hand clock by ``cost(batch)`` seconds."""

    def __init__(self, fixed_s: float, per_frame_s: float) -> None:
        self.now = 0.0
        self.fixed_s, self.per_frame_s = fixed_s, per_frame_s

    def clock(self) -> float:
        return self.now

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, np.ndarray]
    ) -> list[np.ndarray]:
        (blob,) = input_feed.values()
        b, h, w, _ = blob.shape
        self.now += self.fixed_s + self.per_frame_s * b
        zeros = np.zeros((b, 1, h // 4, w // 4), np.float32)
        return [zeros, np.zeros((b, 2, h // 4, w // 4), np.float32), zeros]


@pytest.mark.parametrize(
    ("fixed_s", "per_frame_s", "expected"),
    [
        (0.010, 0.001, 8),  # GPU-like: launch cost dominates, batching pays
        (0.000, 0.015, 1),  # CPU-like: cost grows with the batch, keep latency low
        (0.050, 0.030, 4),  # batching pays but 8 frames would exceed the 200 ms budget
    ],
)
def test_calibration_picks_the_batch_size_measured_best(
    fixed_s: float, per_frame_s: float, expected: int
) -> None:
    session = TimedSession(fixed_s, per_frame_s)
    detector = OnnxDetector(session, CENTERFACE, max_side=640)
    measured = calibrate_batch_size(detector, (720, 1280), [1, 2, 4, 8], 200.0, session.clock)
    assert detector.max_batch == expected
    assert measured[1] == pytest.approx((fixed_s + per_frame_s) * 1000)


def test_batch_sizes_are_powers_of_two_up_to_the_configured_maximum() -> None:
    assert batch_sizes(8) == [1, 2, 4, 8]
    assert batch_sizes(6) == [1, 2, 4, 6]
    assert batch_sizes(1) == [1]
