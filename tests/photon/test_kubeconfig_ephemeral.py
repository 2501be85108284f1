"""photon_k8s_kubeconfig's pure parts: the ttl rule (a schema validator) and the certificate
it mints."""

from __future__ import annotations

import datetime

import pytest
from cryptography.x509.oid import NameOID

from provider.bridge.api import (
    OpenEphemeralRequest,
    OpenEphemeralResponse,
    RenewEphemeralRequest,
    RenewEphemeralResponse,
)
from provider.bridge.cty import Path, Value
from provider.bridge.diagnostics import Diagnostics
from provider.bridge.notation import parse_duration
from provider.bridge.planning import defaults
from provider.bridge.schema import validate_attributes
from provider.photon.kubeconfig_ephemeral import KubeconfigEphemeral
from provider.photon.kubernetes.pki import issue, make_cluster_pki

SCHEMA = KubeconfigEphemeral.schema


def config(**attrs: object) -> Value:
    """A configuration as Terraform sends it: unset attributes null."""
    return Value.from_python(SCHEMA.value_type(), dict.fromkeys(SCHEMA.value_type().attrs) | attrs)


def ttl_diagnostics(text: str) -> Diagnostics:
    diagnostics = Diagnostics()
    validate_attributes(SCHEMA.block, config(cluster="team-a/prod", ttl=text), diagnostics)
    return diagnostics


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h", 3600), ("1h30m", 5400), ("24h", 86400)]
)
def test_ttls_in_range(text: str, seconds: int) -> None:
    assert not ttl_diagnostics(text)
    assert parse_duration(text) == seconds


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
    (refused,) = ttl_diagnostics(text)
    assert (refused.summary, refused.detail) == (summary, detail)
    assert refused.path == Path.root().attr("ttl")


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


class _Records:
    """The one call the ephemeral resource makes on the platform's records."""

    def __init__(self, record: dict[str, object]) -> None:
        self.record = record

    def get(self, kind: str, name: str) -> dict[str, object] | None:
        return self.record if (kind, name) == ("clusters", "team-a.prod") else None


class _Platform:
    def __init__(self, record: dict[str, object]) -> None:
        self._records = _Records(record)

    def records(self) -> _Records:
        return self._records


def test_open_asks_for_renewal_before_expiry_and_renewal_warns() -> None:
    pki = make_cluster_pki("prod")
    record = {"cluster": "prod", "spec": {"master_ips": ["10.0.0.21"]}, "pki": pki.to_json()}
    resource = KubeconfigEphemeral(_Platform(record))  # type: ignore[arg-type]
    unset = config(cluster="team-a/prod")
    opened = unset.with_attributes(defaults(SCHEMA, unset))  # as the bridge opens it
    response = OpenEphemeralResponse(opened)
    resource.open(OpenEphemeralRequest(opened), response)
    result = response.result.to_python()
    assert (result["ttl"], result["user"], result["groups"]) == (
        "1h",
        "terraform",
        ["system:masters"],
    )
    expires = datetime.datetime.fromisoformat(result["expires_at"])
    assert response.renew_at == expires - datetime.timedelta(minutes=6)
    renewed = RenewEphemeralResponse(response.private)
    resource.renew(RenewEphemeralRequest(response.private), renewed)
    (warning,) = renewed.diagnostics
    assert warning.summary == "Kubeconfig about to expire" and renewed.renew_at is None
    assert expires.isoformat() in warning.detail
