"""The provider's own TLS identity: a fresh self-signed ECDSA P-256 certificate per start.

go-plugin pins the certificate announced in the handshake line as the only root it trusts and
checks it against the name ``localhost``, so the certificate must carry that name and be
usable as its own issuer.

Terraform starts the provider 3-4 times per command, so start-up time matters: the
certificate is made by the ``openssl`` command on the other core while Python imports gRPC
(importing ``cryptography`` alone costs more than openssl's whole run). Where there is no
``openssl``, or where ``cryptography`` is imported already (a warm start, see
``warm_server``: then it takes ~2 ms, starting openssl ~20 ms), ``cryptography`` makes it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import ssl
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["PendingIdentity", "ServerIdentity", "make_server_identity"]

_OPENSSL_REQUEST = [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
    "-addext", "extendedKeyUsage=serverAuth,clientAuth",
]  # fmt: skip


@dataclass(frozen=True)
class ServerIdentity:
    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes

    @property
    def handshake_cert(self) -> str:
        """The certificate as go-plugin expects it: base64 of the DER, without padding."""
        return base64.b64encode(self.cert_der).decode().rstrip("=")

    def write(self, folder: str) -> tuple[str, str]:
        """Write PEM files (owner-only) for ssl.SSLContext, which reads only from files."""
        paths = []
        for name, data in (("server.crt", self.cert_pem), ("server.key", self.key_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            paths.append(path)
        return paths[0], paths[1]


def make_server_identity(
    valid_for: datetime.timedelta = datetime.timedelta(days=1),
) -> ServerIdentity:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return ServerIdentity(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )


class PendingIdentity:
    """A server identity being written into ``folder`` (server.crt, server.key, owner-only)."""

    def __init__(self, folder: str, openssl: str | None = None) -> None:
        """``openssl``: the command that makes it; by default ``openssl``, unless
        ``cryptography`` is imported already (then ``result()`` makes it in process)."""
        self.certfile = os.path.join(folder, "server.crt")
        self.keyfile = os.path.join(folder, "server.key")
        self._folder = folder
        self._proc: subprocess.Popen[bytes] | None = None
        if openssl is None:
            if "cryptography.x509" in sys.modules:
                return
            openssl = "openssl"
        with contextlib.suppress(OSError):
            self._proc = subprocess.Popen(
                [openssl, *_OPENSSL_REQUEST, "-keyout", self.keyfile, "-out", self.certfile],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                umask=0o077,
            )

    def result(self) -> ServerIdentity:
        if self._proc is not None and self._proc.wait() == 0:
            with open(self.certfile, "rb") as cert, open(self.keyfile, "rb") as key:
                cert_pem, key_pem = cert.read(), key.read()
            der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
            return ServerIdentity(cert_pem=cert_pem, key_pem=key_pem, cert_der=der)
        for leftover in (self.certfile, self.keyfile):
            if os.path.exists(leftover):
                os.remove(leftover)
        identity = make_server_identity()
        identity.write(self._folder)
        return identity
