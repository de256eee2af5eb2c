"""``PolicyManager`` of the specification, over camguard's policy manager.

::

    policies = PolicyManager("antitheft", supabase_client)
    await policies.start_hot_reload()
    policy = await policies.get_policy("antitheft", org_id="org_123", camera_id="cam_1")
    policy.shelf_out_delta                       # an AntitheftPolicy
    await policies.stop_hot_reload()

camguard's :class:`streams.policy.manager.PolicyManager` for service ``service_name``, reading
the ``service_policies`` rows of the client's Supabase project (its ``supabase_url`` and
``supabase_key``, through camguard's :class:`~streams.policy.storage.SupabasePolicyRowStore`
on PostgREST). ``get_policy`` resolves camera over org over global over the model defaults and
re-reads the table once its copy is older than ``cache_ttl_s`` (60 s); ``start_hot_reload``
reads it now, then every ``refresh_interval_s`` (default ``cache_ttl_s``), and returns once
the first read was tried; ``stop_hot_reload`` cancels the poll. A table that cannot be read
keeps the last policies read; before any successful read ``get_policy`` raises the error
(``SupabaseStoreError``, retriable). In a camguard worker, policies come from the
``service.policies`` topic instead (``PolicyManager.from_settings``).
"""

from __future__ import annotations

from typing import Any, Literal, overload

from common_schemas.health import SupabaseClientLike, supabase_project
from streams.policy import manager
from streams.policy.models import (
    AntitheftPolicy,
    HealthPolicy,
    Policy,
    PolicyModel,
    PrivacyPolicy,
    ResiliencePolicy,
    UnknownPolicy,
)
from streams.policy.storage import SupabasePolicyRowStore

__all__ = [
    "AntitheftPolicy",
    "HealthPolicy",
    "Policy",
    "PolicyManager",
    "PolicyModel",
    "PrivacyPolicy",
    "ResiliencePolicy",
    "UnknownPolicy",
]


class PolicyManager(manager.PolicyManager):
    """Typed, cached policies of one service, read from its Supabase ``service_policies``."""

    def __init__(
        self,
        service_name: str,
        supabase_client: SupabaseClientLike | None = None,
        **camguard_options: Any,
    ) -> None:
        if supabase_client is not None and "rows" not in camguard_options:
            camguard_options["rows"] = SupabasePolicyRowStore(*supabase_project(supabase_client))
        super().__init__(service_name, **camguard_options)

    @overload
    async def get_policy(
        self,
        policy_type: Literal["antitheft"],
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> AntitheftPolicy: ...
    @overload
    async def get_policy(
        self,
        policy_type: Literal["privacy"],
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> PrivacyPolicy: ...
    @overload
    async def get_policy(
        self,
        policy_type: Literal["resilience"],
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> ResiliencePolicy: ...
    @overload
    async def get_policy(
        self,
        policy_type: Literal["health"],
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> HealthPolicy: ...
    @overload
    async def get_policy(
        self,
        policy_type: str,
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> Policy: ...
    async def get_policy(
        self,
        policy_type: str,
        *,
        org_id: str | None = None,
        camera_id: str | None = None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> Policy:
        """The typed effective policy (the model of ``policy_type``, or an UnknownPolicy)."""
        return await super().get_policy(
            policy_type, org_id=org_id, camera_id=camera_id, site_id=site_id, class_id=class_id
        )
