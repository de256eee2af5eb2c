"""Faust's table store and event internals, for the camera tables (streams/resilience/tables.py).

- :func:`writing_for` sets faust's private ``_current_event`` context variable: Faust picks
  the store partition of a write from the *current* event, and after
  ``stream.take_events(...)`` that is the last event of the batch (another partition, maybe).
- :func:`write_local` writes a ``SerializedStore`` through ``_encode_key`` /
  ``_encode_value`` / ``_set`` (serialising once for the store and the changelog) and
  returns the changelog send for the caller to await: ``table[key] = value`` would send the
  changelog record through Faust's background buffer, which ``exactly_once`` commits
  without waiting for.
- :class:`ContractChangelogGlobalTable` overrides ``_changelog_topic_name``, the assignor's
  private hook, so a GlobalTable can read an existing contract topic (``service.policies``).

Guarded by tests/integration/test_events_lane.py, test_events_recovery.py,
test_events_beside_frames.py (camera tables) and test_policy_propagation.py (the policies
table), all marked ``faust_edge``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Coroutine, Iterator
from typing import Any

import faust
from faust.stores.base import SerializedStore
from faust.streams import _current_event


@contextlib.contextmanager
def writing_for(event: Any | None) -> Iterator[None]:
    """Route local store writes to ``event``'s partition (default: the event being iterated)."""
    if event is None:
        yield
        return
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class MessageEvent:
    """What table writes need of an event when there is no Faust stream event: its message.

    The events lane (:mod:`streams.faust_edge.lanes`) hands over raw records; Faust's RocksDB
    store and :func:`write_local` only read ``event.message.partition``.
    """

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


def write_local(
    table: Any, key: bytes, value: dict[str, Any], event: Any
) -> Coroutine[Any, Any, Any]:
    """Write ``table``'s local store for ``event``'s partition now; return the changelog send
    (to that partition, not yet awaited)."""
    partition = event.message.partition
    store = table.data
    if isinstance(store, SerializedStore):
        # Serialise once for both the store and the changelog (the same serializer and
        # value type: the changelog topic is the table's).
        encoded = store._encode_value(value)
        with writing_for(event):
            store._set(store._encode_key(key), encoded)
        raw: Coroutine[Any, Any, Any] = table.changelog_topic.send(
            key=key, value=encoded, value_serializer="raw", partition=partition
        )
        return raw
    with writing_for(event):
        store[key] = value
    send: Coroutine[Any, Any, Any] = table.changelog_topic.send(
        key=key, value=value, partition=partition
    )
    return send


class ContractChangelogGlobalTable(faust.GlobalTable):
    """A GlobalTable whose changelog is its ``changelog_topic`` as given (a contract topic).

    Faust's assignor names a changelog ``<app>-<table>-changelog`` through the private
    ``_changelog_topic_name`` unless a subclass says otherwise.
    """

    def _changelog_topic_name(self) -> str:
        return str(self.changelog_topic.get_topic_name())
