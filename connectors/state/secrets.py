"""Connector secrets at rest: AES-256-GCM with a key from configuration.

An account's connector settings (CalDAV password, OAuth client secret and
refresh token, with the rest of its settings) are stored sealed when they
hold any secret:

    b"ALMS1" | key id (4 bytes) | nonce (12 bytes) | ciphertext and tag

The account id is the associated data, so a sealed blob copied onto another
account's row does not open. The key id (a digest of the key) says which key
sealed a blob: `SecretBox` holds the current key, which seals, and earlier
ones, which still open, so `almanac keys rotate` can re-seal every row while
services holding either key keep working.

AES-GCM from `cryptography` (PyCA, OpenSSL underneath): authenticated
encryption with associated data in one vetted primitive; Fernet (AES-CBC +
HMAC) has no associated data to bind a blob to its row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "MAGIC",
    "SecretBox",
    "SecretKeyInvalid",
    "SecretKeyMissing",
    "encode_key",
    "is_sealed",
    "parse_keys",
    "read_key_file",
    "write_key_file",
]

MAGIC = b"ALMS1"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_ID_BYTES = 4


class SecretKeyMissing(Exception):
    """Secrets must be sealed or opened, and no key is configured."""


class SecretKeyInvalid(Exception):
    """A configured key is malformed, or no configured key opens a blob."""


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"almanac-secret-key\0" + key).digest()[:_ID_BYTES]


def parse_keys(text: str) -> list[bytes]:
    """Keys from ``text``: base64 keys separated by commas or lines, current first."""
    keys = []
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for part in ",".join(lines).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            key = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (ValueError, binascii.Error):
            key = b""
        if len(key) != _KEY_BYTES:
            raise SecretKeyInvalid("a key must be 32 bytes in URL-safe base64 (44 characters)")
        keys.append(key)
    return keys


def read_key_file(path: str | Path) -> list[bytes]:
    return parse_keys(Path(path).read_text())


def write_key_file(path: str | Path, keys: Sequence[bytes]) -> None:
    """Write ``keys`` (current first) readable by the owner only, atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Almanac connector-secret keys: the first seals, all open.\n")
        out.writelines(encode_key(k) + "\n" for k in keys)
    temporary.replace(target)


class SecretBox:
    """Seals with the first key, opens with any of them."""

    __slots__ = ("_aeads", "_current_id", "_keys")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SecretKeyMissing("no secret key")
        for key in keys:
            if len(key) not in (16, 24, 32):  # what AESGCM(key) refuses, checked up front
                raise ValueError("AESGCM key must be 128, 192, or 256 bits.")
        self._current_id = _key_id(keys[0])
        self._keys = {_key_id(k): k for k in reversed(keys)}
        self._aeads: dict[bytes, AESGCM] = {}

    def _aead(self, key_id: bytes) -> AESGCM | None:
        # cryptography is imported on first use (about 6 MiB resident): a
        # deployment of local accounts only never seals or opens a secret.
        found = self._aeads.get(key_id)
        key = self._keys.get(key_id)
        if found is None and key is not None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            found = self._aeads[key_id] = AESGCM(key)
        return found

    @staticmethod
    def new_key() -> bytes:
        return os.urandom(_KEY_BYTES)  # what AESGCM.generate_key does

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        current = self._aead(self._current_id)
        assert current is not None  # the first key is always configured
        sealed = current.encrypt(nonce, plaintext, context.encode())
        return MAGIC + self._current_id + nonce + sealed

    def open(self, blob: bytes, context: str) -> bytes:
        """The plaintext of a sealed ``blob`` (a blob that is not sealed is returned as is)."""
        if not is_sealed(blob):
            return blob
        start = len(MAGIC)
        key_id = blob[start : start + _ID_BYTES]
        nonce = blob[start + _ID_BYTES : start + _ID_BYTES + _NONCE_BYTES]
        aead = self._aead(key_id)
        if aead is None:
            raise SecretKeyInvalid("secrets were sealed with a key that is not configured")
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(nonce, blob[start + _ID_BYTES + _NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise SecretKeyInvalid("secrets do not open with the configured key") from None

    def sealed_with_current(self, blob: bytes) -> bool:
        return is_sealed(blob) and blob[len(MAGIC) : len(MAGIC) + _ID_BYTES] == self._current_id
