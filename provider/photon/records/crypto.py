"""Secrets in the platform records, sealed with AES-256-GCM (``records { encryption_keys }``).

A cluster's record holds its CAs with their private keys: whoever reads them owns the cluster,
and the records live in a datastore file or a PostgreSQL row, and in every backup of either.
So with keys configured, each secret field of a record (``SECRET_FIELDS``) is stored sealed:

    {"sealed": "aes-256-gcm", "key_id": "3f2a9c01d4e5b6a7", "nonce": "...", "data": "..."}

The rest of the record stays readable for people and ``records export``. The record's kind,
name and field are the associated data, so a sealed value moved to another record or field
does not open. Each value names the id of its key (the first 8 bytes of its SHA-256, never the
key): a plan can say which key a record needs without trying to decrypt anything. The first
key seals; every key configured opens, so a key is rotated by putting the new one first and
running ``terraform-provider-photon records rekey``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALGORITHM",
    "KEY_ENV",
    "SECRET_FIELDS",
    "KeyMissing",
    "RecordKeys",
    "SealBroken",
    "key_id",
    "needed_key",
    "parse_keys",
]

ALGORITHM = "aes-256-gcm"
KEY_ENV = "PHOTON_RECORDS_KEY"  # keys, comma-separated, when records.encryption_keys is unset
SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {"clusters": ("pki",)}


class KeyMissing(Exception):
    """A sealed value needs a key that is not configured."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key_id = key


class SealBroken(Exception):
    """A sealed value does not open with its key: changed, or moved from another record."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def parse_keys(texts: Iterable[str]) -> tuple[bytes, ...]:
    """Keys given as base64 of 32 bytes (``openssl rand -base64 32``). ValueError says which
    one is wrong, never its value."""
    keys = []
    for i, text in enumerate(texts):
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ValueError(
                f"key {i + 1} is not a 256-bit key in base64 (44 characters, as "
                "`openssl rand -base64 32` prints)"
            )
        keys.append(key)
    return tuple(keys)


@dataclass(frozen=True)
class RecordKeys:
    """The configured keys: the first seals, all open."""

    keys: tuple[bytes, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id(k) for k in self.keys)

    def seal(self, value: Any, kind: str, name: str, field: str) -> dict[str, str]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when sealing

        nonce = os.urandom(12)
        plain = json.dumps(value, sort_keys=True).encode()
        data = AESGCM(self.keys[0]).encrypt(nonce, plain, _context(kind, name, field))
        return {"sealed": ALGORITHM, "key_id": key_id(self.keys[0]),
                "nonce": _b64(nonce), "data": _b64(data)}  # fmt: skip

    def open(self, sealed: Mapping[str, Any], kind: str, name: str, field: str) -> Any:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        wanted = sealed.get("key_id")
        key = next((k for k in self.keys if key_id(k) == wanted), None)
        if key is None:
            raise KeyMissing(str(wanted))
        try:
            plain = AESGCM(key).decrypt(
                base64.b64decode(sealed["nonce"]),
                base64.b64decode(sealed["data"]),
                _context(kind, name, field),
            )
        except (InvalidTag, KeyError, binascii.Error, ValueError) as exc:
            raise SealBroken(f"{kind}/{name} {field}") from exc
        return json.loads(plain)

    def sealed_record(self, kind: str, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """``record`` with its secret fields sealed (those sealed already stay as they are)."""
        out = dict(record)
        for field in SECRET_FIELDS.get(kind, ()):
            if out.get(field) is not None and not is_sealed(out[field]):
                out[field] = self.seal(out[field], kind, name, field)
        return out


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("sealed") == ALGORITHM


def needed_key(kind: str, record: Mapping[str, Any] | None) -> str | None:
    """The id of the key that opens ``record``'s sealed fields (None: nothing sealed)."""
    for field in SECRET_FIELDS.get(kind, ()):
        value = (record or {}).get(field)
        if is_sealed(value):
            return str(value.get("key_id"))
    return None


def _context(kind: str, name: str, field: str) -> bytes:
    return f"photon-records/{kind}/{name}/{field}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
