"""The commit gate: a commit never runs while a unit of work is halfway through."""

from __future__ import annotations

import asyncio

from streams.commit_gate import CommitGate


async def test_a_commit_waits_for_the_unit_running_and_holds_back_the_next() -> None:
    gate = CommitGate()
    order: list[str] = []
    first_started, first_may_finish = asyncio.Event(), asyncio.Event()

    async def unit(name: str, hold: asyncio.Event | None = None) -> None:
        async with gate.handling():
            order.append(f"{name} start")
            if hold is not None:
                first_started.set()
                await hold.wait()
            await asyncio.sleep(0)
            order.append(f"{name} end")

    async def commit() -> None:
        async with gate.committing():
            order.append("commit start")
            await asyncio.sleep(0)
            order.append("commit end")

    first = asyncio.create_task(unit("a", first_may_finish))
    await first_started.wait()
    committing = asyncio.create_task(commit())
    await asyncio.sleep(0)
    second = asyncio.create_task(unit("b"))  # arrives while the commit waits: goes after it
    await asyncio.sleep(0)
    assert gate.running == 1
    first_may_finish.set()
    await asyncio.gather(first, committing, second)
    assert order == ["a start", "a end", "commit start", "commit end", "b start", "b end"]
    assert gate.running == 0


async def test_units_run_together_when_no_commit_waits() -> None:
    gate = CommitGate()
    both_in = asyncio.Event()

    async def unit() -> None:
        async with gate.handling():
            if gate.running == 2:
                both_in.set()
            await asyncio.wait_for(both_in.wait(), 5)

    await asyncio.gather(unit(), unit())


async def test_a_commit_from_inside_a_unit_does_not_wait_for_itself() -> None:
    gate = CommitGate()

    async def commit_inside() -> int:
        async with gate.handling(), gate.committing():
            return gate.running

    assert await asyncio.wait_for(commit_inside(), 5) == 1


async def test_an_open_gate_holds_nothing_back() -> None:
    gate = CommitGate(enabled=False)
    async with gate.handling():
        async with gate.handling():
            assert gate.running == 0
        await asyncio.wait_for(_commit_now(gate), 5)


async def test_a_unit_that_raises_lets_the_commit_through() -> None:
    gate = CommitGate()
    try:
        async with gate.handling():
            raise ValueError("a corrupt batch")
    except ValueError:
        pass
    await asyncio.wait_for(_commit_now(gate), 5)
    assert gate.running == 0


async def _commit_now(gate: CommitGate) -> None:
    async with gate.committing():
        await asyncio.sleep(0)
