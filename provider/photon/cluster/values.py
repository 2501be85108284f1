"""Pure answers about a cluster's nodes and private state: each node's status as refresh
reads it, what a node needs from a host and the quota, its VM's name, and the secrets kept
in private state. (The cluster's attributes are decoded once, in model.py.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...bridge.cty import UNKNOWN, Value
from ...bridge.diagnostics import DiagnosticError
from ..quota_policy import Amounts
from .guest import GuestSeen, judge_guest
from .health import (
    DISK_LOST,
    HEALTHY,
    HOST_MAINTENANCE,
    LOST,
    NETWORK_LOST,
    PORT_GROUP_LOST,
    POWERED_OFF,
    READY,
)
from .kubernetes.spec import Node
from .nodes import Flavor
from .placement import NodeDemand

if TYPE_CHECKING:
    from ...esxi.inventory import Inventory, NicInfo, VmInfo
    from .kubernetes.pki import ClusterPki

__all__ = [
    "LOST",
    "POWERED_OFF",
    "READY",
    "NodeFound",
    "b64",
    "demand_of",
    "has_etcd_ca_key",
    "has_peers",
    "known_in",
    "load_pki",
    "load_private",
    "node_demand",
    "node_status",
    "node_vm_name",
    "vm_in",
    "worker_batches",
]  # fmt: skip


def demand_of(nodes: list[Node], flavors: Mapping[str, Flavor]) -> Amounts:
    return Amounts(
        vm_count=len(nodes),
        vcpu=sum(flavors[n.role].vcpu for n in nodes),
        memory_gb=sum(flavors[n.role].memory_gb for n in nodes),
        disk_gb=sum(flavors[n.role].disk_gb for n in nodes),
    )


def node_demand(name: str, role: str, flavors: Mapping[str, Flavor]) -> NodeDemand:
    """What placing one node needs from a host."""
    flavor = flavors[role]
    return NodeDemand(name, role, flavor.memory_gb, flavor.datastore_gb)


def node_vm_name(tenant: str, cluster: str, node: str) -> str:
    return f"{tenant}-{cluster}-{node}"


@dataclass(frozen=True)
class NodeFound:
    """A node's status as refresh reads it, what was wrong (for the warning that explains a
    network or disk status), and its NIC's MAC address when it has a NIC."""

    status: str
    why: str = ""
    mac: str | None = None


def node_status(
    inventory: Inventory | DiagnosticError | None,
    node: Mapping[str, Any],
    tenant: str,
    cluster: str,
    name: str,
    network: str,
    missing_files: Collection[str] = (),
    guest: GuestSeen | None = None,
) -> NodeFound:
    """ready, or what is wrong, worst first: lost (host unreachable, VM gone, no longer ours
    — marks or name changed —, or unusable: orphaned, inaccessible, invalid); disk_lost (its
    system disk detached, its file deleted — ``missing_files`` — or its datastore
    inaccessible); port_group_lost (its host lacks the cluster's port group, so no repair in
    place can work); powered_off, or host_maintenance when its host is in maintenance mode;
    network_lost (its NIC removed, on another port group, or disconnected now or at
    power-on); then, given ``guest``, what its guest says or shows (guest.py)."""
    vm = vm_in(inventory, node["vm_id"])
    if inventory is None or isinstance(inventory, DiagnosticError) or vm is None:
        return NodeFound(LOST)
    vm_name = node_vm_name(tenant, cluster, name)
    marks = (vm.marks.get("tenant"), vm.marks.get("cluster"), vm.marks.get("node"))
    if marks != (tenant, cluster, name) or not vm.name.startswith(vm_name):
        return NodeFound(LOST)
    if vm.connection_state != "connected":
        return NodeFound(LOST)
    mac = vm.nics[0].mac if vm.nics else None
    disk = next((d for d in vm.disks if d.file.rsplit("/", 1)[-1].startswith(vm_name)), None)
    if disk is None:
        return NodeFound(DISK_LOST, "its system disk is detached from the VM", mac)
    store = inventory.datastores.get(disk.datastore or "")
    if store is not None and not store.accessible:
        return NodeFound(DISK_LOST, f"datastore {store.name} holding its disk is inaccessible", mac)
    if disk.file in missing_files:
        return NodeFound(DISK_LOST, f"its disk file {disk.file} is deleted", mac)
    if network not in inventory.networks:
        return NodeFound(
            PORT_GROUP_LOST, f"host {inventory.host} has no port group {network!r}", mac
        )
    if vm.power_state != "poweredOn":
        return NodeFound(HOST_MAINTENANCE if inventory.maintenance else POWERED_OFF, mac=mac)
    found = _network_found(vm.nics, network, mac)
    if found.status != READY or guest is None:
        return found
    status, why = judge_guest(vm, guest)
    return NodeFound(status, why, mac)


def _network_found(nics: Sequence[NicInfo], network: str, mac: str | None) -> NodeFound:
    if not nics:
        return NodeFound(NETWORK_LOST, "its NIC is removed")
    nic = nics[0]
    if nic.network != network:
        return NodeFound(NETWORK_LOST, f"its NIC is on port group {nic.network!r}", mac)
    if not nic.connected:
        return NodeFound(NETWORK_LOST, "its NIC is disconnected", mac)
    if not nic.start_connected:
        return NodeFound(NETWORK_LOST, "its NIC is set not to connect at power-on", mac)
    return NodeFound(READY, mac=mac)


def vm_in(inventory: Inventory | DiagnosticError | None, vm_id: str) -> VmInfo | None:
    """The VM ``vm_id`` of a host's inventory; None when it is not there or the host did
    not answer."""
    if inventory is None or isinstance(inventory, DiagnosticError):
        return None
    return inventory.vms.get(vm_id)


def has_peers(node: Node, nodes: Mapping[str, dict[str, Any]]) -> bool:
    """Whether a restored node has a running cluster to join: for an etcd member or a
    master, another of its role that runs (ready or booting: a lone one starts its part of the
    cluster anew)."""
    if node.role == "worker":
        return True
    return any(
        v["role"] == node.role and v.get("status") in HEALTHY
        for n, v in nodes.items()
        if n != node.name
    )


def has_etcd_ca_key(private: bytes) -> bool:
    """Whether the cluster's secrets can issue etcd certificates (not so after an import
    from records that predate the etcd CA key, with external etcd)."""
    pki = load_private(private).get("pki") or {}
    return bool((pki.get("etcd_ca") or {}).get("key_pem"))


def load_private(data: bytes) -> dict[str, Any]:
    try:
        loaded = json.loads(data) if data else {}
    except ValueError:
        loaded = {}
    return loaded if isinstance(loaded, dict) else {}


def known_in(obj: Value, name: str) -> Any:
    value = obj[name]
    return value.to_python() if value.is_fully_known() else UNKNOWN


def worker_batches(nodes: list[Node], size: int) -> list[list[Node]]:
    """The control plane first, all at once; then workers in batches of ``size``."""
    control = [n for n in nodes if n.role != "worker"]
    workers = [n for n in nodes if n.role == "worker"]
    batches = [control] if control else []
    batches += [workers[i : i + size] for i in range(0, len(workers), size)]
    return batches


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def load_pki(private: bytes) -> ClusterPki:
    from .kubernetes.pki import ClusterPki

    try:
        return ClusterPki.from_json(json.loads(private)["pki"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DiagnosticError(
            "Cluster secrets missing from state",
            "The cluster's certificates are kept in Terraform's private state, which is "
            "missing or damaged. Restore the state from a backup.",
        ) from exc
