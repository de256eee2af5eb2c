"""The policy rows one process holds, with version ordering and tombstones (pure, no I/O).

:class:`PolicyBook` is what every worker keeps in memory, fed from the compacted topic. It is
idempotent by ``(id, version)``: a record seen twice is a duplicate, a lower version of the row
held at that key is stale and ignored, and a late update of a row that was deleted is ignored
too (the tombstone remembers the deleted ``(id, version)``). A different row id at the same key
(the row was deleted and re-created, or moved there) replaces the held one unless it is older.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from streams.policy.resolve import PolicyRow


class Outcome(enum.Enum):
    """What applying a change did to the book."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DELETED = "deleted"
    ABSENT = "absent"

    @property
    def changed(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.DELETED)


@dataclass(frozen=True)
class Tombstone:
    """The row a key held when it was deleted."""

    row_id: str
    version: int


def upsert_outcome(
    held: PolicyRow | None, tombstone: Tombstone | None, incoming: PolicyRow
) -> Outcome:
    """Whether ``incoming`` replaces ``held`` (pure decision, shared by the webhook)."""
    if (
        tombstone is not None
        and tombstone.row_id == incoming.id
        and incoming.version <= tombstone.version
    ):
        return Outcome.STALE
    if held is None:
        return Outcome.APPLIED
    if held.id == incoming.id:
        if incoming.version < held.version:
            return Outcome.STALE
        if incoming.version == held.version:
            if incoming.updated_at_ms > held.updated_at_ms and incoming.config != held.config:
                return Outcome.APPLIED
            return Outcome.DUPLICATE
        return Outcome.APPLIED
    if incoming.updated_at_ms < held.updated_at_ms:
        return Outcome.STALE
    return Outcome.APPLIED


def delete_outcome(held: PolicyRow | None, row_id: str | None, version: int | None) -> Outcome:
    """Whether deleting ``(row_id, version)`` removes ``held``; None for unknown id/version."""
    if held is None:
        return Outcome.ABSENT
    if row_id is not None and row_id != held.id:
        return Outcome.STALE  # the key now holds another row; deleting would remove it
    if version is not None and version < held.version:
        return Outcome.STALE
    return Outcome.DELETED


class PolicyBook:
    """Every policy row held, by policy key."""

    def __init__(self) -> None:
        self._rows: dict[str, PolicyRow] = {}
        self._tombstones: dict[str, Tombstone] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[PolicyRow]:
        return iter(list(self._rows.values()))

    def get(self, key: str) -> PolicyRow | None:
        return self._rows.get(key)

    def tombstone(self, key: str) -> Tombstone | None:
        return self._tombstones.get(key)

    def rows_for(self, service_name: str, policy_type: str | None = None) -> list[PolicyRow]:
        """The held rows of one service (and policy_type)."""
        return [
            row
            for row in self._rows.values()
            if row.service_name == service_name
            and (policy_type is None or row.policy_type == policy_type)
        ]

    def upsert(self, row: PolicyRow) -> Outcome:
        """Apply a row read from the topic (or accepted by the webhook)."""
        key = row.key
        outcome = upsert_outcome(self._rows.get(key), self._tombstones.get(key), row)
        if outcome is Outcome.APPLIED:
            self._rows[key] = row
            self._tombstones.pop(key, None)
        return outcome

    def delete(self, key: str, row_id: str | None = None, version: int | None = None) -> Outcome:
        """Apply a tombstone; a topic tombstone knows no id/version and always deletes."""
        held = self._rows.get(key)
        outcome = delete_outcome(held, row_id, version)
        if outcome is Outcome.DELETED and held is not None:
            del self._rows[key]
            self._tombstones[key] = Tombstone(held.id, held.version)
        return outcome
