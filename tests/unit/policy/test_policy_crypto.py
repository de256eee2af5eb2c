"""AES-GCM policy config encryption: round trip, rotation, tamper and key-config errors."""

from __future__ import annotations

import base64
import json

import pytest

from streams.codec import AvroCodec
from streams.policy.avro import decode_policy_message, row_to_record
from streams.policy.crypto import PolicyCipher, associated_data, generate_key_setting
from streams.policy.exceptions import (
    InvalidPolicyRecordError,
    PolicyDecryptError,
    PolicyKeyConfigError,
)
from streams.policy.resolve import PolicyRow

K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.b64encode(bytes(range(1, 33))).decode()
ROW = PolicyRow("r1", "camguard", "privacy", "acme", "cam-1", 3, {"blur_strength": 0.4}, 1000)
AAD = associated_data(ROW.key, ROW.id)
CODEC = AvroCodec()


def test_round_trip_and_ciphertext_hides_the_config() -> None:
    cipher = PolicyCipher.from_setting(K1)
    token = cipher.encrypt('{"blur_strength":0.4}', AAD)
    assert token.startswith("k1:")
    assert "blur_strength" not in token
    assert cipher.decrypt(token, AAD) == '{"blur_strength":0.4}'


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = PolicyCipher.from_setting(K1).encrypt("{}", AAD)
    rotated = PolicyCipher.from_setting(f"{K2},{K1}")
    assert rotated.decrypt(old, AAD) == "{}"
    assert rotated.encrypt("{}", AAD).startswith("k2:")
    with pytest.raises(PolicyDecryptError, match="unknown policy key id"):
        PolicyCipher.from_setting(K2).decrypt(old, AAD)


def test_tampered_or_moved_ciphertext_fails() -> None:
    cipher = PolicyCipher.from_setting(K1)
    token = cipher.encrypt("{}", AAD)
    with pytest.raises(PolicyDecryptError, match="authentication"):
        cipher.decrypt(token, associated_data("camguard/privacy/*/*", ROW.id))
    kid, nonce, sealed = token.split(":")
    flipped = base64.b64encode(
        bytes([base64.b64decode(sealed)[0] ^ 1]) + base64.b64decode(sealed)[1:]
    )
    with pytest.raises(PolicyDecryptError):
        cipher.decrypt(f"{kid}:{nonce}:{flipped.decode()}", AAD)


@pytest.mark.parametrize(
    "setting", ["", "nokey", "k1:!!!", "k1:" + base64.b64encode(b"short").decode(), f"{K1},{K1}"]
)
def test_bad_key_settings_are_refused(setting: str) -> None:
    with pytest.raises(PolicyKeyConfigError):
        PolicyCipher.from_setting(setting)


def test_generated_key_setting_is_usable() -> None:
    cipher = PolicyCipher.from_setting(generate_key_setting("2025-01"))
    assert cipher.active_key_id == "2025-01"


def test_encrypted_record_travels_and_decodes_with_the_key() -> None:
    cipher = PolicyCipher.from_setting(K1)
    record = row_to_record(ROW, cipher)
    assert record["encrypted"] is True
    value = CODEC.encode("PolicyRecord", record)
    key, row = decode_policy_message(CODEC, ROW.key.encode(), value, cipher)
    assert key == ROW.key
    assert row is not None
    assert (row.id, row.version, row.key) == (ROW.id, ROW.version, ROW.key)
    assert dict(row.config) == {"blur_strength": 0.4}
    with pytest.raises(InvalidPolicyRecordError, match="CAMGUARD_POLICY_KEY"):
        decode_policy_message(CODEC, ROW.key.encode(), value, None)


def test_plain_record_round_trip_and_bad_records() -> None:
    record = row_to_record(ROW, None)
    assert json.loads(record["config"]) == {"blur_strength": 0.4}
    good = CODEC.encode("PolicyRecord", record)
    assert decode_policy_message(CODEC, ROW.key, None, None) == (ROW.key, None)
    with pytest.raises(InvalidPolicyRecordError, match="does not match"):
        decode_policy_message(CODEC, b"camguard/privacy/*/*", good, None)
    bad_config = CODEC.encode("PolicyRecord", {**record, "config": '{"blur_strength": 9}'})
    with pytest.raises(InvalidPolicyRecordError, match="blur_strength"):
        decode_policy_message(CODEC, ROW.key, bad_config, None)
    not_json = CODEC.encode("PolicyRecord", {**record, "config": "{"})
    with pytest.raises(InvalidPolicyRecordError, match="not JSON"):
        decode_policy_message(CODEC, ROW.key, not_json, None)
