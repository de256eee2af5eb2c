"""Supabase database-webhook payloads for ``service_policies`` (pure: no I/O, time passed in).

Authentication, either of:

- HMAC: ``X-Camguard-Timestamp: <unix seconds>`` and
  ``X-Camguard-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``; the
  timestamp must be within the replay window and each signature is accepted once.
- Shared secret, what Supabase's webhook settings can send as a static header:
  ``X-Camguard-Webhook-Secret: <secret>`` or ``Authorization: Bearer <secret>``. A static header
  cannot prove freshness; replays of it are absorbed by the ``(id, version)`` idempotency.

Both compare in constant time. :func:`plan_change` turns an authenticated payload into the
records to produce; it consults the rows held (version ordering) and raises typed errors whose
``status`` is the HTTP answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from streams.policy.exceptions import (
    MalformedPayloadError,
    PayloadTooLargeError,
    ReplayedRequestError,
    StaleTimestampError,
    UnauthenticatedError,
)
from streams.policy.payload import WebhookEvent, parse_event

TIMESTAMP_HEADER = "x-camguard-timestamp"
SIGNATURE_HEADER = "x-camguard-signature"
SECRET_HEADER = "x-camguard-webhook-secret"  # noqa: S105 - a header name
AuthMethod = Literal["hmac", "shared_secret"]

__all__ = [
    "SECRET_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AuthMethod",
    "ReplayGuard",
    "WebhookEvent",
    "WebhookVerifier",
    "parse_body",
    "sign",
]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (used by senders/tests)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class ReplayGuard:
    """Signatures accepted within the replay window (bounded; oldest forgotten first)."""

    def __init__(self, window_s: float, max_entries: int = 100_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, signature: str, now_s: float) -> None:
        """Record ``signature``; raise :class:`ReplayedRequestError` if seen and unexpired."""
        self._purge(now_s)
        if signature in self._seen:
            raise ReplayedRequestError("this signed request was already accepted")
        self._seen[signature] = now_s + self.window_s
        while len(self._seen) > self.max_entries:
            del self._seen[next(iter(self._seen))]

    def _purge(self, now_s: float) -> None:
        # Insertion order is expiry order (constant window), so expired entries lead.
        while self._seen:
            oldest = next(iter(self._seen))
            if self._seen[oldest] >= now_s:
                break
            del self._seen[oldest]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _sent_bytes(value: str) -> bytes:
    """A header value as the client sent it: aiohttp decodes undecodable bytes to lone
    surrogates (surrogateescape), which a plain ``encode()`` refuses with UnicodeEncodeError."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


@dataclass
class WebhookVerifier:
    """Checks size and authentication of webhook requests."""

    secret: bytes | None
    replay_window_s: float = 300.0
    max_body_bytes: int = 256 * 1024
    guard: ReplayGuard | None = None

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = ReplayGuard(self.replay_window_s)

    def check_size(self, declared_length: int | None, body: bytes | None = None) -> None:
        """Refuse a body over the limit, from Content-Length before reading when given."""
        size = len(body) if body is not None else declared_length
        if size is not None and size > self.max_body_bytes:
            raise PayloadTooLargeError(
                f"body of {size} bytes is over the limit of {self.max_body_bytes}"
            )

    def authenticate(self, headers: Mapping[str, str], body: bytes, now_s: float) -> AuthMethod:
        """Which method authenticated the request; raises 401/409 errors otherwise."""
        if not self.secret:
            raise UnauthenticatedError("webhook secret not configured (CAMGUARD_WEBHOOK_SECRET)")
        lower = _lower(headers)
        if SIGNATURE_HEADER in lower or TIMESTAMP_HEADER in lower:
            self._check_signature(lower, body, now_s)
            return "hmac"
        presented = lower.get(SECRET_HEADER)
        if presented is None:
            scheme, _, token = lower.get("authorization", "").partition(" ")
            presented = token.strip() if scheme.lower() == "bearer" else None
        if presented is None:
            raise UnauthenticatedError(
                f"missing {SIGNATURE_HEADER}/{TIMESTAMP_HEADER} or {SECRET_HEADER} header"
            )
        if not hmac.compare_digest(_sent_bytes(presented), self.secret):
            raise UnauthenticatedError("wrong webhook secret")
        return "shared_secret"

    def _check_signature(self, lower: Mapping[str, str], body: bytes, now_s: float) -> None:
        assert self.secret is not None
        timestamp = lower.get(TIMESTAMP_HEADER, "").strip()
        presented = lower.get(SIGNATURE_HEADER, "").strip()
        if not timestamp or not presented:
            raise UnauthenticatedError("both signature and timestamp headers are required")
        try:
            sent_at = float(timestamp) if timestamp.isascii() else math.nan
        except ValueError:
            sent_at = math.nan
        if not math.isfinite(sent_at):  # nan would pass the window check below, forever
            raise UnauthenticatedError("timestamp must be unix seconds")
        if abs(now_s - sent_at) > self.replay_window_s:
            raise StaleTimestampError(
                f"timestamp is {now_s - sent_at:.0f} s off; the window is "
                f"{self.replay_window_s:.0f} s"
            )
        expected = sign(self.secret, timestamp, body)
        candidates = [part.strip() for part in presented.split(",")]
        if not any(hmac.compare_digest(_sent_bytes(c), expected.encode()) for c in candidates):
            raise UnauthenticatedError("signature does not match the body")
        assert self.guard is not None
        self.guard.remember(expected, now_s)


def parse_body(body: bytes) -> WebhookEvent:
    """Decode and validate a Supabase webhook body for table public.service_policies."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayloadError(f"body is not JSON: {exc}") from exc
    except RecursionError:  # a few KiB of "[" nest deeper than the JSON decoder recurses
        raise MalformedPayloadError("body is not JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise MalformedPayloadError("body must be a JSON object")
    return parse_event(payload)
