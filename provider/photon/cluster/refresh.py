"""Refresh of photon_k8s_cluster: every node's status from one inventory read per host.

Each node gets its status (the drift guide's table, ``values.node_status``) and a warning
says what is wrong; VMs with the cluster's marks that are none of its nodes are reported;
and the time each unhealthy node was first seen so goes to the platform records, for the
grace period (``unhealthy_since``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.api import ReadResponse
from ...bridge.cty import Value
from ...bridge.diagnostics import DiagnosticError, Diagnostics
from ..platform import Platform
from . import unhealthy_since
from .model import ClusterModel
from .schema import NODES_TYPE
from .values import node_status

if TYPE_CHECKING:
    from ...esxi.inventory import Inventory

__all__ = ["refresh"]

Inventories = Mapping[str, "Inventory | DiagnosticError"]


def refresh(platform: Platform, state: Value, response: ReadResponse) -> None:
    model = ClusterModel.decode(state)
    tenant, cluster = model.tenant, model.name
    nodes = {n: v.as_dict() for n, v in (model.nodes or {}).items()}
    inventories = platform.inventories(platform.host_names)
    missing = _missing_disks(platform, inventories, nodes, response.diagnostics)
    for name, node in nodes.items():
        found = node_status(
            inventories.get(node["host"]), node, tenant, cluster, name, model.network, missing
        )
        node["status"], node["mac"] = found.status, found.mac or node.get("mac")
        if found.why:
            response.diagnostics.warning(
                f"Node {name} of cluster {tenant}/{cluster}: {found.status}",
                f"On {node['host']}, {found.why}. The plan shows what is done about it "
                "(see the drift guide for each status).",
            )
    _report_unmanaged(model, inventories, nodes, response.diagnostics)
    _remember_unhealthy(platform, model, nodes, response.diagnostics)
    response.new_state = state.with_attributes({"nodes": Value.from_python(NODES_TYPE, nodes)})


def _report_unmanaged(
    model: ClusterModel,
    inventories: Inventories,
    nodes: Mapping[str, dict[str, Any]],
    diagnostics: Diagnostics,
) -> None:
    """VMs with the cluster's marks that are none of its nodes; and hosts that do not answer."""
    tenant, cluster = model.tenant, model.name
    # VM ids are per host (each standalone host counts its own vm-N): match both.
    known = {(node["host"], node["vm_id"]) for node in nodes.values()}
    for host, inventory in inventories.items():
        if isinstance(inventory, DiagnosticError):
            diagnostics.warning(
                f"Host {host} unreachable: its nodes are reported lost",
                inventory.diagnostic.detail,
            )
            continue
        for vm in inventory.vms.values():
            marks = vm.marks
            ours = (marks.get("tenant"), marks.get("cluster")) == (tenant, cluster)
            if ours and (host, vm.moid) not in known:
                diagnostics.warning(
                    f"Unmanaged VM with the marks of cluster {tenant}/{cluster}",
                    f"VM {vm.name} ({vm.moid}) on {host} carries the marks of node "
                    f"{marks.get('node', '?')} but is not one of the cluster's nodes "
                    "(left by an interrupted run, replaced while its host was away, "
                    "or made by hand). It is left alone: delete it if it is not needed.",
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


def _remember_unhealthy(
    platform: Platform,
    model: ClusterModel,
    nodes: Mapping[str, dict[str, Any]],
    diagnostics: Diagnostics,
) -> None:
    statuses = {n: v["status"] for n, v in nodes.items()}
    now = datetime.datetime.now(datetime.UTC)
    try:
        unhealthy_since.remember(platform.records(), model.tenant, model.name, statuses, now)
    except DiagnosticError as exc:  # the nodes' statuses stand without it
        diagnostics.warning(
            "When the unhealthy nodes were first seen was not recorded",
            f"{exc.diagnostic.detail} A powered-off node's grace period counts from the "
            "first refresh that can record it.",
        )
