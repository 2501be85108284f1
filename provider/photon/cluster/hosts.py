"""A cluster's nodes on the ESXi hosts: where they can go, making and removing their VMs,
and refusing leftovers. Used by photon_k8s_cluster for create, growth, rolls and restores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError
from ..host_conditions import host_skip, vm_datastore
from ..names import pool_name
from ..platform import Platform
from .guest import REPORTS_MARK
from .kubernetes.spec import Node
from .leftovers import leftovers_in, unfinished
from .model import ClusterModel
from .placement import HostRoom, PlacementError, place
from .values import POWERED_OFF, READY, b64, has_peers, node_demand, node_vm_name

if TYPE_CHECKING:
    from ...esxi.errors import EsxiError
    from ...esxi.inventory import Inventory
    from ...esxi.session import HostSession
    from ...esxi.vms import VmSpec
    from .kubernetes.pki import ClusterPki

__all__ = ["ClusterHosts", "Intent"]

Intent = dict[str, dict[str, Any]]  # VM name -> node, role, ip, host, datastore


class ClusterHosts:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def create_nodes(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        batch: list[Node],
        existing: Mapping[str, dict[str, Any]],
        stop: threading.Event,
        intend: Callable[[Intent], None],
        *,
        restoring: bool = False,
    ) -> tuple[dict[str, dict[str, Any]], list[DiagnosticError]]:
        """The nodes that now exist, and what went wrong. ``intend`` is told which VMs are
        about to be made, where, before any is (it records them: leftovers.py).
        ``restoring``: the nodes replace lost ones in a running cluster, so their VMs get a
        new name (the remnant may still exist) and their bootstrap data joins the cluster
        instead of founding it."""
        from ...esxi.vms import create_vms

        inventories = self.platform.read_hosts().inventories  # a silent host gets no node
        rooms, datastores = self.rooms(model.tenant, inventories, model.network)
        where = self._place(model, batch, existing, rooms)
        specs_by_host: dict[str, list[VmSpec]] = {}
        by_vm_name: dict[str, Node] = {}
        intent: Intent = {}
        for node in batch:
            host = where[node.name]
            pool = inventories[host].child_named(pool_name(model.tenant)).moid  # type: ignore[union-attr]
            joining = restoring and has_peers(node, existing)
            vm = _vm_spec(model, pki, node, pool, datastores[host], restoring, joining)
            specs_by_host.setdefault(host, []).append(vm)
            by_vm_name[vm.name] = node
            intent[vm.name] = {"node": node.name, "role": node.role, "ip": node.ip,
                               "host": host, "datastore": vm.datastore}  # fmt: skip
        intend(intent)

        def make(session: HostSession) -> dict[str, Any]:
            return create_vms(session, specs_by_host[session.name], stop)

        outcomes = self.platform.on_hosts(specs_by_host, make)
        return self._made(model, specs_by_host, by_vm_name, outcomes)

    @staticmethod
    def _place(
        model: ClusterModel,
        batch: list[Node],
        existing: Mapping[str, dict[str, Any]],
        rooms: list[HostRoom],
    ) -> dict[str, str]:
        placed = {n: (v["role"], v["host"]) for n, v in existing.items()}
        demands = [node_demand(n.name, n.role, model.flavors) for n in batch]
        try:
            return place(demands, rooms, placed)
        except PlacementError as exc:
            raise DiagnosticError(
                "No room for the cluster's nodes",
                f"Placing the nodes of {model.tenant}/{model.name} failed: {exc}. Free memory "
                "or datastore space on the tenant's hosts, add hosts to the tenant, or "
                "choose smaller flavors.",
            ) from exc

    def _made(
        self,
        model: ClusterModel,
        specs_by_host: Mapping[str, list[VmSpec]],
        by_vm_name: Mapping[str, Node],
        outcomes: Mapping[str, Any],
    ) -> tuple[dict[str, dict[str, Any]], list[DiagnosticError]]:
        """Each VM that exists, even if a later step failed, as a node; and the errors."""
        made: dict[str, dict[str, Any]] = {}
        errors: list[DiagnosticError] = []
        for host, outcome in outcomes.items():
            if isinstance(outcome, DiagnosticError):
                errors.append(outcome)
                continue
            for vm_spec in specs_by_host[host]:
                node, created = by_vm_name[vm_spec.name], outcome[vm_spec.name]
                if created.moid is not None:  # it exists, even if a later step failed
                    made[node.name] = {
                        "role": node.role, "host": host, "vm_id": created.moid, "ip": node.ip,
                        "mac": created.mac,
                        "status": READY if created.error is None else POWERED_OFF,
                        **model.build_for(node.role).as_dict(),
                    }  # fmt: skip
                if created.error is not None:
                    cause = self.platform.explain(created.error).diagnostic
                    errors.append(
                        DiagnosticError(
                            f"Node {node.name} of cluster {model.name}: {cause.summary}",
                            cause.detail,
                        )
                    )
        return made, errors

    def rooms(
        self, tenant: str, inventories: Mapping[str, Inventory], network: str
    ) -> tuple[list[HostRoom], dict[str, str]]:
        """Each reachable host of the tenant that has the cluster's port group (a node
        anywhere else would have no network): its free memory, the free space of the
        datastore its VMs go to (the first accessible one by name), and why it may take no
        new node (``host_skip``); and that datastore's name per host."""
        from ...esxi.capacity import read_capacity

        tenant_hosts = [h for h, inv in inventories.items() if inv.child_named(pool_name(tenant))]
        if not tenant_hosts:
            raise DiagnosticError(
                "Tenant has no hosts",
                f"Tenant {tenant!r} has no resource pool on any reachable host; create it "
                "first, or bring its hosts back.",
                Path.root().attr("tenant"),
            )
        tenant_hosts = [h for h in tenant_hosts if network in inventories[h].networks]
        if not tenant_hosts:
            raise DiagnosticError(
                "Port group missing",
                f"No reachable host of tenant {tenant!r} has port group {network!r}. Create "
                "it on the hosts (a standard vSwitch port group), or set network to one "
                "they have.",
                Path.root().attr("network"),
            )
        read_only = self.platform.read_only(tenant_hosts)
        rooms, datastores = [], {}
        for host, capacity in self.platform.on_hosts(tenant_hosts, read_capacity).items():
            if isinstance(capacity, DiagnosticError):
                continue  # an unreachable host gets no new node
            inventory = inventories[host]
            store = vm_datastore(inventory)
            promised = sum(vm.memory_mb for vm in inventory.vms.values()) / 1024
            rooms.append(
                HostRoom(
                    host,
                    capacity.memory_bytes / 1024**3 - promised,
                    store.free_bytes / 1024**3 if store else 0.0,
                    host_skip(inventory, read_only.get(host)),
                )
            )
            if store is not None:
                datastores[host] = store.name
        return rooms, datastores

    def refuse_leftovers(
        self, model: ClusterModel, batch: list[Node], inventories: Mapping[str, Inventory]
    ) -> None:
        """A VM with this cluster's marks for a node we are about to create is reported,
        never silently adopted or deleted."""
        wanted = {n.name for n in batch}
        for vm in leftovers_in(inventories, model.tenant, model.name, {}):
            if vm.node in wanted:
                raise DiagnosticError(
                    "Leftover VM of this cluster",
                    f"VM {vm.vm_name} ({vm.vm_id}) on {vm.host} carries the marks of node "
                    f"{vm.node} of cluster {model.tenant}/{model.name} but is not in "
                    "Terraform's state. A refresh adopts it or plans its removal: run "
                    "`terraform apply` again, without -refresh=false. (If the cluster has "
                    "no platform record, no run of ours can tell it is finished: delete "
                    "it.)",
                )

    def clear_unfinished(self, intent: Intent, stop: threading.Event) -> None:
        """Remove the folders of VMs an interrupted run meant to make and never made (the
        record's stale intent): they may hold a copied disk that nothing else would remove.
        Called under the platform lock, so no run is making them now."""
        from ...esxi.vms import remove_folders

        folders = unfinished(intent, self.platform.read_hosts().inventories)
        self.platform.on_hosts(folders, lambda s: remove_folders(s, folders[s.name], stop))

    def destroy(
        self,
        tenant: str,
        cluster: str,
        names: list[str],
        nodes: Mapping[str, dict[str, Any]],
        stop: threading.Event,
    ) -> dict[str, DiagnosticError | None]:
        """Each named node's VM destroyed (a node without a VM: nothing to do); each node's
        error, or None."""
        from ...esxi.vms import destroy_vms

        with_vm = [n for n in names if nodes[n].get("vm_id")]
        done = self.on_node_vms(with_vm, nodes, lambda s, moids: destroy_vms(s, moids, stop))
        return {n: done.get(n) for n in names}

    def on_node_vms(
        self,
        names: Sequence[str],
        nodes: Mapping[str, Mapping[str, Any]],
        work: Callable[[HostSession, list[str]], Mapping[str, EsxiError | None]],
    ) -> dict[str, DiagnosticError | None]:
        """Run ``work`` on the named nodes' VMs, one call per host with its VM ids (VM id ->
        error); each node's error, or None. A host that fails fails its nodes."""
        by_host: dict[str, list[str]] = {}
        for name in names:
            by_host.setdefault(nodes[name]["host"], []).append(name)

        def on_host(session: HostSession) -> Mapping[str, EsxiError | None]:
            return work(session, [nodes[n]["vm_id"] for n in by_host[session.name]])

        outcomes = self.platform.on_hosts(by_host, on_host)
        result: dict[str, DiagnosticError | None] = {}
        for name in names:
            outcome = outcomes[nodes[name]["host"]]
            error = (
                outcome if isinstance(outcome, DiagnosticError) else outcome[nodes[name]["vm_id"]]
            )
            result[name] = None if error is None else _as_diagnostic(self.platform, error)
        return result


