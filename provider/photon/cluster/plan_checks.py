"""What a cluster plan checks against the platform before it promises anything: that this
state owns the cluster, the quota for new nodes, room on the tenant's hosts for new and
restored nodes, hosts that allow writes;
and what plan observes there for ``plan_nodes`` (when each unhealthy node was first seen
and last reset)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError, Diagnostics
from ..host_conditions import refuse_writes, skipped_warning
from ..platform import Platform
from ..quota_admission import check, quota_exceeded
from . import health_memory
from .health import HEALTHY
from .hosts import ClusterHosts
from .kubernetes.spec import Node
from .model import ClusterModel, NodeState
from .ownership import check_owner
from .placement import HostRoom, PlacementError, place, skipped
from .plan import DESTROY_ANYWAY, NodePlan, Observed, judged_statuses
from .values import demand_of, has_etcd_ca_key, node_demand

if TYPE_CHECKING:
    from ...esxi.inventory import Inventory
    from ...esxi.session import HostSession

__all__ = ["PlanChecks"]


@dataclass(frozen=True)
class TenantHosts:
    """What the plan's host checks read once: the inventories, and the tenant's hosts as
    placement sees them (room, and the datastore new VMs go to)."""

    inventories: Mapping[str, Inventory]
    rooms: list[HostRoom]
    datastores: Mapping[str, str]


class PlanChecks:
    def __init__(self, platform: Platform, hosts: ClusterHosts) -> None:
        self.platform = platform
        self.hosts = hosts

    def observe(self, prior: ClusterModel | None, model: ClusterModel, private: bytes) -> Observed:
        """The records are read only when a node health judges is unhealthy."""
        if prior is None or prior.nodes is None:
            return Observed()
        statuses = judged_statuses(prior, model)
        if all(s in HEALTHY for s in statuses.values()):
            return Observed()
        memory = health_memory.recall(self.platform.records(), model.tenant, model.name)
        resets = {
            n: r.at
            for n, r in memory.resets.items()
            if n in statuses and prior.nodes[n].vm_id == r.vm_id
        }
        return Observed(memory.unhealthy_since, resets, has_etcd_ca_key(private))

    def check(
        self,
        prior: ClusterModel | None,
        model: ClusterModel,
        plan: NodePlan,
        diagnostics: Diagnostics,
    ) -> None:
        """Room for the restored nodes, the quota and room for the added ones, and writes
        allowed where the plan changes VMs."""
        prior_nodes: Mapping[str, NodeState] = {} if prior is None else prior.nodes or {}
        placed = {n: prior_nodes[n] for n in plan.keep + plan.repair + plan.power_on}
        hosts = functools.cache(lambda: self._tenant_hosts(model))  # once, for every check
        if plan.restore:
            self.room(model, plan.restore, placed, hosts(), diagnostics)
        if plan.add and "tenant" not in model.unknown:
            self.quota(model, list(plan.add), diagnostics)
            if not diagnostics.has_errors:
                added = [n.name for n in plan.add]
                self.room(model, added, placed, hosts(), diagnostics, restoring=False)
        if prior is None or plan.changes:
            writes = set(self.platform.record_hosts) | plan.written_hosts(prior_nodes)
            refuse_writes(self.platform.read_only(writes), writes, diagnostics)
        roles = {n.name: n.role for n in model.desired}
        made = {roles[n] for n in (*plan.restore, *plan.roll) if n in roles}
        made |= {n.role for n in plan.add}
        if made and "tenant" not in model.unknown and not diagnostics.has_errors:
            found = hosts()
            if not isinstance(found, DiagnosticError):  # else said by the room check
                self.images(model, made, found, diagnostics)

    def _tenant_hosts(self, model: ClusterModel) -> TenantHosts | DiagnosticError:
        """The tenant's hosts that may take new nodes, as placement sees them."""
        inventories = self.platform.read_hosts().inventories
        try:
            rooms, datastores = self.hosts.rooms(model.tenant, inventories, model.network)
        except DiagnosticError as exc:
            return exc
        return TenantHosts(inventories, rooms, datastores)

    def images(
        self, model: ClusterModel, roles: set[str], hosts: TenantHosts, diagnostics: Diagnostics
    ) -> None:
        """The base disks the new VMs are copied from must be on the datastore new VMs go to,
        on every host of the tenant that may take one: one search of the image's folder per
        host."""
        from ...esxi.devices import missing_in_folders

        inventories, rooms, datastores = hosts.inventories, hosts.rooms, hosts.datastores
        # image -> the attribute to point at: ``image`` when the workers share it (a
        # worker_image left unset is no line of the configuration).
        wanted = {model.image_for(r): "worker_image" if r == "worker" else "image"
                  for r in sorted(roles, key=lambda r: r != "worker")}  # fmt: skip
        usable = [r.name for r in rooms if r.skip is None and r.name in datastores]

        def look(session: HostSession) -> set[str]:
            name = datastores[session.name]
            moid = next(
                m for m, d in inventories[session.name].datastores.items() if d.name == name
            )
            return missing_in_folders(session, moid, [f"[{name}] {image}" for image in wanted])

        for host, missing in sorted(self.platform.on_hosts(usable, look).items()):
            for path in sorted(missing) if isinstance(missing, set) else ():
                image = path.split("] ", 1)[1]
                diagnostics.error(
                    "Base image missing",
                    f"{image} is not on {path.split(']')[0][1:]}, the datastore of host {host} "
                    "that new nodes go to: the VMs would have no disk to copy. Copy it there "
                    "(every host of the tenant needs it), or correct the path.",
                    Path.root().attr(wanted[image]),
                )

    def owner(self, model: ClusterModel, private: bytes, diagnostics: Diagnostics) -> None:
        """A change is planned only by the state that owns the cluster (ownership.py)."""
        try:
            check_owner(self.platform, model, private)
        except DiagnosticError as exc:
            diagnostics.add(exc.diagnostic)

    def room(
        self,
        model: ClusterModel,
        names: Sequence[str],
        placed: Mapping[str, NodeState],
        hosts: TenantHosts | DiagnosticError,
        diagnostics: Diagnostics,
        *,
        restoring: bool = True,
    ) -> None:
        """Say at plan time when the tenant's usable hosts cannot take the new nodes (or
        those to restore), and which hosts take none."""
        if isinstance(hosts, DiagnosticError):
            diagnostics.add(hosts.diagnostic)
            return
        rooms = hosts.rooms
        skipped_warning(skipped(rooms), diagnostics)
        roles = {n.name: n.role for n in model.desired}
        demands = [node_demand(n, roles[n], model.flavors) for n in names]
        try:
            place(demands, rooms, {n: (v.role, v.host) for n, v in placed.items()})
        except PlacementError as exc:
            what = "restore" if restoring else "place"
            diagnostics.error(
                f"No room to {what} the cluster's nodes",
                f"Placing {', '.join(names)} on the tenant's reachable hosts fails: {exc}. "
                "Bring lost hosts back, free memory or datastore space, add hosts to the "
                "tenant, or choose smaller flavors." + DESTROY_ANYWAY,
            )

    def quota(self, model: ClusterModel, add: list[Node], diagnostics: Diagnostics) -> None:
        """New nodes must fit the quota, said at plan."""
        path = Path.root().attr("worker_count")
        try:
            decision = check(self.platform, model.tenant, demand_of(add, model.flavors))
            if decision.allowed:
                return
            refusal = quota_exceeded(model.tenant, decision, path).diagnostic
        except DiagnosticError as exc:
            refusal = exc.diagnostic
        diagnostics.error(refusal.summary, refusal.detail + DESTROY_ANYWAY, path)
