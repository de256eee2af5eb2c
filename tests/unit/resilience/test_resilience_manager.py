"""ResilienceManager: named breakers, execute_with_circuit_breaker, start/stop of publishing."""

from __future__ import annotations

import random

import pytest

from streams.resilience.breaker import CircuitBreakerConfig, State
from streams.resilience.exceptions import CircuitOpenError, UnknownBreakerError
from streams.resilience_manager import ResilienceManager
from streams.store.memory import MemoryHealthStore
from tests.support.clock import FakeClock
from tests.support.waiting import eventually
from tests.unit.store.snapshots import snap


async def test_execute_with_circuit_breaker_opens_and_raises_with_retry_after() -> None:
    clock = FakeClock(100.0)
    manager = ResilienceManager(
        "anonymizer",
        breaker_config=CircuitBreakerConfig(failure_threshold=2, jitter_ratio=0),
        clock=clock,
        rng=random.Random(0),
    )
    moves: list[tuple[str, State]] = []
    manager.on_transition(lambda name, t: moves.append((name, t.to_state)))

    async def flaky(x: int) -> int:
        if x < 0:
            raise TimeoutError("upstream")
        return x

    assert await manager.execute_with_circuit_breaker("detector", flaky, 1) == 1
    for _ in range(2):
        with pytest.raises(TimeoutError):
            await manager.execute_with_circuit_breaker("detector", flaky, -1)
    with pytest.raises(CircuitOpenError) as caught:
        await manager.execute_with_circuit_breaker("detector", flaky, 1)
    assert caught.value.status == 503
    assert caught.value.retry_after == pytest.approx(60)
    assert moves == [("detector", State.OPEN)]
    assert manager.describe()["detector"]["state"] == "OPEN"
    clock.now += 60
    assert await manager.execute_with_circuit_breaker("detector", flaky, 7) == 7
    assert manager.describe()["detector"]["effective_state"] == "HALF_OPEN"
    with pytest.raises(UnknownBreakerError):
        manager.get("nope")


async def test_start_all_publishes_and_stop_all_flushes() -> None:
    store = MemoryHealthStore()
    manager = ResilienceManager("camguard", store)
    await manager.start_all()
    assert manager.publisher is not None
    manager.publisher.offer([snap("a")])
    await eventually(lambda: "a" in store.rows)
    manager.publisher.offer([snap("b")])
    await manager.stop_all()
    assert set(store.rows) == {"a", "b"}
    assert not manager.started
