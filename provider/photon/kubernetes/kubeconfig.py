"""The admin kubeconfig of a cluster, made from its PKI: known right after apply.

Written as JSON, which kubectl reads like YAML (JSON is YAML), so no YAML library is needed.
"""

from __future__ import annotations

import base64
import json

from .pki import ClusterPki

__all__ = ["admin_kubeconfig"]


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


def admin_kubeconfig(cluster: str, api_endpoint: str, pki: ClusterPki) -> str:
    user = f"{cluster}-admin"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": api_endpoint,
                    "certificate-authority-data": _b64(pki.ca.cert_pem),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki.admin.cert_pem),
                    "client-key-data": _b64(pki.admin.key_pem),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "preferences": {},
    }
    return json.dumps(config, indent=2) + "\n"
