"""AES-GCM encryption of policy configs, with key ids so keys can rotate.

``CAMGUARD_POLICY_KEY`` is ``keyid:base64key[,keyid:base64key...]``; the first key encrypts,
every listed key decrypts. To rotate: put the new key first and keep the old one after it,
run ``camguard policy sync`` (every row is republished under the new key), then drop the old.

Ciphertext text: ``keyid:base64(nonce):base64(ciphertext+tag)``. The associated data binds it to
its policy key and row id, so a ciphertext copied onto another scope does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from streams.policy.exceptions import PolicyDecryptError, PolicyKeyConfigError
from streams.settings import Settings

NONCE_BYTES = 12
KEY_SIZES = (16, 24, 32)
RandomBytes = Callable[[int], bytes]


def associated_data(policy_key: str, row_id: str) -> bytes:
    """What a config ciphertext is bound to."""
    return f"camguard.policy.v1|{policy_key}|{row_id}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def parse_key_setting(value: str) -> tuple[str, dict[str, bytes]]:
    """``(active key id, {key id: key})`` from the setting's text."""
    keys: dict[str, bytes] = {}
    active = ""
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or ":" in encoded:
            raise PolicyKeyConfigError("each key must be keyid:base64key")
        try:
            key = _unb64(encoded)
        except (binascii.Error, ValueError) as exc:
            raise PolicyKeyConfigError(f"key {key_id!r} is not valid base64") from exc
        if len(key) not in KEY_SIZES:
            raise PolicyKeyConfigError(f"key {key_id!r} has {len(key)} bytes; use 16, 24 or 32")
        if key_id in keys:
            raise PolicyKeyConfigError(f"key id {key_id!r} listed twice")
        keys[key_id] = key
        active = active or key_id
    if not keys:
        raise PolicyKeyConfigError("no key given")
    return active, keys


@dataclass(frozen=True)
class PolicyCipher:
    """Encrypts with the active key, decrypts with any known key."""

    active_key_id: str
    keys: Mapping[str, bytes]
    random_bytes: RandomBytes = field(default=os.urandom, compare=False, repr=False)

    @classmethod
    def from_setting(cls, value: str, random_bytes: RandomBytes = os.urandom) -> PolicyCipher:
        active, keys = parse_key_setting(value)
        return cls(active, MappingProxyType(keys), random_bytes)

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicyCipher | None:
        """The cipher configured by CAMGUARD_POLICY_KEY, or None when encryption is off."""
        if settings.policy_key is None:
            return None
        return cls.from_setting(settings.policy_key.get_secret_value())

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = self.random_bytes(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_key_id]).encrypt(nonce, plaintext.encode(), aad)
        return f"{self.active_key_id}:{_b64(nonce)}:{_b64(sealed)}"

    def key_id_of(self, token: str) -> str:
        return token.split(":", 1)[0]

    def decrypt(self, token: str, aad: bytes) -> str:
        parts = token.split(":")
        if len(parts) != 3:
            raise PolicyDecryptError("ciphertext must be keyid:nonce:ciphertext")
        key_id, nonce_text, sealed_text = parts
        key = self.keys.get(key_id)
        if key is None:
            raise PolicyDecryptError(f"unknown policy key id {key_id!r}")
        try:
            nonce, sealed = _unb64(nonce_text), _unb64(sealed_text)
        except (binascii.Error, ValueError) as exc:
            raise PolicyDecryptError("ciphertext is not valid base64") from exc
        if len(nonce) != NONCE_BYTES:
            raise PolicyDecryptError("nonce must be 12 bytes")
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            raise PolicyDecryptError(
                "ciphertext failed authentication (tampered or moved)"
            ) from exc
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyDecryptError("plaintext is not UTF-8") from exc


def generate_key_setting(key_id: str, random_bytes: RandomBytes = os.urandom) -> str:
    """A fresh ``keyid:base64key`` item (32 bytes) for CAMGUARD_POLICY_KEY."""
    return f"{key_id}:{_b64(random_bytes(32))}"
