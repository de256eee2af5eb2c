"""Faust's worker and app state that Faust keeps private or undeclared.

- :class:`FirstSignalWorker` overrides ``faust.Worker._schedule_shutdown`` and reads
  ``_signal_stop_time`` to act on the *first* SIGTERM/SIGINT only (agents/worker.py arms its
  shutdown deadline there). Guarded by tests/unit/test_worker_deadline.py and
  tests/integration/test_worker_pipeline.py (a worker stopped by a signal), marked
  ``faust_edge``.
- :func:`recovering` reads ``app.in_recovery`` and the TableManager's ``recovery.completed``
  event, which ``TableManagerT`` does not declare (``GET /readyz``). Guarded by
  tests/integration/test_events_recovery.py, marked ``faust_edge``.
"""

from __future__ import annotations

from typing import Any

import faust


class FirstSignalWorker(faust.Worker):
    """A faust Worker that calls :meth:`on_first_signal` when the first stop signal comes."""

    def on_first_signal(self) -> None:
        """Called once, before Faust schedules its shutdown."""

    def _schedule_shutdown(self, signal: Any) -> None:
        if not self._signal_stop_time:  # Faust's own "already stopping" mark
            self.on_first_signal()
        super()._schedule_shutdown(signal)


def recovering(app: Any) -> bool:
    """Whether ``app``'s tables are still being recovered from their changelogs."""
    tables: Any = app.tables  # the TableManager; TableManagerT does not declare .recovery
    return bool(getattr(app, "in_recovery", False)) or not tables.recovery.completed.is_set()


def rebalancing(app: Any) -> bool:
    """Whether ``app``'s consumer group is rebalancing."""
    return bool(getattr(app, "rebalancing", False))
