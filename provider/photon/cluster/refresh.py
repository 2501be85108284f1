"""Refresh of photon_k8s_cluster: every node's status from one inventory read per host.

Each node gets its status (the drift guide's table, ``values.node_status``) and a warning
says what is wrong; VMs with the cluster's marks that are none of its nodes are adopted as
the nodes an interrupted run finished, or kept as strays the plan removes (leftovers.py);
and the time each unhealthy node was first seen so goes to the platform records, for the
grace period, with the resets made and where Tools were seen running (``health_memory``),
which also tell how each guest is judged (``guest.py``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.api import ReadResponse
from ...bridge.cty import Value
from ...bridge.diagnostics import DiagnosticError, Diagnostics
from ..platform import Platform
from ..records import CLUSTERS
from . import health_memory
from .guest import GuestSeen, boot_key, green_boot
from .health_memory import HealthMemory, NodeSeen
from .leftovers import Leftover, is_stray, leftovers_in, sort_leftovers
from .model import ClusterModel
from .schema import NODES_TYPE
from .values import node_status, vm_in

if TYPE_CHECKING:
    from ...esxi.inventory import Inventory, VmInfo

__all__ = ["guest_seen", "recall_memory", "refresh"]

Inventories = Mapping[str, "Inventory | DiagnosticError"]


def refresh(platform: Platform, state: Value, response: ReadResponse) -> None:
    model = ClusterModel.decode(state)
    tenant, cluster = model.tenant, model.name
    # Strays are found afresh each time: one removed meanwhile is gone from the map.
    nodes = {n: v.as_dict() for n, v in (model.nodes or {}).items() if not is_stray(n)}
    inventories = platform.inventories(platform.host_names)
    if _gone(platform, model, inventories):
        response.diagnostics.warning(
            f"Cluster {tenant}/{cluster} is gone",
            "Every host answered and none has a VM of it, and the platform records no longer "
            "hold it: it was deleted outside Terraform. The plan creates it again.",
        )
        response.new_state = Value.null(state.type)
        return
    strays = _sort_leftovers(platform, model, inventories, nodes, response.diagnostics)
    missing = _missing_disks(platform, inventories, nodes, response.diagnostics)
    memory = recall_memory(platform, model, response.diagnostics)
    now = datetime.datetime.now(datetime.UTC)
    seen_now: dict[str, NodeSeen] = {}
    for name, node in nodes.items():
        inventory = inventories.get(node["host"])
        vm = vm_in(inventory, node["vm_id"])
        seen = guest_seen(model, memory, name, vm, now)
        found = node_status(inventory, node, tenant, cluster, name, model.network, missing, seen)
        node["status"], node["mac"] = found.status, found.mac or node.get("mac")
        node.update(_build_of(vm, node, model))
        seen_now[name] = NodeSeen(
            found.status,
            green_boot(vm) if vm is not None else None,
            boot_key(vm, seen.reset) if vm is not None else "",
        )
        if found.why:
            response.diagnostics.warning(
                f"Node {name} of cluster {tenant}/{cluster}: {found.status}",
                f"On {node['host']}, {found.why}. The plan shows what is done about it "
                "(see the drift guide for each status).",
            )
    _report_down(inventories, response.diagnostics)
    nodes.update(strays)
    if memory is not None:
        _remember(platform, model, memory, seen_now, now, response.diagnostics)
    response.new_state = state.with_attributes({"nodes": Value.from_python(NODES_TYPE, nodes)})


def _build_of(vm: VmInfo | None, node: Mapping[str, Any], model: ClusterModel) -> dict[str, Any]:
    """What the node's VM was made for, from its marks; what a VM made before they were kept
    lacks, from the state, else from the configuration that made every node then."""
    made = model.build_for(node["role"]).as_dict()
    marks = vm.marks if vm is not None else {}
    keys = {"kubernetes_version": "version", "image": "image", "flavor": "flavor"}
    return {k: marks.get(mark) or node.get(k) or made[k] for k, mark in keys.items()}


def _gone(platform: Platform, model: ClusterModel, inventories: Inventories) -> bool:
    """Whether nothing is left of the cluster: every host answers, none has a VM with its
    marks, and its record is gone (a record or one VM left means it is to be restored)."""
    if not model.nodes or any(isinstance(i, DiagnosticError) for i in inventories.values()):
        return False
    if leftovers_in(inventories, model.tenant, model.name, {}):
        return False
    try:
        return platform.records().get(CLUSTERS, model.record_key) is None
    except DiagnosticError:
        return False  # the records cannot say: keep the cluster, report its nodes lost


def guest_seen(
    model: ClusterModel,
    memory: HealthMemory | None,
    name: str,
    vm: VmInfo | None,
    now: datetime.datetime,
) -> GuestSeen:
    """What judging node ``name``'s guest needs beyond its VM, from the health memory: its
    last reset, where its Tools heartbeat was last seen green, and since when its current
    boot has been seen booting."""
    memory = memory or HealthMemory()
    policy, reset = model.health, memory.resets.get(name)
    booting = memory.booting_since(name, boot_key(vm, reset)) if vm is not None else None
    return GuestSeen(
        now=now,
        startup_timeout=policy.startup_timeout,
        startup_text=policy.startup_text,
        reset=reset,
        green=memory.green.get(name),
        booting_since=booting,
    )


def _sort_leftovers(
    platform: Platform,
    model: ClusterModel,
    inventories: Inventories,
    nodes: dict[str, dict[str, Any]],
    diagnostics: Diagnostics,
) -> dict[str, dict[str, Any]]:
    """Adopt into ``nodes`` the VMs an interrupted run finished for them; return the other
    VMs with the cluster's marks as strays (leftovers.py). The record is read only when
    there are such VMs."""
    leftovers = leftovers_in(inventories, model.tenant, model.name, nodes)
    if not leftovers:
        return {}
    try:
        record = platform.records().get(CLUSTERS, model.record_key)
    except DiagnosticError as exc:  # without it, nothing can be told finished
        names = ", ".join(f"{v.vm_name} on {v.host}" for v in leftovers)
        diagnostics.warning(
            f"Leftover VMs of cluster {model.tenant}/{model.name} left for now",
            f"{names} carry the cluster's marks but are not its nodes. {exc.diagnostic.detail} "
            "Once the records can be read, the VMs an interrupted run finished are adopted "
            "and the others planned for removal.",
        )
        return {}

    def present(name: str) -> bool:
        return vm_in(inventories.get(nodes[name]["host"]), nodes[name]["vm_id"]) is not None

    found = sort_leftovers(nodes, present, leftovers, record)
    vms = {(v.host, v.vm_id): v for v in leftovers}
    tenant, cluster = model.tenant, model.name
    for name, entry in found.adopted.items():
        vm = vms[(entry["host"], entry["vm_id"])]
        diagnostics.warning(
            f"Node {name} of cluster {tenant}/{cluster}: VM {vm.vm_name} adopted",
            f"VM {vm.vm_name} ({vm.vm_id}) on {vm.host} was made for {name} by a run that was "
            "interrupted before Terraform saved its state; it is that node now.",
        )
    for key, entry in found.strays.items():
        vm = vms[(entry["host"], entry["vm_id"])]
        diagnostics.warning(
            f"Leftover VM {vm.vm_name} of cluster {tenant}/{cluster}",
            f"VM {vm.vm_name} ({vm.vm_id}) on {vm.host} carries the marks of node {vm.node} "
            f"but is not that node ({_why_stray(vm, nodes)}). The plan removes it, as "
            f'nodes["{key}"].',
        )
    nodes.update(found.adopted)
    return found.strays


def _why_stray(vm: Leftover, nodes: Mapping[str, dict[str, Any]]) -> str:
    if not vm.running:
        return "powered off: it was never finished"
    if vm.node in nodes:
        return f"the node is VM {nodes[vm.node]['vm_id']} on {nodes[vm.node]['host']}"
    return "no platform record says a run of this cluster made it"


def _report_down(inventories: Inventories, diagnostics: Diagnostics) -> None:
    for host, inventory in inventories.items():
        if isinstance(inventory, DiagnosticError):
            diagnostics.warning(
                f"Host {host} unreachable: its nodes are reported lost",
                inventory.diagnostic.detail,
            )


def _missing_disks(
    platform: Platform,
    inventories: Inventories,
    nodes: Mapping[str, dict[str, Any]],
    diagnostics: Diagnostics,
) -> set[str]:
    """The disk files of powered-off nodes that are gone. Only a VM that is off can lose
    its disk file (a running one locks it), so a healthy cluster costs no search."""
    from ...esxi.devices import missing_files

    files: dict[str, dict[str, list[str]]] = {}  # host -> datastore -> disk files
    for node in nodes.values():
        inventory = inventories.get(node["host"])
        if inventory is None or isinstance(inventory, DiagnosticError):
            continue
        vm = inventory.vms.get(node["vm_id"])
        for disk in vm.disks if vm is not None and vm.power_state != "poweredOn" else ():
            if disk.datastore:
                stores = files.setdefault(node["host"], {})
                stores.setdefault(disk.datastore, []).append(disk.file)
    found = platform.on_hosts(files, lambda s: missing_files(s, files[s.name]))
    missing: set[str] = set()
    for host, result in found.items():
        if isinstance(result, DiagnosticError):
            diagnostics.warning(f"Disk files on {host} not checked", result.diagnostic.detail)
        else:
            missing |= result
    return missing


def recall_memory(
    platform: Platform, model: ClusterModel, diagnostics: Diagnostics | None = None
) -> HealthMemory | None:
    """The cluster's health memory; None (said in ``diagnostics``, if given) when the
    records cannot be read: the nodes are then judged without it."""
    try:
        return health_memory.recall(platform.records(), model.tenant, model.name)
    except DiagnosticError as exc:
        if diagnostics is not None:
            diagnostics.warning(_NOT_REMEMBERED, f"{exc.diagnostic.detail} {_WITHOUT_MEMORY}")
        return None


def _remember(
    platform: Platform,
    model: ClusterModel,
    memory: HealthMemory,
    seen: Mapping[str, NodeSeen],
    now: datetime.datetime,
    diagnostics: Diagnostics,
) -> None:
    try:
        health_memory.remember(platform.records(), model.tenant, model.name, memory, seen, now)
    except DiagnosticError as exc:
        diagnostics.warning(_NOT_REMEMBERED, f"{exc.diagnostic.detail} {_WITHOUT_MEMORY}")


_NOT_REMEMBERED = "When the unhealthy nodes were first seen was not recorded"
_WITHOUT_MEMORY = (
    "A node's grace period counts from the first refresh that can record it, and a reset "
    "is judged once the records can be read."
)
