"""How late the event loop runs: the ``event_loop_lag_*`` figures of ``GET /api/anonymizer``.

The page's model, ``AnonymizerStats``, is part of the contract (streams/contract/worker_http.py);
the frames agent's worker serves it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class LagMeter:
    """Event-loop lag from a periodic sleep: how late the loop woke up (ms).

    A task sleeps ``interval`` and reports ``elapsed``; anything over the interval is time the
    loop spent on something else (a blocking call shows up here first).
    """

    last_ms: float = 0.0
    max_ms: float = 0.0
    ewma_ms: float = 0.0
    samples: int = 0
    alpha: float = 0.2

    def observe(self, interval_s: float, elapsed_s: float) -> float:
        lag = max(0.0, (elapsed_s - interval_s) * 1000.0)
        self.last_ms = lag
        self.max_ms = max(self.max_ms, lag)
        self.ewma_ms = (
            lag if self.samples == 0 else self.ewma_ms + self.alpha * (lag - self.ewma_ms)
        )
        self.samples += 1
        return lag


async def measure_loop_lag(
    meter: LagMeter,
    gauge: Callable[[str, float], None],
    interval_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Forever: sleep ``interval_s``, record how late the loop woke up, report both gauges."""
    while True:
        start = clock()
        await asyncio.sleep(interval_s)
        lag = meter.observe(interval_s, clock() - start)
        gauge("event_loop_lag_ms", lag)
        gauge("event_loop_lag_max_ms", meter.max_ms)
