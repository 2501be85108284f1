"""Cross-attribute rules of a cluster's inputs: each broken rule's exact diagnostic and path."""

from __future__ import annotations

from typing import Any

import pytest

from provider.bridge.cty import Path
from provider.photon.cluster.input_rules import input_problems

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgx5m0u1hXv8qN1pFz1w7oY3i3YyY1bq6v5b9a7hQ2k ops@x"
GOOD: dict[str, Any] = {
    "master_ips": ["10.0.0.21", "10.0.0.22", "10.0.0.23"],
    "etcd_ips": [],
    "worker_ips": ["10.0.0.31", "10.0.0.32"],
    "netmask": "255.255.255.0",
    "gateway": "10.0.0.1",
    "dns_servers": ["10.0.0.2"],
    "pod_cidr": "10.244.0.0/16",
    "service_cidr": "10.96.0.0/12",
    "ssh_public_keys": [ED25519],
    "image": "images/k8s.vmdk",
    "worker_image": "images/k8s.vmdk",
}


def problems(**changes: Any) -> list[tuple[str, str, Path]]:
    return [(p.summary, p.detail, p.path) for p in input_problems({**GOOD, **changes})]


def test_a_sound_cluster_breaks_no_rule_and_unknown_values_are_left_alone() -> None:
    assert problems() == []
    assert problems(master_ips=None, netmask=None, gateway=None, ssh_public_keys=None) == []


@pytest.mark.parametrize(
    ("changes", "summary", "detail", "path"),
    [
        ({"worker_ips": ["10.0.0.31", "10.0.0.22"]}, "Duplicate node address",
         "10.0.0.22 is given to master_ips[1] and worker_ips[1]: each node needs an address of "
         "its own, or the two answer for each other and neither joins.",
         Path.root().attr("worker_ips").index(1)),
        ({"gateway": "10.0.0.31"}, "A node address is the gateway",
         "10.0.0.31 is worker_ips[0], a node's own address: a node cannot be its cluster's "
         "gateway.", Path.root().attr("gateway")),
        ({"dns_servers": ["8.8.8.8", "10.0.0.21"]}, "A node address is the dns server",
         "10.0.0.21 is master_ips[0], a node's own address: a node cannot be its cluster's DNS "
         "server.", Path.root().attr("dns_servers").index(1)),
        ({"pod_cidr": "10.0.0.0/16"}, "Networks overlap",
         "pod_cidr 10.0.0.0/16 overlaps the nodes' network 10.0.0.0/24 (their addresses with "
         "the netmask): pods or services would shadow nodes. Choose a range outside it.",
         Path.root().attr("pod_cidr")),
        ({"service_cidr": "10.244.128.0/20"}, "Networks overlap",
         "service_cidr 10.244.128.0/20 overlaps pod_cidr 10.244.0.0/16: kubeadm refuses it. "
         "Choose disjoint ranges.", Path.root().attr("service_cidr")),
        ({"gateway": "10.0.1.1"}, "Gateway outside the nodes' network",
         "gateway 10.0.1.1 is not in the nodes' network 10.0.0.0/24: the nodes could not reach "
         "it. Give a gateway on their network, or check netmask.", Path.root().attr("gateway")),
        ({"ssh_public_keys": [ED25519, "ssh-rsa not-base64"]}, "Invalid SSH public key",
         "Key 2 (ssh-rsa...) is not an OpenSSH public key (`ssh-ed25519 AAAA...`, as in a .pub "
         "file): the nodes would ignore it and nobody could log in with it.",
         Path.root().attr("ssh_public_keys").index(1)),
        ({"image": "../other/k8s.vmdk"}, "Invalid image path",
         "image '../other/k8s.vmdk' must be a path to a .vmdk inside the datastore, as "
         "`images/k8s-1.32.vmdk`: no leading / or [datastore], no `..`.",
         Path.root().attr("image")),
    ],
)  # fmt: skip
def test_each_broken_rule_is_said_at_its_attribute(
    changes: dict[str, Any], summary: str, detail: str, path: Path
) -> None:
    assert problems(**changes) == [(summary, detail, path)]


@pytest.mark.parametrize("image", ["/vmfs/volumes/ds/k8s.vmdk", "[ds1] images/k8s.vmdk", "k8s.ova"])
def test_images_are_datastore_relative_vmdk_paths(image: str) -> None:
    assert [s for s, _, _ in problems(worker_image=image)] == ["Invalid image path"]
