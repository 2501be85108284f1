"""photon_k8s_kubeconfig: an ephemeral resource (Terraform 1.10+) that mints a short-lived
client certificate signed by a cluster's CA each time Terraform opens it, and returns a
kubeconfig that Terraform never writes to a plan or state.

A certificate cannot be extended or revoked (Kubernetes checks no revocation list), so its
lifetime is the only limit on a leaked copy: ``ttl`` is short by default and capped.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ..bridge.api import (
    EphemeralResource,
    OpenEphemeralRequest,
    OpenEphemeralResponse,
    RenewEphemeralRequest,
    RenewEphemeralResponse,
)
from ..bridge.cty import STRING, List, Path, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.notation import parse_duration
from ..bridge.schema import Attribute, Block, Schema
from ..bridge.validators import Message, duration
from .names import is_name
from .platform import Platform
from .records import CLUSTERS

__all__ = ["KubeconfigEphemeral"]


_TTL_RULE = duration(
    Message(
        "Invalid ttl",
        "{value!r} is not a duration. Give the certificate's lifetime like 15m, 1h or 1h30m "
        "(from 5m to 24h).",
    ),
    minimum="5m",
    maximum="24h",
    too_short=Message(
        "ttl too short",
        "ttl {value} is shorter than 5m: the certificate could expire before Terraform is done "
        "with it. Give at least 5m.",
    ),
    too_long=Message(
        "ttl too long",
        "ttl {value} is longer than 24h. A kubeconfig from photon_k8s_kubeconfig lasts one "
        "Terraform run and is minted again by the next; give at most 24h.",
    ),
)


def _check_user(value: Value, path: Path, diagnostics: Diagnostics) -> None:
    if not value.to_python().strip():
        diagnostics.error(
            "Invalid user", "The user (the certificate's common name) must not be empty.", path
        )


def _check_groups(value: Value, path: Path, diagnostics: Diagnostics) -> None:
    for index, group in enumerate(value.payload):
        if group.is_known and not (group.to_python() or "").strip():
            diagnostics.error(
                "Invalid group",
                "A group name must not be empty; leave it out of the list.",
                path.index(index),
            )


@dataclass(frozen=True)
class _Request:
    """The configuration (the bridge has put in the defaults), decoded once."""

    cluster: str
    ttl_text: str
    ttl: datetime.timedelta
    user: str
    groups: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Value) -> _Request:
        ttl_text = config["ttl"].to_python()
        return cls(
            cluster=config["cluster"].to_python(),
            ttl_text=ttl_text,
            ttl=datetime.timedelta(seconds=parse_duration(ttl_text)),
            user=config["user"].to_python(),
            groups=tuple(config["groups"].to_python()),
        )


class KubeconfigEphemeral(EphemeralResource):
    type_name: ClassVar[str] = "photon_k8s_kubeconfig"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="A kubeconfig with a fresh client certificate signed by the cluster's "
            "CA, minted each time Terraform needs it and never stored in a plan or state.",
            attributes=(
                Attribute("cluster", STRING, "ID of the cluster (`photon_k8s_cluster.x.id`, "
                          "`<tenant>/<name>`).", required=True),
                Attribute("ttl", STRING, "Lifetime of the certificate, from `5m` to `24h`.",
                          optional=True, computed=True, default="1h",
                          validators=(_TTL_RULE,)),
                Attribute("user", STRING, "User name in the certificate (its common name).",
                          optional=True, computed=True, default="terraform",
                          validators=(_check_user,)),
                Attribute("groups", List(STRING), "Kubernetes groups of the user (the "
                          "certificate's organizations); `system:masters` is cluster admin, "
                          "`[]` none (grant rights with RBAC).", optional=True, computed=True,
                          default=["system:masters"], validators=(_check_groups,)),
                Attribute("kubeconfig", STRING, "The kubeconfig (JSON, which kubectl reads).",
                          computed=True, sensitive=True),
                Attribute("host", STRING, "URL of the Kubernetes API.", computed=True),
                Attribute("cluster_ca_certificate", STRING, "PEM of the cluster CA.",
                          computed=True),
                Attribute("client_certificate", STRING, "PEM of the client certificate.",
                          computed=True),
                Attribute("client_key", STRING, "PEM of the client certificate's private key.",
                          computed=True, sensitive=True),
                Attribute("expires_at", STRING, "When the certificate expires (RFC 3339).",
                          computed=True),
            ),
        )
    )  # fmt: skip

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def open(self, request: OpenEphemeralRequest, response: OpenEphemeralResponse) -> None:
        from .kubernetes.kubeconfig import client_kubeconfig
        from .kubernetes.pki import ClusterPki, issue

        wanted = _Request.from_config(request.config)
        record = self._cluster_record(wanted.cluster)
        name = record["cluster"]
        ca = ClusterPki.from_json(record["pki"]).ca
        now = datetime.datetime.now(datetime.UTC)
        client = issue(
            ca, wanted.user, organizations=wanted.groups, client=True, now=now, lifetime=wanted.ttl
        )
        expires = client.cert.not_valid_after_utc
        endpoint = f"https://{record['spec']['master_ips'][0]}:6443"
        kubeconfig = client_kubeconfig(name, endpoint, ca.cert_pem, wanted.user, client)
        response.result = Value.from_python(
            self.schema.value_type(),
            {
                "cluster": wanted.cluster,
                "ttl": wanted.ttl_text,
                "user": wanted.user,
                "groups": list(wanted.groups),
                "kubeconfig": kubeconfig,
                "host": endpoint,
                "cluster_ca_certificate": ca.cert_pem,
                "client_certificate": client.cert_pem,
                "client_key": client.key_pem,
                "expires_at": expires.isoformat().replace("+00:00", "Z"),
            },
        )
        response.private = json.dumps({"expires_at": expires.isoformat()}).encode()
        # Called back shortly before expiry only if Terraform still holds the kubeconfig then.
        response.renew_at = expires - wanted.ttl / 10

    def renew(self, request: RenewEphemeralRequest, response: RenewEphemeralResponse) -> None:
        """A certificate cannot be extended: say when it ends, so a failure to authenticate
        later in a long run has an explanation."""
        expires = json.loads(request.private)["expires_at"]
        response.diagnostics.warning(
            "Kubeconfig about to expire",
            f"The client certificate of a photon_k8s_kubeconfig expires at {expires} and cannot "
            "be extended; whatever still uses it after then fails to authenticate. Give the "
            "ephemeral resource a ttl longer than the Terraform run.",
        )

    def _cluster_record(self, cluster_id: str) -> dict[str, Any]:
        tenant, _, name = cluster_id.partition("/")
        record = None
        if is_name(tenant) and is_name(name):
            record = self.platform.records().get(CLUSTERS, f"{tenant}.{name}")
        if record is None:
            raise DiagnosticError(
                "Unknown cluster",
                f"There is no cluster {cluster_id!r} in the platform records. Give the id of a "
                "photon_k8s_cluster (`<tenant>/<name>`), e.g. `photon_k8s_cluster.prod.id`.",
                Path.root().attr("cluster"),
            )
        if not record.get("pki"):
            raise DiagnosticError(
                "Cluster secrets not recorded",
                f"The record of cluster {cluster_id} holds no CA: an older provider version "
                "wrote it. Apply a change to the cluster with this version to record it, or "
                "use the cluster's kubeconfig attribute meanwhile.",
                Path.root().attr("cluster"),
            )
        return record
