"""A cluster and its nodes as the bootstrap data sees them (no secrets, cheap to import)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ClusterSpec", "Node"]


@dataclass(frozen=True)
class Node:
    name: str  # e.g. worker-3, unique in the cluster
    role: str  # etcd, master, worker
    ip: str | None  # None: DHCP


@dataclass(frozen=True)
class ClusterSpec:
    tenant: str
    name: str
    kubernetes_version: str
    pod_cidr: str
    service_cidr: str
    api_address: str  # the first master's address
    etcd: Sequence[Node]  # empty: etcd runs on the masters (kubeadm's stacked etcd)
    masters: Sequence[Node]
    gateway: str | None = None
    prefix_length: int | None = None
    dns_servers: Sequence[str] = ()
    ssh_public_keys: Sequence[str] = ()

    @property
    def api_endpoint(self) -> str:
        return f"https://{self.api_address}:6443"

    def hostname(self, node: Node) -> str:
        return f"{self.name}-{node.name}"
