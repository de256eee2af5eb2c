"""PolicyManager reading the service_policies table itself (rows=, no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streams.policy.manager import PolicyManager
from streams.policy.models import AntitheftPolicy
from streams.policy.resolve import PolicyRow
from streams.policy.storage import MemoryPolicyRowStore, PolicyScope, SupabaseStoreError
from streams.policy.webhook import InvalidRow
from tests.support.clock import FakeClock

GLOBAL = PolicyScope("antitheft", "antitheft")
ORG = PolicyScope("antitheft", "antitheft", "org_123")
CAM = PolicyScope("antitheft", "antitheft", "org_123", "cam_1")


@dataclass
class FlakyStore(MemoryPolicyRowStore):
    """The in-memory table with an outage switch."""

    down: bool = False
    reads: int = 0

    async def list_rows(self) -> tuple[list[PolicyRow], list[InvalidRow]]:
        self.reads += 1
        if self.down:
            raise SupabaseStoreError("Supabase 503: unavailable")
        return await super().list_rows()


async def table(*configs: tuple[PolicyScope, dict[str, object]]) -> FlakyStore:
    store = FlakyStore({})
    for scope, config in configs:
        await store.set(scope, config, merge=False)
    return store


async def test_reads_the_table_resolves_camera_over_org_over_global_and_caches() -> None:
    store = await table(
        (GLOBAL, {"confidence_threshold": 0.9, "alert_cooldown_s": 10.0}),
        (ORG, {"confidence_threshold": 0.8, "shelf_out_delta": 0.5}),
        (CAM, {"confidence_threshold": 0.7}),
    )
    clock = FakeClock()
    manager = PolicyManager("antitheft", rows=store, cache_ttl_s=60, clock=clock)
    policy = await manager.get_policy("antitheft", org_id="org_123", camera_id="cam_1")
    assert isinstance(policy, AntitheftPolicy)
    assert (policy.confidence_threshold, policy.shelf_out_delta, policy.alert_cooldown_s) == (
        0.7,
        0.5,
        10.0,
    )
    other = await manager.get_policy("antitheft", org_id="org_9", camera_id="cam_1")
    assert isinstance(other, AntitheftPolicy)
    assert other.confidence_threshold == 0.9
    assert store.reads == 1

    await store.set(CAM, {"confidence_threshold": 0.6}, merge=False)
    clock.now += 59
    policy = await manager.get_policy("antitheft", org_id="org_123", camera_id="cam_1")
    assert isinstance(policy, AntitheftPolicy)
    assert policy.confidence_threshold == 0.7  # cached
    clock.now += 1
    policy = await manager.get_policy("antitheft", org_id="org_123", camera_id="cam_1")
    assert isinstance(policy, AntitheftPolicy)
    assert policy.confidence_threshold == 0.6
    assert store.reads == 2


async def test_a_row_deleted_from_the_table_stops_applying() -> None:
    store = await table((ORG, {"enabled": False}))
    clock = FakeClock()
    manager = PolicyManager("antitheft", rows=store, cache_ttl_s=1, clock=clock)
    policy = await manager.get_policy("antitheft", org_id="org_123")
    assert isinstance(policy, AntitheftPolicy)
    assert policy.enabled is False
    await store.delete(ORG)
    clock.now += 1
    assert await manager.get_policy("antitheft", org_id="org_123") == AntitheftPolicy()
    assert manager.stats.deleted == 1


async def test_an_unreadable_table_raises_until_read_then_keeps_the_last_good() -> None:
    store = await table((GLOBAL, {"enabled": False}))
    store.down = True
    clock = FakeClock()
    manager = PolicyManager("antitheft", rows=store, cache_ttl_s=60, clock=clock)
    with pytest.raises(SupabaseStoreError) as err:
        await manager.get_policy("antitheft")
    assert err.value.retriable
    with pytest.raises(SupabaseStoreError):
        await manager.get_policy("antitheft")
    assert store.reads == 1  # retried after refresh_retry_s, not on every call
    store.down = False
    clock.now += 5
    assert await manager.get_policy("antitheft") == AntitheftPolicy(enabled=False)
    store.down = True
    clock.now += 60
    assert await manager.get_policy("antitheft") == AntitheftPolicy(enabled=False)
    assert store.reads == 3


async def test_hot_reload_polls_the_table_and_stops_promptly() -> None:
    store = await table((GLOBAL, {"zones": ["a"]}))
    manager = PolicyManager("antitheft", rows=store, cache_ttl_s=60, refresh_interval_s=0.01)
    await manager.start_hot_reload(timeout_s=5)
    assert manager.ready.is_set()
    assert manager.policy("antitheft") == AntitheftPolicy(zones=["a"])
    revision = manager.revision
    await store.set(GLOBAL, {"zones": ["b"]}, merge=False)
    assert await manager.wait_for_change(revision, timeout_s=5)
    assert manager.policy("antitheft") == AntitheftPolicy(zones=["b"])
    await manager.stop_hot_reload()
