"""The one way the tests wait for something: poll, never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T | None] | None],
    within: float = 10.0,
    what: str = "the condition",
    interval: float = 0.1,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``probe`` (plain or async) every ``interval`` s until it answers something other
    than None or False, and return that; an exception of ``ignore`` counts as no answer.
    Raises AssertionError after ``within`` s (an assertion inside ``probe``, e.g. that a
    process still runs, fails at once)."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except ignore:
            value = None
        if value is not None and value is not False:
            return value  # type: ignore[return-value]  # narrowed by the check above
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
