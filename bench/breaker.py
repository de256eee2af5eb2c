"""Circuit-breaker overhead: camguard's ``CircuitBreaker.call`` against pybreaker's ``call``.

Like for like: both guard the same function (``protected``, returns 1), each in its default
and best documented configuration, in one process, in alternating rounds (camguard, pybreaker,
camguard, ...) so that noise from other jobs hits both alike:

- camguard ``CircuitBreaker(name, CircuitBreakerConfig())``: the object API (admission while
  closed, the call, the success folded into an immutable ``BreakerState``), defaults:
  5 consecutive failures trip it, no failure-rate window, no slow-call threshold, no listener;
- pybreaker ``CircuitBreaker(fail_max=5, reset_timeout=60)``: in-memory state storage (its
  default and fastest; the Redis storage is for sharing state between processes), no listener.
  pybreaker takes a ``threading.RLock`` per call; camguard's breaker has no lock (one event
  loop or one thread per breaker), which is part of what each side costs.

Per call, the cost of calling ``protected`` itself (measured in the same rounds) is
subtracted. Printed: best and median ns per call over the rounds and the ratio pybreaker /
camguard (above 1: camguard's call costs less). Context, not like for like: camguard's pure
``step`` (one ``Success`` folded, no admission, no call; what the events agent pays per event).

    .venv/bin/python bench/breaker.py [--calls 200000] [--rounds 7] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
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
OURS_CONFIG = "CircuitBreaker(CircuitBreakerConfig()): defaults, no lock"
PEER_CONFIG = f"pybreaker {PYBREAKER_VERSION} CircuitBreaker(fail_max=5), memory storage, RLock"


def protected() -> int:
    return 1


def bare(calls: int) -> None:
    for _ in range(calls):
        protected()


def core_steps(calls: int) -> None:
    config, rng, state = CircuitBreakerConfig(), random.Random(0), BreakerState()
    event, now = Success(), 1_700_000_000.0
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


def timed_ns(fn: Callable[[int], None], calls: int) -> float:
    started = time.perf_counter_ns()
    fn(calls)
    return (time.perf_counter_ns() - started) / calls


def rounds(calls: int, count: int) -> dict[str, list[float]]:
    """ns per call of each contender, one run of each per round, in alternating order."""
    runs: dict[str, Callable[[int], None]] = {
        "bare": bare,
        "camguard": ours_call,
        "pybreaker": pybreaker_call,
        "step": core_steps,
    }
    seen: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(count):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in order:
            seen[name].append(timed_ns(runs[name], calls))
    base = seen.pop("bare")
    # subtract the bare call of the same round from each guarded call
    for name in ("camguard", "pybreaker"):
        seen[name] = [t - b for t, b in zip(seen[name], base, strict=True)]
    seen["bare"] = base
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="50 000 calls, 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 50_000, 3
    seen = rounds(args.calls, args.rounds)
    best = {name: min(values) for name, values in seen.items()}
    median = {name: statistics.median(values) for name, values in seen.items()}
    print(
        f"{args.calls} calls per run, {args.rounds} alternating rounds; "
        f"bare call {best['bare']:.0f} ns (subtracted)"
    )
    print(f"camguard  : {OURS_CONFIG}")
    print(f"pybreaker : {PEER_CONFIG}")
    print(f"{'ns per call':<34} {'best':>6} {'median':>7}")
    for label, name in (
        ("camguard CircuitBreaker.call", "camguard"),
        (f"pybreaker {PYBREAKER_VERSION} CircuitBreaker.call", "pybreaker"),
        ("camguard step (context: pure core)", "step"),
    ):
        print(f"{label:<34} {best[name]:>6.0f} {median[name]:>7.0f}")
    ratio = best["pybreaker"] / best["camguard"]
    ratio_median = median["pybreaker"] / median["camguard"]
    met = "met" if ratio >= 1 else "NOT met"
    print(f"ratio pybreaker / camguard call: {ratio:.2f} (median {ratio_median:.2f}); >= 1: {met}")
    # one like-for-like row for `make bench`'s table (see the Makefile)
    print(
        f"LFL| breaker: guarded call, ns/call (best, median) "
        f"| {best['camguard']:.0f}, {median['camguard']:.0f} | {OURS_CONFIG} "
        f"| {best['pybreaker']:.0f}, {median['pybreaker']:.0f} | {PEER_CONFIG} "
        f"| {ratio:.2f}x ({ratio_median:.2f}x) | cost <= peer: {met} |"
    )


if __name__ == "__main__":
    main()
