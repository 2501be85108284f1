"""Sealed secrets in the platform records: AES-256-GCM bound to the record, key ids, rotation."""

from __future__ import annotations

import base64
import json

import pytest

from provider.photon.records.crypto import (
    KeyMissing,
    RecordKeys,
    SealBroken,
    key_id,
    needed_key,
    parse_keys,
)

OLD, NEW = bytes(range(32)), bytes(range(1, 33))
PKI = {"ca": {"cert_pem": "CERT", "key_pem": "-----BEGIN PRIVATE KEY-----secret"}}


def test_a_sealed_field_holds_no_secret_and_names_its_key() -> None:
    record = RecordKeys((NEW,)).sealed_record("clusters", "team-a.prod", {"pki": PKI, "x": 1})
    assert record["x"] == 1 and record["pki"]["key_id"] == key_id(NEW)
    assert "secret" not in json.dumps(record) and "CERT" not in json.dumps(record)
    assert needed_key("clusters", record) == key_id(NEW) and needed_key("clusters", {}) is None
    assert RecordKeys((NEW,)).open(record["pki"], "clusters", "team-a.prod", "pki") == PKI


def test_a_sealed_value_opens_only_in_its_own_record() -> None:
    keys = RecordKeys((NEW,))
    sealed = keys.seal(PKI, "clusters", "team-a.prod", "pki")
    with pytest.raises(SealBroken, match=r"clusters/team-b\.prod pki"):
        keys.open(sealed, "clusters", "team-b.prod", "pki")
    tampered = {**sealed, "data": base64.b64encode(b"x" * 40).decode()}
    with pytest.raises(SealBroken):
        keys.open(tampered, "clusters", "team-a.prod", "pki")


def test_rotation_the_first_key_seals_every_key_opens() -> None:
    sealed = RecordKeys((OLD,)).seal(PKI, "clusters", "c", "pki")
    both = RecordKeys((NEW, OLD))
    assert both.open(sealed, "clusters", "c", "pki") == PKI
    assert both.seal(PKI, "clusters", "c", "pki")["key_id"] == key_id(NEW)
    with pytest.raises(KeyMissing) as missing:
        RecordKeys((NEW,)).open(sealed, "clusters", "c", "pki")
    assert missing.value.key_id == key_id(OLD)


def test_keys_are_256_bits_in_base64_and_a_bad_one_is_named_not_shown() -> None:
    good = base64.b64encode(NEW).decode()
    assert parse_keys([good, f" {base64.b64encode(OLD).decode()} "]) == (NEW, OLD)
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match=r"^key 2 is not a 256-bit key in base64") as err:
            parse_keys([good, bad])
        assert bad not in str(err.value)
