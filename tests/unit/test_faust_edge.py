"""The Faust edge (streams/faust_edge/): its accesses to Faust internals still work, and no
module outside it makes one."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import faust
import pytest
from faust.streams import current_event

from streams.app import build_app
from streams.faust_edge.lanes import commit_gate
from streams.faust_edge.table_internals import MessageEvent, writing_for
from streams.faust_edge.worker_hooks import FirstSignalWorker
from streams.settings import Settings

pytestmark = pytest.mark.faust_edge

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "streams" / "faust_edge"
# Private names of faust-streaming, mode and aiokafka that the tree reaches for (each one
# lives in streams/faust_edge/ and is documented there).
PRIVATE = re.compile(
    r"\b(_current_event|_changelog_topic_name|_schedule_shutdown|_signal_stop_time"
    r"|_encode_value|_encode_key|_wait_next_records|_acked_index|_committed_offset"
    r"|_read_offset|_new_transport|_buffered_partitions|_add_gap|_highwaters"
    r"|_transaction_producers|_new_consumer_thread|_ensure_consumer)\b"
    r"|\bstore\._set\b|recovery\.completed"
)


def test_no_module_outside_the_edge_touches_faust_internals() -> None:
    found = []
    for package in ("streams", "agents", "common_schemas", "codegen"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if EDGE in path.parents:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if PRIVATE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


async def test_the_first_stop_signal_is_seen_once() -> None:
    class Worker(FirstSignalWorker):
        signals = 0

        def on_first_signal(self) -> None:
            self.signals += 1

    app = faust.App("edge-test", broker="memory://", store="memory://")
    worker = Worker(app, loop=asyncio.get_running_loop(), override_logging=False)
    worker._schedule_shutdown(signal.SIGTERM)  # what a SIGTERM handler calls
    worker._schedule_shutdown(signal.SIGINT)
    assert worker.signals == 1
    stop = worker._signal_stop_future
    if stop is not None:
        stop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stop


def test_writing_for_makes_the_event_faust_current() -> None:
    event = MessageEvent(object())
    assert current_event() is None
    with writing_for(event):
        assert current_event() is event
    assert current_event() is None


def test_the_commit_gate_leaves_faust_in_transaction_alone() -> None:
    """``App.in_transaction`` is cached, and False until the worker starts: reading it while
    agents are installed kept a worker out of transactions for good (2026-12-02)."""
    cg = build_app(Settings(broker="kafka://127.0.0.1:9", processing_guarantee="exactly_once"))
    assert commit_gate(cg.app).enabled
    assert "in_transaction" not in vars(cg.app)
    cg.app.in_worker = True  # what faust.Worker sets when it starts the app
    assert cg.app.in_transaction
    at_least_once = build_app(Settings(broker="kafka://127.0.0.1:9"))
    assert not commit_gate(at_least_once.app).enabled
