"""AES-GCM encryption of spooled records at rest (frames are not anonymized yet on disk).

The key comes from ``Settings.spool_key``: ``base64(16|24|32 bytes)``, or a comma list of
``keyid:base64`` where the first key seals new records and every key can open old ones (key
rotation). Each sealed body starts with a 4-byte fingerprint of its key so a wrong key is a clear
:class:`SpoolKeyError`, not garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from streams.spool.exceptions import SpoolKeyError

NONCE_BYTES = 12
KEY_ID_BYTES = 4


def key_fingerprint(key: bytes) -> bytes:
    """The 4 bytes stored in front of every body sealed with ``key``."""
    return hashlib.sha256(b"camguard-spool\x00" + key).digest()[:KEY_ID_BYTES]


def parse_keys(text: str) -> list[bytes]:
    """Raw keys from ``base64`` or ``id:base64[,id:base64...]`` text; ValueError when bad."""
    keys: list[bytes] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        encoded = part.split(":", 1)[1] if ":" in part else part
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("spool key is not valid base64") from exc
        if len(key) not in (16, 24, 32):
            raise ValueError(f"spool key must be 16, 24 or 32 bytes, got {len(key)}")
        keys.append(key)
    if not keys:
        raise ValueError("spool key is empty")
    return keys


class SpoolCipher:
    """Seals and opens record bodies; the header is bound in as associated data."""

    def __init__(self, keys: list[bytes], nonce: Callable[[int], bytes] = os.urandom) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._seal_id = key_fingerprint(keys[0])
        self._seal = AESGCM(keys[0])
        self._open = {key_fingerprint(k): AESGCM(k) for k in keys}
        self._nonce = nonce

    @classmethod
    def from_text(cls, text: str) -> SpoolCipher:
        """A cipher from ``Settings.spool_key``'s secret value."""
        return cls(parse_keys(text))

    def seal(self, body: bytes, aad: bytes) -> bytes:
        nonce = self._nonce(NONCE_BYTES)
        return self._seal_id + nonce + self._seal.encrypt(nonce, body, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        key_id = sealed[:KEY_ID_BYTES]
        aead = self._open.get(key_id)
        if aead is None:
            raise SpoolKeyError("the spool record was sealed with a key that is not configured")
        nonce = sealed[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
        try:
            return aead.decrypt(nonce, sealed[KEY_ID_BYTES + NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise ValueError("record failed AES-GCM authentication") from exc

    def knows(self, sealed_prefix: bytes) -> bool:
        """True when the body's key fingerprint is one of ours."""
        return sealed_prefix[:KEY_ID_BYTES] in self._open
