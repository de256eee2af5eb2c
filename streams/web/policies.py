"""GET /policies and POST /webhooks/supabase.

``GET /policies`` answers ``{"policies": {"privacy": {...}, ...}}`` with the global effective
values; with ``?org_id=&camera_id=`` (and optionally ``site_id``, ``class_id``) the effective
policy of that scope and, per field, the row and version it came from. When encryption is on
(CAMGUARD_POLICY_KEY) values are shown only to callers presenting
``Authorization: Bearer <CAMGUARD_POLICY_ADMIN_TOKEN>``; others get provenance only.

``POST /webhooks/supabase`` takes a Supabase database-webhook payload for service_policies,
authenticates it, validates the config, produces the PolicyRecord (or tombstone) and the
PolicyChange, applies it locally and answers 200; refusals are 4xx with ``{"error",
"detail"}`` and produce nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from faust.web import Request, Response, View
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from streams.app import CamguardApp
from streams.policy.book import Outcome
from streams.policy.exceptions import PolicyError, UnsupportedPayloadError
from streams.policy.manager import PolicyManager
from streams.policy.models import POLICY_MODELS
from streams.policy.payload import plan_change
from streams.policy.publish import PolicyPublisher
from streams.policy.webhook import WebhookVerifier, parse_body
from streams.web.endpoints import Endpoint, QueryParam, describe

log = logging.getLogger(__name__)
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


def validate_request(body: bytes) -> WebhookRequest:
    """``body`` as the documented :class:`WebhookRequest`, so the server refuses (422) what its
    OpenAPI document refuses: e.g. a version past 2^53 - 1 (2^63 crashed the Avro encoder), or
    text with a lone surrogate (no PolicyRecord can carry it). Raises
    :class:`UnsupportedPayloadError`."""
    try:
        return WebhookRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        raise UnsupportedPayloadError("; ".join(problems)) from exc


class WebhookAccepted(BaseModel):
    """What the webhook did: produced (applied, deleted) or nothing (duplicate)."""

    status: Literal["applied", "deleted", "duplicate"]
    keys: list[str]
    version: int | None = None


class ErrorBody(BaseModel):
    """A refused request."""

    error: str
    detail: str


_SCOPE_QUERY = tuple(
    QueryParam(name, f"{name} of the scope to resolve for") for name in SCOPE_PARAMS
)
describe(
    Endpoint(
        "GET",
        "/policies",
        "Effective policies (global, or for ?org_id=&camera_id=) with provenance",
        PoliciesResponse,
        query=_SCOPE_QUERY,
        tags=("policies",),
    )
)
describe(
    Endpoint(
        "POST",
        "/webhooks/supabase",
        "Supabase database webhook for service_policies",
        WebhookAccepted,
        request_model=WebhookRequest,
        errors={
            400: "not JSON",
            401: "missing or wrong secret or signature, or a stale timestamp",
            409: "replayed request, or an older version than the one held",
            413: "body over the size limit",
            422: "wrong table/schema/type, or an invalid config",
        },
        tags=("policies",),
    )
)


def is_authorised(headers: Mapping[str, str], token: str | None) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (constant time)."""
    if not token:
        return False
    lower = {k.lower(): v for k, v in headers.items()}
    scheme, _, presented = lower.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


def policies_document(
    manager: PolicyManager, scope: Mapping[str, str | None], *, show_values: bool
) -> PoliciesResponse:
    """The GET /policies body for ``scope`` (all None = the global view)."""
    scoped = any(scope.get(name) for name in SCOPE_PARAMS)
    args = {name: scope.get(name) or None for name in SCOPE_PARAMS}
    doc = PoliciesResponse(
        policies={},
        scope=args if scoped else {},
        redacted=not show_values,
        ready=manager.ready.is_set(),
        revision=manager.revision,
    )
    for policy_type in manager.policy_types():
        effective = manager.effective(policy_type, **args)
        doc.policies[policy_type] = dict(effective.values) if show_values else {}
        doc.versions[policy_type] = effective.version
        if policy_type not in POLICY_MODELS:
            doc.flagged.append(policy_type)
        if scoped or not show_values:
            doc.provenance[policy_type] = {
                name: ProvenanceModel(**source.__dict__)
                for name, source in effective.provenance.items()
            }
    return doc


class FaustPolicySink:
    """Sends to the app's topics and waits for the broker's acknowledgement."""

    def __init__(self, cg: CamguardApp) -> None:
        self.cg = cg

    async def send_policy(self, key: str, value: bytes | None) -> None:
        await (await self.cg.topics.policies.send(key=key.encode(), value=value))

    async def send_audit(self, key: str, value: bytes) -> None:
        await (await self.cg.topics.audit.send(key=key.encode(), value=value))


_STATUS: dict[Outcome, Literal["applied", "deleted", "duplicate"]] = {
    Outcome.APPLIED: "applied",
    Outcome.DELETED: "deleted",
    Outcome.DUPLICATE: "duplicate",
}


def _error(view: View, exc: PolicyError) -> Response:
    body = ErrorBody(error=exc.reason, detail=str(exc)).model_dump()
    return view.json(body, status=exc.status)


def install(cg: CamguardApp) -> PolicyManager:
    """Register GET /policies and POST /webhooks/supabase; return the worker's manager."""
    settings = cg.settings
    manager = cg.policies
    secret = (
        settings.webhook_secret.get_secret_value().encode() if settings.webhook_secret else None
    )
    verifier = WebhookVerifier(
        secret, settings.webhook_replay_window_s, settings.webhook_max_body_bytes
    )
    token = settings.policy_admin_token.get_secret_value() if settings.policy_admin_token else None
    publisher = PolicyPublisher(FaustPolicySink(cg), manager.codec, manager.cipher)
    serial = asyncio.Lock()

    @cg.app.page("/policies")
    class PoliciesView(View):
        async def get(self, request: Request) -> Response:
            scope = {name: request.query.get(name) for name in SCOPE_PARAMS}
            show = manager.cipher is None or is_authorised(request.headers, token)
            return self.json(policies_document(manager, scope, show_values=show).model_dump())

    @cg.app.page("/webhooks/supabase")
    class SupabaseWebhookView(View):
        async def post(self, request: Request) -> Response:
            try:
                verifier.check_size(getattr(request, "content_length", None))
                body = await request.read()
                verifier.check_size(None, body)
                verifier.authenticate(request.headers, body, time.time())
                event = parse_body(body)
                validate_request(body)
                # One change at a time per worker: a concurrent duplicate sees the first one
                # applied and is answered as a duplicate instead of being produced twice.
                async with serial:
                    plan = plan_change(event, manager.book)
                    await publisher.publish_plan(plan, "webhook", int(time.time() * 1000))
                    for key, row in plan.records:
                        _ = manager.apply_tombstone(key) if row is None else manager.apply_row(row)
            except PolicyError as exc:
                cg.count(f"policies.webhook.{exc.reason}")
                return _error(self, exc)
            cg.count(f"policies.webhook.{plan.outcome.value}")
            last = plan.records[-1][1] if plan.records else None
            accepted = WebhookAccepted(
                status=_STATUS[plan.outcome],
                keys=[key for key, _ in plan.records],
                version=None if last is None else last.version,
            )
            return self.json(accepted.model_dump())

    return manager
