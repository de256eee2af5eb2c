"""Errors of the policy package.

::

    CamguardError
    └── PolicyError                          400
        ├── InvalidPolicyConfigError         422  config does not fit its typed model
        ├── InvalidPolicyRecordError         422  a record on service.policies is unusable
        ├── StaleVersionError                409  a lower version than the one held
        ├── WebhookError                     400
        │   ├── PayloadTooLargeError         413
        │   ├── MalformedPayloadError        400  not JSON / not an object
        │   ├── UnsupportedPayloadError      422  wrong table, schema or event type
        │   ├── UnauthenticatedError         401  no or wrong secret / signature
        │   │   └── StaleTimestampError      401  signature timestamp outside the window
        │   └── ReplayedRequestError         409  the same signed request seen before
        └── PolicyCryptoError                500
            ├── PolicyKeyConfigError         500  CAMGUARD_POLICY_KEY malformed
            └── PolicyDecryptError           422  unknown key id or tampered ciphertext

``status`` is what a view answers; ``reason`` goes into a dead-letter record.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.exceptions import CamguardError


class PolicyError(CamguardError):
    """Base class of the policy package's errors."""

    reason = "policy_error"
    status = 400


class PoliciesNotLoadedError(PolicyError):
    """The worker has not read service.policies yet (unreachable at start): the privacy path
    answers with this, and the frame is blurred with every kind (fail closed)."""

    reason = "policies_not_loaded"
    status = 503


class InvalidPolicyConfigError(PolicyError):
    """A policy config has a wrong type or value for its policy_type.

    Fix the row's ``config`` (the message names the fields); nothing was published.
    """

    reason = "invalid_config"
    status = 422

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = tuple(errors)


class InvalidPolicyRecordError(PolicyError):
    """A record on service.policies could not be used (bad key, config or ciphertext).

    The record is dead-lettered and the last known good policy stays in force; republish the
    row (``camguard policy sync``) once the producer is fixed.
    """

    reason = "invalid_policy"
    status = 422


class StaleVersionError(PolicyError):
    """The change carries a lower version than the one already held; it was ignored."""

    reason = "stale_version"
    status = 409


class WebhookError(PolicyError):
    """A webhook request was refused; nothing was produced."""

    reason = "bad_webhook"
    status = 400


class PayloadTooLargeError(WebhookError):
    """The body is over CAMGUARD_WEBHOOK_MAX_BODY_BYTES."""

    reason = "too_large"
    status = 413


class MalformedPayloadError(WebhookError):
    """The body is not a JSON object."""

    reason = "malformed"
    status = 400


class UnsupportedPayloadError(WebhookError):
    """The payload is JSON but not a service_policies INSERT/UPDATE/DELETE event."""

    reason = "unsupported"
    status = 422


class UnauthenticatedError(WebhookError):
    """No valid shared secret or signature; check CAMGUARD_WEBHOOK_SECRET on both sides."""

    reason = "unauthenticated"
    status = 401


class StaleTimestampError(UnauthenticatedError):
    """The signed timestamp is outside the replay window; check the sender's clock."""

    reason = "stale_timestamp"


class ReplayedRequestError(WebhookError):
    """This exact signed request was already accepted within the replay window."""

    reason = "replayed"
    status = 409


class PolicyCryptoError(PolicyError):
    """Policy encryption failed."""

    reason = "crypto"
    status = 500


class PolicyKeyConfigError(PolicyCryptoError):
    """CAMGUARD_POLICY_KEY must be ``keyid:base64(16/24/32 bytes)[,keyid:...]``."""

    reason = "bad_key_config"


class PolicyDecryptError(PolicyCryptoError):
    """A ciphertext names an unknown key id or fails authentication.

    Add the retired key back to CAMGUARD_POLICY_KEY (after the active one) until every row is
    re-encrypted with ``camguard policy sync``.
    """

    reason = "decrypt_failed"
    status = 422
