"""PolicyRow <-> the Avro records on service.policies and service.policies.audit.

Reading a record validates everything a worker relies on: the key matches the row's scope, the
config decrypts (when encrypted), parses as a JSON object and fits its typed model. Any failure
is an :class:`InvalidPolicyRecordError` (or a codec error) and the record is dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from streams.codec import AvroCodec
from streams.policy.crypto import PolicyCipher, associated_data
from streams.policy.exceptions import (
    InvalidPolicyConfigError,
    InvalidPolicyRecordError,
    PolicyDecryptError,
)
from streams.policy.models import validate_config
from streams.policy.resolve import PolicyRow

RECORD = "PolicyRecord"
CHANGE = "PolicyChange"
Operation = Literal["INSERT", "UPDATE", "DELETE"]


def config_json(config: Mapping[str, Any]) -> str:
    """Canonical JSON text of a config (sorted keys, no spaces)."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"))


def row_to_record(row: PolicyRow, cipher: PolicyCipher | None) -> dict[str, Any]:
    """The ``PolicyRecord`` of ``row``; its config is encrypted when ``cipher`` is set."""
    text = config_json(row.config)
    if cipher is not None:
        text = cipher.encrypt(text, associated_data(row.key, row.id))
    return {
        "id": row.id,
        "service_name": row.service_name,
        "policy_type": row.policy_type,
        "org_id": row.org_id,
        "camera_id": row.camera_id,
        "site_id": row.site_id,
        "class_id": row.class_id,
        "version": row.version,
        "config": text,
        "encrypted": cipher is not None,
        "updated_at": row.updated_at_ms,
    }


def _millis(value: object) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value
    raise InvalidPolicyRecordError(f"updated_at of unexpected type {type(value).__name__}")


def _plaintext(record: Mapping[str, Any], key: str, cipher: PolicyCipher | None) -> str:
    text = str(record["config"])
    if not record.get("encrypted", False):
        return text
    if cipher is None:
        raise PolicyDecryptError("record is encrypted but CAMGUARD_POLICY_KEY is not set")
    return cipher.decrypt(text, associated_data(key, str(record["id"])))


def record_to_row(record: Mapping[str, Any], cipher: PolicyCipher | None) -> PolicyRow:
    """Validate a decoded ``PolicyRecord`` and return its row (plaintext config)."""
    shell = PolicyRow(
        id=str(record["id"]),
        service_name=str(record["service_name"]),
        policy_type=str(record["policy_type"]),
        org_id=record.get("org_id"),
        camera_id=record.get("camera_id"),
        version=int(record["version"]),
        config={},
        updated_at_ms=_millis(record["updated_at"]),
        site_id=record.get("site_id"),
        class_id=record.get("class_id"),
    )
    key = shell.key
    try:
        raw = json.loads(_plaintext(record, key, cipher))
    except json.JSONDecodeError as exc:
        raise InvalidPolicyRecordError(f"{key}: config is not JSON ({exc.msg})") from exc
    except PolicyDecryptError as exc:
        raise InvalidPolicyRecordError(f"{key}: {exc}") from exc
    try:
        config = validate_config(shell.policy_type, raw)
    except InvalidPolicyConfigError as exc:
        raise InvalidPolicyRecordError(f"{key}: {exc}") from exc
    return replace(shell, config=MappingProxyType(config))


def _text(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPolicyRecordError("policy key is not UTF-8") from exc


def decode_policy_message(
    codec: AvroCodec, key: bytes | str | None, value: bytes | None, cipher: PolicyCipher | None
) -> tuple[str, PolicyRow | None]:
    """``(policy key, row)`` of a message on service.policies; row None for a tombstone.

    Raises :class:`InvalidPolicyRecordError` or a codec error for anything unusable.
    """
    key_text = _text(key)
    if key_text is None:
        raise InvalidPolicyRecordError("policy message without a key")
    if value is None:
        return key_text, None
    row = record_to_row(codec.decode_as(RECORD, value), cipher)
    if row.key != key_text:
        raise InvalidPolicyRecordError(f"message key {key_text!r} does not match row {row.key!r}")
    return key_text, row


def change_record(
    key: str,
    operation: Operation,
    old: PolicyRow | None,
    new: PolicyRow | None,
    actor: str,
    at_ms: int,
    cipher: PolicyCipher | None,
) -> dict[str, Any]:
    """The ``PolicyChange`` audit record of one accepted change."""
    return {
        "key": key,
        "operation": operation,
        "old": None if old is None else row_to_record(old, cipher),
        "new": None if new is None else row_to_record(new, cipher),
        "actor": actor,
        "at": at_ms,
    }
