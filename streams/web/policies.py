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
from typing import Literal

from faust.web import Request, Response, View
from pydantic import BaseModel, ValidationError

from streams.app import CamguardApp
from streams.contract.policy_http import (
    SCOPE_PARAMS,
    PoliciesResponse,
    ProvenanceModel,
    WebhookAccepted,
    WebhookRequest,
)
from streams.policy.exceptions import PolicyError, UnsupportedPayloadError
from streams.policy.manager import PolicyManager
from streams.policy.models import POLICY_MODELS
from streams.policy.resolve import Outcome
from streams.policy.topic import PolicyPublisher
from streams.policy.webhook import WebhookVerifier, parse_body, plan_change

log = logging.getLogger(__name__)


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


class ErrorBody(BaseModel):
    """A refused request."""

    error: str
    detail: str


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
