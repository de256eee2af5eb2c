"""The worker's shutdown deadline (agents/worker.py): a stuck shutdown still ends the process."""

from __future__ import annotations

import threading

from agents.worker import EXIT_SHUTDOWN_STUCK, arm_exit_deadline


def test_the_deadline_exits_with_the_stuck_status() -> None:
    exited = threading.Event()
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        exited.set()

    timer = arm_exit_deadline(0.01, fake_exit)
    assert timer is not None
    assert timer.daemon  # never keeps a process alive that is exiting anyway
    assert exited.wait(30)
    assert codes == [EXIT_SHUTDOWN_STUCK]


def test_a_cancelled_deadline_does_not_fire() -> None:
    codes: list[int] = []
    timer = arm_exit_deadline(60, codes.append)
    assert timer is not None
    timer.cancel()
    timer.join(30)
    assert codes == []


def test_zero_means_no_deadline() -> None:
    assert arm_exit_deadline(0, lambda code: None) is None
