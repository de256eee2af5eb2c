"""Circuit-breaker overhead: camguard's breaker against pybreaker, same run, same machine.

Measured per call, with the cost of calling the protected function itself subtracted:

- camguard ``step``: the pure core alone, one ``Success`` folded into a ``BreakerState``
  (what the events agent pays per event, before the table write);
- camguard ``CircuitBreaker.call``: the seed's object API (admission, Acquire, Success);
- pybreaker ``CircuitBreaker.call`` (pybreaker 1.x, in-memory state storage), the peer.

Printed: nanoseconds per call for each and the ratio pybreaker / camguard (above 1 means
camguard costs less per call).

    .venv/bin/python bench/breaker.py [--calls 200000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pybreaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.resilience.breaker import BreakerState, CircuitBreakerConfig, Success, step
from streams.resilience.circuit import CircuitBreaker

PYBREAKER_VERSION = version("pybreaker")


def best_ns(fn: Callable[[int], None], calls: int, repeats: int) -> float:
    """Best of ``repeats`` runs of ``fn(calls)``, in nanoseconds per call."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter_ns()
        fn(calls)
        best = min(best, (time.perf_counter_ns() - started) / calls)
    return best


def protected() -> int:
    return 1


def bare(calls: int) -> None:
    for _ in range(calls):
        protected()


def core_steps(calls: int) -> None:
    config, rng, state = CircuitBreakerConfig(), random.Random(0), BreakerState()
    event, now = Success(2.0), 1_700_000_000.0
    for _ in range(calls):
        state, _ = step(state, event, now, config, rng)


def ours_call(calls: int) -> None:
    breaker = CircuitBreaker("bench", CircuitBreakerConfig(), rng=random.Random(0))
    for _ in range(calls):
        breaker.call(protected)


def pybreaker_call(calls: int) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    for _ in range(calls):
        breaker.call(protected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base = best_ns(bare, args.calls, args.repeats)
    core = best_ns(core_steps, args.calls, args.repeats)
    ours = best_ns(ours_call, args.calls, args.repeats) - base
    peer = best_ns(pybreaker_call, args.calls, args.repeats) - base
    print(f"calls per run: {args.calls}, best of {args.repeats}; bare call {base:.0f} ns")
    print(f"camguard step (pure core)        : {core:8.0f} ns/call")
    print(f"camguard CircuitBreaker.call     : {ours:8.0f} ns/call")
    print(f"pybreaker {PYBREAKER_VERSION:<6} CircuitBreaker.call: {peer:8.0f} ns/call")
    print(f"ratio pybreaker / camguard step : {peer / core:6.2f}")
    print(f"ratio pybreaker / camguard call : {peer / ours:6.2f}")


if __name__ == "__main__":
    main()
