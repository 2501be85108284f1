"""A cluster's PKI, checked with openssl itself."""

from __future__ import annotations

import datetime
import re
import subprocess
from pathlib import Path

import pytest

from provider.photon.cluster.kubernetes.pki import ClusterPki, make_cluster_pki

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki() -> ClusterPki:
    return make_cluster_pki("prod")


def openssl(*args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["openssl", *args], input=data, capture_output=True, check=True)
    return done.stdout.decode()


def test_chains_verify(pki: ClusterPki, tmp_path: Path) -> None:
    files = {
        "ca": pki.ca.cert_pem,
        "etcd-ca": pki.etcd_ca.cert_pem,
        "admin": pki.admin.cert_pem,
        "apiserver-etcd-client": pki.apiserver_etcd_client.cert_pem,
        "etcd-1": pki.etcd_member("prod-etcd-1", "10.0.0.21", NOW).cert_pem,
    }
    for name, pem in files.items():
        (tmp_path / f"{name}.pem").write_text(pem)
    assert openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "admin.pem"))
    for leaf in ("apiserver-etcd-client", "etcd-1"):
        out = openssl(
            "verify", "-CAfile", str(tmp_path / "etcd-ca.pem"), str(tmp_path / f"{leaf}.pem")
        )
        assert out.strip().endswith(": OK")
    with pytest.raises(subprocess.CalledProcessError):  # not across CAs
        openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "etcd-1.pem"))


def test_admin_is_a_cluster_admin_client(pki: ClusterPki) -> None:
    text = openssl(
        "x509", "-noout", "-subject", "-ext", "extendedKeyUsage", data=pki.admin.cert_pem.encode()
    )
    assert "O = system:masters, CN = kubernetes-admin" in text
    assert "TLS Web Client Authentication" in text


def test_etcd_member_names_and_addresses(pki: ClusterPki) -> None:
    member = pki.etcd_member("prod-etcd-1", "10.0.0.21", NOW)
    text = openssl("x509", "-noout", "-ext", "subjectAltName", data=member.cert_pem.encode())
    assert "DNS:prod-etcd-1" in text and "IP Address:10.0.0.21" in text


def test_ca_hash_is_what_kubeadm_pins(pki: ClusterPki) -> None:
    public = openssl("x509", "-pubkey", "-noout", data=pki.ca.cert_pem.encode())
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=public.encode(),
        capture_output=True,
        check=True,
    ).stdout
    digest = openssl("dgst", "-sha256", "-hex", data=der).split("= ")[1].strip()
    assert pki.ca_cert_hash == f"sha256:{digest}"


def test_bootstrap_token_form_and_freshness(pki: ClusterPki) -> None:
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", pki.bootstrap_token)
    assert make_cluster_pki("prod").bootstrap_token != pki.bootstrap_token


def test_service_account_keys_match(pki: ClusterPki) -> None:
    from_private = openssl("pkey", "-pubout", data=pki.service_account_key_pem.encode())
    assert from_private == pki.service_account_public_pem
