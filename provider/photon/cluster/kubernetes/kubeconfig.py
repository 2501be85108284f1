"""Kubeconfigs made from a cluster's PKI: known without contacting the cluster.

Written as JSON, which kubectl reads like YAML (JSON is YAML), so no YAML library is needed.
"""

from __future__ import annotations

import base64
import json

from .pki import CertKey, ClusterPki

__all__ = ["admin_kubeconfig", "client_kubeconfig"]


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


def client_kubeconfig(
    cluster: str, api_endpoint: str, ca_cert_pem: str, user: str, client: CertKey
) -> str:
    """One cluster, one user authenticated by ``client``, one context selecting both."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": api_endpoint,
                    "certificate-authority-data": _b64(ca_cert_pem),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert_pem),
                    "client-key-data": _b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "preferences": {},
    }
    return json.dumps(config, indent=2) + "\n"


def admin_kubeconfig(cluster: str, api_endpoint: str, pki: ClusterPki) -> str:
    """The long-lived admin certificate made with the cluster (``system:masters``)."""
    return client_kubeconfig(cluster, api_endpoint, pki.ca.cert_pem, f"{cluster}-admin", pki.admin)
