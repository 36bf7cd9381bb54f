"""Envelope encryption for what must stay secret at rest (reporter identity, saved answers).

Each sealed value has its own random AES-256-GCM data key; a master key from settings wraps
that data key. Rotating master keys therefore re-wraps 60 bytes per record and never
re-encrypts the data, and both keys work while the rotation runs. Every place a sealed value
is stored must be listed in ``vigil.keys_rotation.SEALED_PLACES``, or rotation leaves it
under the old key (tests/test_keys_rotate.py fails for a binary column neither listed there
nor declared not sealed).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def pack(self) -> bytes:
        """One blob (for columns that hold a single value): lengths then parts."""
        kid = self.key_id.encode()
        head = struct.pack(">HHH", len(kid), len(self.wrapped_key), len(self.nonce))
        return head + kid + self.wrapped_key + self.nonce + self.ciphertext

    @classmethod
    def unpack(cls, blob: bytes) -> Sealed:
        kid_len, wrap_len, nonce_len = struct.unpack(">HHH", blob[:6])
        pos = 6
        kid = blob[pos : pos + kid_len].decode()
        pos += kid_len
        wrapped = blob[pos : pos + wrap_len]
        pos += wrap_len
        nonce = blob[pos : pos + nonce_len]
        pos += nonce_len
        return cls(kid, wrapped, nonce, blob[pos:])


class UnknownKey(KeyError):
    """A sealed value names a master key that is not configured."""


# What opening or re-wrapping a stored value raises when no configured key can read it: its
# key is gone, or the value is corrupt or truncated.
UNREADABLE: tuple[type[Exception], ...] = (UnknownKey, InvalidTag, struct.error, ValueError)


class Sealer:
    def __init__(self, keyring: dict[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keyring:
            raise UnknownKey(current_key_id)
        self._keyring = dict(keyring)
        self.current_key_id = current_key_id

    def seal(self, plaintext: bytes, context: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, context)
        return Sealed(
            self.current_key_id, self._wrap(self.current_key_id, data_key), nonce, ciphertext
        )

    def open(self, sealed: Sealed, context: bytes) -> bytes:
        data_key = self._unwrap(sealed.key_id, sealed.wrapped_key)
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, context)

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same data key, wrapped by the current master key."""
        data_key = self._unwrap(sealed.key_id, sealed.wrapped_key)
        return Sealed(
            self.current_key_id,
            self._wrap(self.current_key_id, data_key),
            sealed.nonce,
            sealed.ciphertext,
        )

    def _master(self, key_id: str) -> AESGCM:
        try:
            return AESGCM(self._keyring[key_id])
        except KeyError:
            raise UnknownKey(key_id) from None

    def _wrap(self, key_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master(key_id).encrypt(
            nonce, data_key, b"vigil-data-key:" + key_id.encode()
        )

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        return self._master(key_id).decrypt(nonce, body, b"vigil-data-key:" + key_id.encode())
