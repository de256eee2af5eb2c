"""Policy wiring of a worker: the GlobalTable "policies" keeps the PolicyManager current.

The table (declared in streams/app.py) hands every service.policies message to the manager as
it arrives, on every worker. A record the manager refuses leaves the last known good policy in
force and is dead-lettered once for the cluster: by the leader worker, and only for records
that arrive live (a restart replays the compacted topic and must not dead-letter again).

Agents read policies per message through :func:`policy_manager`::

    privacy, version = policy_manager(cg).effective_privacy(org_id, camera_id)
"""

from __future__ import annotations

import logging

from streams.app import CamguardApp
from streams.deadletter import RawMessage, send_dead_letter
from streams.policy.manager import PolicyManager
from streams.policy.table import policy_manager_of

log = logging.getLogger(__name__)
CONSUMER = "policies"


def policy_manager(cg: CamguardApp) -> PolicyManager:
    """The PolicyManager of this worker (fed by the ``policies`` GlobalTable)."""
    return policy_manager_of(cg.tables.by_name["policies"])


def install(cg: CamguardApp) -> PolicyManager:
    """Dead-letter refused policy records and count policy changes; return the manager."""
    table = cg.tables.by_name["policies"]
    manager = policy_manager_of(table)

    async def rejected(message: RawMessage, error: Exception) -> None:
        cg.count("policies.rejected")
        if manager.ready.is_set() and cg.app.is_leader():
            await send_dead_letter(cg, message, error, CONSUMER)

    table.on_rejected = rejected
    manager.on_change(lambda key, row: cg.count("policies.changes"))
    return manager
