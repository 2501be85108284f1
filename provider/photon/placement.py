"""Where each node of a cluster goes: pure, so the rules are tested on their own.

- etcd members and masters: each role spread over distinct hosts while there are enough,
- workers: spread evenly,
- a host without room for the node's memory is skipped (room = memory not yet promised to
  VMs, so ESXi never has to overcommit for us),
- nodes already placed stay where they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["HostRoom", "NodeDemand", "PlacementError", "place"]


@dataclass(frozen=True)
class HostRoom:
    name: str
    free_memory_gb: float


@dataclass(frozen=True)
class NodeDemand:
    name: str
    role: str
    memory_gb: float


class PlacementError(Exception):
    def __init__(self, node: NodeDemand, rooms: Mapping[str, float]) -> None:
        best = max(rooms.values(), default=0.0)
        super().__init__(
            f"no host has room for {node.name} ({node.memory_gb:g} GB of memory); the most "
            f"free on any usable host is {best:g} GB"
        )
        self.node = node


def place(
    nodes: Sequence[NodeDemand],
    hosts: Sequence[HostRoom],
    placed: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, str]:
    """Node name -> host name for ``nodes``; ``placed`` are nodes already on hosts
    (name -> (role, host)) that count for spreading. Raises PlacementError."""
    room = {h.name: h.free_memory_gb for h in hosts}
    per_role: Counter[tuple[str, str]] = Counter()  # (host, role) -> nodes
    per_host: Counter[str] = Counter()
    for role, host in (placed or {}).values():
        per_role[host, role] += 1
        per_host[host] += 1
    order = {"etcd": 0, "master": 1, "worker": 2}
    result: dict[str, str] = {}
    for node in sorted(nodes, key=lambda n: order.get(n.role, 3)):  # scarce placements first
        fitting = [h for h in room if room[h] >= node.memory_gb]
        if not fitting:
            raise PlacementError(node, room)
        host = min(
            fitting,
            key=lambda h: (per_role[h, node.role], per_host[h], -room[h], h),
        )
        result[node.name] = host
        room[host] -= node.memory_gb
        per_role[host, node.role] += 1
        per_host[host] += 1
    return result
