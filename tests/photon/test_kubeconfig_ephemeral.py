"""photon_k8s_kubeconfig's pure parts: the ttl rule and the certificate it mints."""

from __future__ import annotations

import datetime

import pytest
from cryptography.x509.oid import NameOID

from provider.bridge.cty import Path
from provider.bridge.diagnostics import DiagnosticError
from provider.photon.kubeconfig_ephemeral import parse_ttl
from provider.photon.kubernetes.pki import issue, make_cluster_pki


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h", 3600), ("1h30m", 5400), ("24h", 86400)]
)
def test_ttls_in_range(text: str, seconds: int) -> None:
    assert parse_ttl(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("text", "summary", "detail"),
    [
        ("soon", "Invalid ttl", "'soon' is not a duration. Give the certificate's lifetime like "
         "15m, 1h or 1h30m (from 5m to 24h)."),
        ("4m59s", "ttl too short", "ttl 4m59s is shorter than 5m: the certificate could expire "
         "before Terraform is done with it. Give at least 5m."),
        ("24h1s", "ttl too long", "ttl 24h1s is longer than 24h. A kubeconfig from "
         "photon_k8s_kubeconfig lasts one Terraform run and is minted again by the next; give "
         "at most 24h."),
    ],
)  # fmt: skip
def test_ttls_refused(text: str, summary: str, detail: str) -> None:
    with pytest.raises(DiagnosticError) as refused:
        parse_ttl(text)
    assert (refused.value.diagnostic.summary, refused.value.diagnostic.detail) == (summary, detail)
    assert refused.value.diagnostic.path == Path.root().attr("ttl")


def test_a_minted_certificate_names_user_and_groups_and_ends_after_its_ttl() -> None:
    ca = make_cluster_pki("prod").ca
    now = datetime.datetime.now(datetime.UTC)
    client = issue(ca, "ci-bot", organizations=["deployers", "viewers"], client=True, now=now,
                   lifetime=datetime.timedelta(minutes=30))  # fmt: skip
    cert = client.cert
    cert.verify_directly_issued_by(ca.cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["ci-bot"]
    organizations = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in organizations] == ["deployers", "viewers"]
    lifetime = cert.not_valid_after_utc - now  # certificates count whole seconds
    assert abs(lifetime - datetime.timedelta(minutes=30)) < datetime.timedelta(seconds=1)
