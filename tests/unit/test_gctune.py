"""GC tuning of the worker (streams/gctune.py): thresholds and freezing, restored afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams import gctune


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_configure_raises_only_the_young_threshold() -> None:
    _, gen1, gen2 = gc.get_threshold()
    gctune.configure(12_345)
    assert gc.get_threshold() == (12_345, gen1, gen2)


def test_zero_keeps_the_current_threshold() -> None:
    before = gc.get_threshold()
    gctune.configure(0)
    assert gc.get_threshold() == before


def test_freeze_moves_live_objects_out_of_collection() -> None:
    kept = [[i] for i in range(1000)]  # tracked containers alive at freeze time
    frozen = gctune.freeze_long_lived()
    assert frozen == gc.get_freeze_count()
    assert frozen >= len(kept)
    assert gc.get_count()[0] < len(kept)  # the young generation starts again from empty
