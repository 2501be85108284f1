"""What a cluster's values say about restoring a node: whether it has peers to join, and
whether its secrets can still issue etcd certificates."""

from __future__ import annotations

import json

import pytest

from provider.photon.cluster_values import has_etcd_ca_key, has_peers
from provider.photon.kubernetes.spec import Node

READY = {"role": "etcd", "status": "ready"}


@pytest.mark.parametrize(
    ("node", "others", "joins"),
    [
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": READY}, True),
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": {**READY, "status": "lost"}}, False),
        (Node("etcd-1", "etcd", "10.0.0.11"), {"master-1": {**READY, "role": "master"}}, False),
        (Node("master-1", "master", "10.0.0.21"), {"etcd-1": READY}, False),
        (Node("master-2", "master", "10.0.0.22"), {"master-1": {**READY, "role": "master"}}, True),
        (Node("worker-1", "worker", None), {}, True),
    ],
)
def test_a_restored_member_joins_only_a_running_peer_of_its_role(
    node: Node, others: dict, joins: bool
) -> None:
    """A lone etcd member or master restored starts its part anew ("new" etcd state, kubeadm
    init) instead of waiting forever for peers that are not there."""
    assert has_peers(node, others) is joins


@pytest.mark.parametrize(
    ("private", "can_issue"),
    [
        (b"", False),
        (json.dumps({"pki": {"etcd_ca": {"cert_pem": "C", "key_pem": ""}}}).encode(), False),
        (json.dumps({"pki": {"etcd_ca": {"cert_pem": "C", "key_pem": "K"}}}).encode(), True),
    ],
)
def test_etcd_certificates_need_the_etcd_ca_key(private: bytes, can_issue: bool) -> None:
    assert has_etcd_ca_key(private) is can_issue
