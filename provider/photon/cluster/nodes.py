"""A cluster's nodes as the configuration asks for them, and what a change means for them.
Pure: the resource turns these answers into ESXi work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .kubernetes.spec import Node

__all__ = [
    "Flavor",
    "NodeChange",
    "desired_nodes",
    "node_changes",
    "node_number",
]

ROLES = ("etcd", "master", "worker")


@dataclass(frozen=True)
class Flavor:
    vcpu: int
    memory_gb: float
    disk_gb: int

    @property
    def label(self) -> str:
        """``<vcpu>/<memory_gb>/<disk_gb>``, as a node's ``flavor`` shows it."""
        return f"{self.vcpu}/{self.memory_gb:g}/{self.disk_gb}"

    @property
    def datastore_gb(self) -> float:
        """Datastore space a node VM takes: its disk is a copy of the base disk made without
        a disk spec, which ESXi makes preallocated (thick), grown to ``disk_gb``; at power-on
        ESXi adds a swap file the size of its memory (the VM reserves none)."""
        return self.disk_gb + self.memory_gb


def desired_nodes(
    etcd_ips: Sequence[str],
    master_ips: Sequence[str],
    worker_count: int,
    worker_ips: Sequence[str],
) -> list[Node]:
    """etcd-1.., master-1.., worker-1..worker-N; workers take the pool's addresses in order
    (DHCP when there is no pool)."""
    nodes = [Node(f"etcd-{i}", "etcd", ip) for i, ip in enumerate(etcd_ips, 1)]
    nodes += [Node(f"master-{i}", "master", ip) for i, ip in enumerate(master_ips, 1)]
    nodes += [
        Node(f"worker-{i}", "worker", worker_ips[i - 1] if worker_ips else None)
        for i in range(1, worker_count + 1)
    ]
    return nodes


@dataclass(frozen=True)
class NodeChange:
    add: list[Node]  # in creation order
    remove: list[str]  # node names, newest workers first


def node_changes(desired: Sequence[Node], existing: Mapping[str, object]) -> NodeChange:
    """Nodes to create (missing, also after a failed run) and to remove (no longer wanted)."""
    wanted = {n.name for n in desired}
    remove = sorted((n for n in existing if n not in wanted), key=node_number, reverse=True)
    return NodeChange([n for n in desired if n.name not in existing], remove)


def node_number(name: str) -> int:
    """The ordinal at the end of a node's name (``worker-12`` -> 12; a stray VM's entry
    ``worker-12@host/vm-id``: its node's)."""
    return int(name.split("@", 1)[0].rsplit("-", 1)[1])
