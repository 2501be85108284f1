"""The per-start server identity, made by openssl or, without it, by cryptography."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from provider.bridge.certs import PendingIdentity


@pytest.mark.parametrize("openssl", ["openssl", "/nonexistent/openssl"])
def test_identity_is_a_p256_certificate_for_localhost_in_owner_only_files(
    tmp_path: Path, openssl: str
) -> None:
    identity = PendingIdentity(str(tmp_path), openssl=openssl).result()
    cert = x509.load_der_x509_certificate(identity.cert_der)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage
    for name in ("server.crt", "server.key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    assert (tmp_path / "server.crt").read_bytes() == identity.cert_pem
    assert "=" not in identity.handshake_cert


def test_each_start_gets_a_fresh_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = PendingIdentity(str(tmp_path / "a")).result()
    second = PendingIdentity(str(tmp_path / "b")).result()
    assert first.key_pem != second.key_pem
