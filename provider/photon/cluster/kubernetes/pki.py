"""The certificates and secrets of one cluster, made by the provider so that the kubeconfig is
known right after apply, without asking the cluster.

- a cluster CA (signs the API server, the admin client, kubelets through kubeadm),
- an etcd CA with a server+peer certificate per etcd member and a client certificate for the
  API server,
- a front-proxy CA, the service-account key pair, an admin client certificate,
- a bootstrap token for workers to join, and the CA public-key hash they pin.

ECDSA P-256 everywhere: Kubernetes accepts it, and it is made in microseconds where RSA takes
tens of milliseconds per key.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertKey", "ClusterPki", "issue", "make_cluster_pki"]

CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=365)
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class CertKey:
    cert_pem: str
    key_pem: str

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem.encode(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    """Kubernetes reads a client certificate's CN as the user and each O as a group."""
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signing only; a CA also signs certificates and revocation lists."""
    return x509.KeyUsage(
        digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def make_ca(common_name: str, now: datetime.datetime) -> CertKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return CertKey(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def issue(
    ca: CertKey,
    common_name: str,
    *,
    organizations: Sequence[str] = (),
    server: bool = False,
    client: bool = False,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    now: datetime.datetime,
    lifetime: datetime.timedelta = LEAF_LIFETIME,
) -> CertKey:
    """A leaf certificate signed by ``ca``, for TLS servers and/or clients, valid from a few
    minutes before ``now`` (clock skew) for ``lifetime``."""
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )  # fmt: skip
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return CertKey(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def ca_cert_hash(ca: CertKey) -> str:
    """What kubeadm's ``--discovery-token-ca-cert-hash`` pins: SHA-256 of the CA's public key
    (its DER SubjectPublicKeyInfo)."""
    spki = ca.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def bootstrap_token() -> str:
    """``[a-z0-9]{6}.[a-z0-9]{16}``, the form kubeadm accepts."""
    pick = secrets.choice
    return (
        "".join(pick(_TOKEN_ALPHABET) for _ in range(6))
        + "."
        + "".join(pick(_TOKEN_ALPHABET) for _ in range(16))
    )


@dataclass(frozen=True)
class ClusterPki:
    ca: CertKey
    etcd_ca: CertKey
    front_proxy_ca: CertKey
    service_account_key_pem: str
    service_account_public_pem: str
    admin: CertKey
    apiserver_etcd_client: CertKey
    bootstrap_token: str

    @property
    def ca_cert_hash(self) -> str:
        return ca_cert_hash(self.ca)

    def to_json(self) -> dict[str, object]:
        """For the resource's private state: what restoring a node needs later."""
        return {
            "ca": vars(self.ca),
            "etcd_ca": vars(self.etcd_ca),
            "front_proxy_ca": vars(self.front_proxy_ca),
            "service_account_key_pem": self.service_account_key_pem,
            "service_account_public_pem": self.service_account_public_pem,
            "admin": vars(self.admin),
            "apiserver_etcd_client": vars(self.apiserver_etcd_client),
            "bootstrap_token": self.bootstrap_token,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ClusterPki:
        pairs = ("ca", "etcd_ca", "front_proxy_ca", "admin", "apiserver_etcd_client")
        return cls(
            **{k: CertKey(**data[k]) for k in pairs},  # type: ignore[arg-type]
            service_account_key_pem=str(data["service_account_key_pem"]),
            service_account_public_pem=str(data["service_account_public_pem"]),
            bootstrap_token=str(data["bootstrap_token"]),
        )

    def etcd_member(self, name: str, ip: str | None, now: datetime.datetime) -> CertKey:
        """Server and peer certificate of one etcd member (both uses, one key)."""
        return issue(
            self.etcd_ca,
            name,
            server=True,
            client=True,
            dns_names=[name, "localhost"],
            ip_addresses=[a for a in (ip, "127.0.0.1") if a],
            now=now,
        )


def make_cluster_pki(cluster: str, now: datetime.datetime | None = None) -> ClusterPki:
    now = now or datetime.datetime.now(datetime.UTC)
    ca = make_ca(f"{cluster}-ca", now)
    etcd_ca = make_ca(f"{cluster}-etcd-ca", now)
    sa_key = ec.generate_private_key(ec.SECP256R1())
    return ClusterPki(
        ca=ca,
        etcd_ca=etcd_ca,
        front_proxy_ca=make_ca(f"{cluster}-front-proxy-ca", now),
        service_account_key_pem=_pem(sa_key),
        service_account_public_pem=sa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        admin=issue(ca, "kubernetes-admin", organizations=["system:masters"], client=True, now=now),
        apiserver_etcd_client=issue(etcd_ca, "kube-apiserver-etcd-client", client=True, now=now),
        bootstrap_token=bootstrap_token(),
    )
