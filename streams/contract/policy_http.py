"""The worker's policy pages: ``GET /policies`` and ``POST /webhooks/supabase``.

:class:`WebhookRequest` is what the webhook accepts (a Supabase database-webhook payload for
public.service_policies); the view validates a body against it (streams/web/policies.py), so
the server refuses what its OpenAPI document refuses.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

#: The scope a ``GET /policies`` query may name.
SCOPE_PARAMS = ("org_id", "camera_id", "site_id", "class_id")


class ProvenanceModel(BaseModel):
    """Where one effective value came from: a row (id, version, key) or the defaults."""

    scope: Literal["default", "global", "org", "site", "camera"]
    row_id: str | None = None
    version: int | None = None
    key: str | None = None


class PoliciesResponse(BaseModel):
    """Effective policies per policy_type, and where each value came from."""

    policies: dict[str, dict[str, Any]]
    provenance: dict[str, dict[str, ProvenanceModel]] = Field(default_factory=dict)
    versions: dict[str, int | None] = Field(default_factory=dict)
    scope: dict[str, str | None] = Field(default_factory=dict)
    flagged: list[str] = Field(default_factory=list, description="Unknown types, kept as raw JSON")
    redacted: bool = False
    ready: bool = True
    revision: int = 0


#: One part of a policy key (streams/policy/resolve.py): non-empty, no ``/``, not ``*``.
KeyPart = Annotated[str, Field(min_length=1, pattern=r"^([^/*][^/]*|\*[^/]+)$")]


#: The largest integer every JSON reader (JavaScript's included) reads exactly; PolicyRecord's
#: Avro longs (version, timestamp-millis) reach TypeScript consumers as numbers too.
MAX_JSON_INT = 2**53 - 1


JsonInt = Annotated[int, Field(ge=-MAX_JSON_INT, le=MAX_JSON_INT)]


Version = Annotated[int, Field(ge=0, le=MAX_JSON_INT)]


#: ISO 8601 text (as ``datetime.fromisoformat`` reads it; 422 otherwise) or epoch ms.
Timestamp = str | JsonInt


class PolicyRowBefore(BaseModel):
    """A service_policies row as the webhook carries it in ``old_record``; other columns are
    ignored. Its config is not validated (a bad old row never blocks fixing or deleting it)."""

    # strict: JSON types as they are (no false for 0), as parse_event reads them
    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1)
    service_name: KeyPart
    policy_type: KeyPart
    org_id: KeyPart | None = None
    camera_id: KeyPart | None = None
    site_id: KeyPart | None = None
    class_id: KeyPart | None = None
    version: Version
    config: Any = None
    updated_at: Timestamp | None = None
    created_at: Timestamp | None = None


class PolicyRowPayload(PolicyRowBefore):
    """The new row (``record``): its config must be valid for its policy_type (422 if not)."""

    config: dict[str, Any] = Field(default_factory=dict)


class _WebhookEnvelope(BaseModel):
    model_config = ConfigDict(populate_by_name=True, strict=True)

    table: Literal["service_policies"]
    db_schema: Literal["public"] = Field("public", alias="schema")


class WebhookInsert(_WebhookEnvelope):
    """A row was inserted: ``record`` is it (``old_record`` is ignored)."""

    type: Literal["INSERT"]
    record: PolicyRowPayload
    old_record: Any = None


class WebhookUpdate(_WebhookEnvelope):
    """A row was updated: ``record`` is it now, ``old_record`` (when sent) before, so a row that
    moved to another scope is tombstoned under its old key."""

    type: Literal["UPDATE"]
    record: PolicyRowPayload
    old_record: PolicyRowBefore | None = None


class WebhookDelete(_WebhookEnvelope):
    """A row was deleted: ``old_record`` is it (``record`` is ignored)."""

    type: Literal["DELETE"]
    record: Any = None
    old_record: PolicyRowBefore


WebhookPayload = Annotated[
    WebhookInsert | WebhookUpdate | WebhookDelete, Field(discriminator="type")
]


class WebhookRequest(RootModel[WebhookPayload]):
    """A Supabase database-webhook payload for public.service_policies, by ``type``."""


class WebhookAccepted(BaseModel):
    """What the webhook did: produced (applied, deleted) or nothing (duplicate)."""

    status: Literal["applied", "deleted", "duplicate"]
    keys: list[str]
    version: int | None = None
