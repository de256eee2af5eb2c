"""Cyclic garbage collector settings for a long-running worker.

CPython frees acyclic objects by reference counting at once; its cyclic collector only looks
for reference cycles. By default it runs a young-generation pass every 700 net allocations and
now and then a full pass over *every* tracked object. A started worker holds ~145 000 of those
(Faust, aiokafka, the tables, ONNX Runtime's Python side) that live as long as the process,
while the events lane allocates a few short-lived objects per message (a record dict, a tuple,
an observation) and keeps a batch of them alive, so they survive young passes and trigger full
ones. On the CI machine that cost a third of the events throughput (94 000 -> 150 000 events/s
with both settings below, bench/RESULTS.md).

- :func:`freeze_long_lived` (``gc_freeze``): once the worker is up, and again when the
  detectors are loaded, move everything alive into the permanent generation, which no pass
  scans (``gc.freeze``; cycles among those objects are never collected, which is fine for
  objects kept for the whole run).
- :func:`configure` (``gc_gen0_threshold``): a young pass every 10 000 allocations instead of
  700, so a batch is mostly freed by reference counting before a pass sees it.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def configure(gen0_threshold: int) -> None:
    """Set the young-generation threshold (0 keeps Python's default)."""
    if gen0_threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)


def freeze_long_lived() -> int:
    """Collect once, then move every object alive into the permanent generation.

    Returns how many objects are frozen in all. Call it at points where what is alive is
    what the process keeps: after start-up, after loading models.
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("gc: %d long-lived objects frozen out of collection passes", frozen)
    return frozen
