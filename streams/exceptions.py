"""The root of camguard's exception tree.

Each package keeps its own ``exceptions.py`` whose classes derive from :class:`CamguardError`.
Decisions are made from attributes, not from class names:

- ``retriable``: the same call may succeed later (a broker or store that is down).
- ``reason``: the short machine-readable reason written into a dead-letter record.
- ``status``: the HTTP status a view answers with.
"""

from __future__ import annotations


class CamguardError(Exception):
    """Base class of every error camguard raises on purpose."""

    retriable: bool = False
    reason: str = "error"
    status: int = 500
