"""PolicyManager: the effective, typed policies of one service, kept current without restarts.

The manager holds a :class:`~streams.policy.resolve.PolicyBook` fed with service.policies
messages (by the Faust GlobalTable in workers, by a :class:`PolicySource` elsewhere). Lookups
are synchronous, cheap and cached, so an agent asks for the effective policy on every message::

    privacy, version = manager.effective_privacy(frame["org_id"], frame["camera_id"])

A cache entry lives ``cache_ttl_s`` at most and is dropped as soon as a change of its
policy_type arrives. A record that fails validation leaves the book untouched: the last known
good policy stays in force and the error is raised to the caller (who dead-letters it).

Without Kafka the manager can read the ``service_policies`` table itself: given
``rows=`` (a :class:`~streams.policy.storage.PolicyRowStore`, e.g. Supabase), ``get_policy``
re-reads the table when its copy is older than ``cache_ttl_s`` and ``start_hot_reload`` polls
it every ``refresh_interval_s``; rows that vanished from the table are deleted from the book.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.codec import AvroCodec, CodecError
from streams.policy.avro import decode_policy_message
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import PoliciesNotLoadedError, PolicyError
from streams.policy.models import (
    POLICY_MODELS,
    Policy,
    PolicyModel,
    PrivacyPolicy,
    build_policy,
    model_defaults,
    settings_defaults,
)
from streams.policy.resolve import (
    EffectivePolicy,
    Outcome,
    PolicyBook,
    PolicyRow,
    parse_policy_key,
    resolve_policy,
)
from streams.policy.sources import PolicySource
from streams.policy.storage import PolicyRowStore
from streams.policy.webhook import InvalidRow
from streams.settings import Settings

log = logging.getLogger(__name__)
M = TypeVar("M", bound=PolicyModel)
ScopeKey = tuple[str | None, str | None, str | None, str | None]
Listener = Callable[[str, PolicyRow | None], None]


@dataclass
class PolicyStats:
    """Counters of what the manager did with the messages it was given."""

    applied: int = 0
    deleted: int = 0
    duplicate: int = 0
    stale: int = 0
    rejected: int = 0
    last_rejection: str | None = None


@dataclass(frozen=True)
class _Cached:
    effective: EffectivePolicy
    policy: Policy
    expires_at: float


def _log_source_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("policy source stopped; policies held stay in force", exc_info=task.exception())


class PolicyManager:
    """Effective policies of ``service_name`` for any (org, camera) scope."""

    def __init__(
        self,
        service_name: str,
        *,
        codec: AvroCodec | None = None,
        cipher: PolicyCipher | None = None,
        defaults: Mapping[str, Mapping[str, Any]] | None = None,
        cache_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        source: PolicySource | None = None,
        rows: PolicyRowStore | None = None,
        refresh_interval_s: float | None = None,
        refresh_retry_s: float = 5.0,
        fail_closed_until_ready: bool = False,
    ) -> None:
        self.service_name = service_name
        self.codec = codec or AvroCodec()
        self.cipher = cipher
        self.cache_ttl_s = cache_ttl_s
        self.book = PolicyBook()
        self.stats = PolicyStats()
        self.revision = 0
        self.ready = asyncio.Event()
        self._clock = clock
        self._source = source
        self._task: asyncio.Task[None] | None = None
        self._defaults = {
            policy_type: {
                **model_defaults(policy_type),
                **dict((defaults or {}).get(policy_type, {})),
            }
            for policy_type in {*POLICY_MODELS, *(defaults or {})}
        }
        self._cache: dict[str, dict[ScopeKey, _Cached]] = {}
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._rows = rows
        self.refresh_interval_s = refresh_interval_s or cache_ttl_s
        self._refresh_retry_s = refresh_retry_s
        self._refresh_lock = asyncio.Lock()
        self._refresh_due = float("-inf")
        self._refresh_error: Exception | None = None
        self._loaded = False
        self.fail_closed_until_ready = fail_closed_until_ready

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        source: PolicySource | None = None,
        codec: AvroCodec | None = None,
        fail_closed_until_ready: bool = False,
    ) -> PolicyManager:
        """A manager configured by CAMGUARD_* settings (service name, key, TTL, defaults)."""
        return cls(
            settings.service_name,
            codec=codec,
            cipher=PolicyCipher.from_settings(settings),
            defaults=settings_defaults(settings),
            cache_ttl_s=settings.policy_cache_ttl_s,
            source=source,
            fail_closed_until_ready=fail_closed_until_ready,
        )

    # --- feeding ---------------------------------------------------------------------------

    def apply_message(self, key: bytes | str | None, value: bytes | None) -> Outcome:
        """Apply one service.policies message; raise (book untouched) when it is unusable."""
        try:
            policy_key, row = decode_policy_message(self.codec, key, value, self.cipher)
            if row is None:
                parse_policy_key(policy_key)
        except (PolicyError, CodecError) as exc:
            self.stats.rejected += 1
            self.stats.last_rejection = f"{exc.reason}: {exc}"
            raise
        if row is None:
            return self.apply_tombstone(policy_key)
        return self.apply_row(row)

    def apply_row(self, row: PolicyRow) -> Outcome:
        """Apply a validated row (from the topic, or accepted locally by the webhook)."""
        outcome = self.book.upsert(row)
        self._count(outcome)
        if outcome.changed:
            self._changed_type(row.service_name, row.policy_type, row.key, row)
        return outcome

    def apply_tombstone(
        self, key: str, row_id: str | None = None, version: int | None = None
    ) -> Outcome:
        """Delete the row held at ``key`` (a topic tombstone knows no id or version)."""
        outcome = self.book.delete(key, row_id, version)
        self._count(outcome)
        if outcome.changed:
            parts = parse_policy_key(key)
            self._changed_type(parts.service_name, parts.policy_type, key, None)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        if outcome is Outcome.APPLIED:
            self.stats.applied += 1
        elif outcome is Outcome.DELETED:
            self.stats.deleted += 1
        elif outcome is Outcome.DUPLICATE:
            self.stats.duplicate += 1
        elif outcome is Outcome.STALE:
            self.stats.stale += 1

    def _changed_type(
        self, service_name: str, policy_type: str, key: str, row: PolicyRow | None
    ) -> None:
        if service_name != self.service_name:
            return
        self._cache.pop(policy_type, None)
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in list(self._listeners):
            listener(key, row)

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(key, row or None)`` after each change of this service's policies."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def wait_for_change(self, after_revision: int, timeout_s: float) -> bool:
        """Wait until ``revision`` passes ``after_revision``; False on timeout."""
        deadline = self._clock() + timeout_s
        while self.revision <= after_revision:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    # --- lookups ---------------------------------------------------------------------------

    def _lookup(self, policy_type: str, scope: ScopeKey) -> _Cached:
        now = self._clock()
        per_type = self._cache.setdefault(policy_type, {})
        hit = per_type.get(scope)
        if hit is not None and hit.expires_at > now:
            return hit
        org_id, camera_id, site_id, class_id = scope
        effective = resolve_policy(
            self.book.rows_for(self.service_name, policy_type),
            policy_type,
            org_id=org_id,
            camera_id=camera_id,
            site_id=site_id,
            class_id=class_id,
            defaults=self._defaults.get(policy_type),
        )
        entry = _Cached(
            effective, build_policy(policy_type, effective.values), now + self.cache_ttl_s
        )
        per_type[scope] = entry
        return entry

    def effective(
        self,
        policy_type: str,
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> EffectivePolicy:
        """The merged values with per-field provenance (synchronous, cached)."""
        return self._lookup(policy_type, (org_id, camera_id, site_id, class_id)).effective

    def policy(
        self,
        policy_type: str,
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> Policy:
        """The typed policy (an :class:`UnknownPolicy` for unknown types), synchronous."""
        return self._lookup(policy_type, (org_id, camera_id, site_id, class_id)).policy

    async def get_policy(
        self,
        policy_type: str,
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> Policy:
        """The typed effective policy: camera over org over global over defaults.

        With a row store, the table is read first when the copy held is older than
        ``cache_ttl_s``; if it was never read successfully, the store's error is raised.
        """
        if self._rows is not None and self._clock() >= self._refresh_due:
            await self._refresh_quietly()
        if self._rows is not None and not self._loaded and self._refresh_error is not None:
            raise self._refresh_error
        return self.policy(
            policy_type, org_id=org_id, camera_id=camera_id, site_id=site_id, class_id=class_id
        )

    def typed(
        self, model: type[M], policy_type: str, org_id: str | None, camera_id: str | None
    ) -> tuple[M, int | None]:
        """``(policy, version)`` of a known type, for per-message use by agents."""
        entry = self._lookup(policy_type, (org_id, camera_id, None, None))
        assert isinstance(entry.policy, model)
        return entry.policy, entry.effective.version

    def effective_privacy(
        self, org_id: str | None, camera_id: str | None
    ) -> tuple[PrivacyPolicy, int | None]:
        """The privacy policy for a frame and the version to stamp on the output.

        The version is that of the most specific row applied; None means settings defaults.
        With ``fail_closed_until_ready``, raises :class:`PoliciesNotLoadedError` until the
        source's backlog is applied: no frame is served by defaults that a stricter policy
        row, not yet read, would override.
        """
        if self.fail_closed_until_ready and not self.ready.is_set():
            raise PoliciesNotLoadedError(f"service {self.service_name}: policies not read yet")
        return self.typed(PrivacyPolicy, "privacy", org_id, camera_id)

    def policy_types(self) -> list[str]:
        """Known types plus every type some row of this service carries."""
        return sorted(
            {*POLICY_MODELS, *(r.policy_type for r in self.book.rows_for(self.service_name))}
        )

    # --- reading the table ------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read every row of the row store and make this service's rows in the book equal to
        them (rows that no longer validate keep their last good version); raise its errors."""
        if self._rows is None:
            raise ValueError("refresh() needs a manager built with rows=")
        async with self._refresh_lock:
            valid, invalid = await self._rows.list_rows()
            self._apply_table(valid, invalid)
            self._loaded = True
            self._refresh_error = None
            self._refresh_due = self._clock() + self.cache_ttl_s
            self.mark_ready()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # any failure of the store: keep serving, retry soon
            self._refresh_error = exc
            self._refresh_due = self._clock() + min(self._refresh_retry_s, self.cache_ttl_s)
            log.warning("policy table unreadable, last known good kept: %r", exc)

    def _apply_table(self, valid: list[PolicyRow], invalid: list[InvalidRow]) -> None:
        keep = {bad.key for bad in invalid if bad.key is not None}
        for bad in invalid:
            self.stats.rejected += 1
            self.stats.last_rejection = bad.error
            log.warning("policy row %s refused, last known good kept: %s", bad.row_id, bad.error)
        for row in valid:
            if row.service_name == self.service_name:
                keep.add(row.key)
                self.apply_row(row)
        for held in self.book.rows_for(self.service_name):
            if held.key not in keep:
                self.apply_tombstone(held.key, held.id, held.version)

    async def _poll_rows(self, first_attempt: asyncio.Event) -> None:
        while True:
            await self._refresh_quietly()
            first_attempt.set()
            await asyncio.sleep(self.refresh_interval_s if self._loaded else self._refresh_retry_s)

    # --- hot reload ------------------------------------------------------------------------

    def _apply_quietly(self, key: bytes | str | None, value: bytes | None) -> None:
        try:
            self.apply_message(key, value)
        except (PolicyError, CodecError) as exc:
            log.warning("policy record %r refused, last known good kept: %s", key, exc)

    def mark_ready(self) -> None:
        """The initial backlog has been applied (called by the feeding side)."""
        self.ready.set()

    async def follow(self) -> None:
        """Apply the source's messages until cancelled (``ready`` once its backlog is in)."""
        if self._source is None:
            raise ValueError("follow() needs a manager built with source=")
        await self._source.run(self._apply_quietly, self.ready)

    async def start_hot_reload(self, timeout_s: float = 30.0) -> None:
        """Start following the source (or polling the row store); return once its backlog is
        applied (the first read of the table was tried), or on timeout."""
        if self._task is not None:
            return
        if self._source is not None:
            started = self.ready
            self._task = asyncio.create_task(self.follow())
        elif self._rows is not None:
            started = asyncio.Event()
            self._task = asyncio.create_task(self._poll_rows(started))
        else:
            return
        self._task.add_done_callback(_log_source_end)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(started.wait()), timeout_s)

    async def stop_hot_reload(self) -> None:
        """Stop following the source; the policies held stay in force."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