def _as_diagnostic(platform: Platform, error: DiagnosticError | EsxiError) -> DiagnosticError:
    return error if isinstance(error, DiagnosticError) else platform.explain(error)


def _vm_spec(
    model: ClusterModel,
    pki: ClusterPki,
    node: Node,
    pool: str,
    datastore: str,
    restoring: bool,
    joining: bool,
) -> VmSpec:
    """A node's VM: sized by its role's flavor, marked as the cluster's, with its boot data
    (a restored node's VM gets a new name: the remnant may still exist)."""
    from ...esxi.vms import VmSpec
    from .kubernetes.cloudinit import metadata, userdata

    spec, flavor = model.spec, model.flavors[node.role]
    vm_name = node_vm_name(spec.tenant, spec.name, node.name)
    if restoring:
        vm_name += f"-r{int(time.time() * 1000) % 10**9}"
    extra = {
        "photon.tenant": spec.tenant,
        "photon.cluster": spec.name,
        "photon.role": node.role,
        "photon.node": node.name,
        f"photon.{REPORTS_MARK}": "true",  # its boot data runs the readiness report
        # Its build, which refresh reads back: an upgrade rolls the nodes whose build differs.
        "photon.version": spec.kubernetes_version,
        "photon.image": model.image_for(node.role),
        "photon.flavor": flavor.label,
        # The report is a guestinfo variable the guest sets; old hardening guides block that.
        "isolation.tools.setinfo.disable": "FALSE",
        "guestinfo.userdata": b64(userdata(spec, node, pki, joining=joining)),
        "guestinfo.userdata.encoding": "base64",
        "guestinfo.metadata": b64(metadata(spec, node, vm_name)),
        "guestinfo.metadata.encoding": "base64",
    }
    return VmSpec(
        name=vm_name,
        pool=pool,
        datastore=datastore,
        image=model.image_for(node.role),
        vcpu=flavor.vcpu,
        memory_mb=int(flavor.memory_gb * 1024),
        disk_gb=flavor.disk_gb,
        network=model.network,
        extra_config=extra,
        annotation=f"Photon {node.role} {node.name} of cluster {spec.tenant}/{spec.name}",
    )
