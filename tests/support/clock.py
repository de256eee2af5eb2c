"""The one fake clock of the tests."""

from __future__ import annotations


class FakeClock:
    """Seconds that only move when a test says so: pass it wherever a ``clock`` callable is
    taken (``time.time`` / ``time.monotonic`` in production)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
