"""Where each node of a cluster goes: pure, so the rules are tested on their own.

- etcd members and masters: each role spread over distinct hosts while there are enough,
- workers: spread evenly,
- a host that may not take new nodes (``HostRoom.skip``: in maintenance mode, a read-only
  license) is never picked, and the plan says so (``skipped``),
- a host without room for the node is skipped: room is memory not yet promised to VMs (so
  ESXi never has to overcommit for us) and free space on the datastore the VMs go to,
- nodes already placed stay where they are.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["HostRoom", "NodeDemand", "PlacementError", "place", "skipped"]


@dataclass(frozen=True)
class HostRoom:
    name: str
    free_memory_gb: float
    free_disk_gb: float = math.inf  # on the datastore new VMs go to
    skip: str | None = None  # why no new node may go there


@dataclass(frozen=True)
class NodeDemand:
    name: str
    role: str
    memory_gb: float
    disk_gb: float = 0.0  # datastore space the VM takes (see cluster_nodes.datastore_gb)


class PlacementError(Exception):
    def __init__(
        self,
        node: NodeDemand,
        left: Mapping[str, tuple[float, float]],
        skipped: Mapping[str, str],
    ) -> None:
        rooms = [
            f"{host} has {memory:.4g} GB of memory and {_gb(disk)} of datastore space free"
            for host, (memory, disk) in sorted(left.items())
        ]
        rooms += [f"{host} is skipped ({why})" for host, why in sorted(skipped.items())]
        super().__init__(
            f"no host has room for {node.name} ({node.memory_gb:g} GB of memory, "
            f"{_gb(node.disk_gb)} of datastore space); " + ("; ".join(rooms) or "no hosts")
        )
        self.node = node


def _gb(amount: float) -> str:
    return "unlimited" if math.isinf(amount) else f"{amount:.4g} GB"


def skipped(hosts: Sequence[HostRoom]) -> dict[str, str]:
    """Host -> why it takes no new node, for the plan to say."""
    return {h.name: h.skip for h in hosts if h.skip is not None}


def place(
    nodes: Sequence[NodeDemand],
    hosts: Sequence[HostRoom],
    placed: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, str]:
    """Node name -> host name for ``nodes``; ``placed`` are nodes already on hosts
    (name -> (role, host)) that count for spreading. Raises PlacementError."""
    room = {h.name: h.free_memory_gb for h in hosts if h.skip is None}
    disk = {h.name: h.free_disk_gb for h in hosts if h.skip is None}
    per_role: Counter[tuple[str, str]] = Counter()  # (host, role) -> nodes
    per_host: Counter[str] = Counter()
    for role, host in (placed or {}).values():
        per_role[host, role] += 1
        per_host[host] += 1
    order = {"etcd": 0, "master": 1, "worker": 2}
    result: dict[str, str] = {}
    for node in sorted(nodes, key=lambda n: order.get(n.role, 3)):  # scarce placements first
        fitting = [h for h in room if room[h] >= node.memory_gb and disk[h] >= node.disk_gb]
        if not fitting:
            raise PlacementError(node, {h: (room[h], disk[h]) for h in room}, skipped(hosts))
        host = min(
            fitting,
            key=lambda h: (per_role[h, node.role], per_host[h], -room[h], h),
        )
        result[node.name] = host
        room[host] -= node.memory_gb
        disk[host] -= node.disk_gb
        per_role[host, node.role] += 1
        per_host[host] += 1
    return result
