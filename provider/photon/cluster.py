"""photon_k8s_cluster: a Kubernetes cluster as one resource.

Plan works out which nodes the configuration wants (and, after a failed run, which are still
missing) and checks the tenant's quota for them. Apply admits the new nodes under the platform
lock, places them over the tenant's hosts, creates their VMs concurrently from the base disk
with ownership marks and cloud-init data, and records the result; whatever exists after a
failure is returned, so the next apply completes the cluster without duplicates.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..bridge.api import (
    ApplyRequest,
    ApplyResponse,
    ImportResponse,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    Resource,
)
from ..bridge.cty import UNKNOWN, Path, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.logs import log_context
from ..bridge.notation import parse_duration
from ..bridge.schema import Schema
from ..esxi.errors import EsxiError
from . import unhealthy_since
from .cluster_hosts import ClusterHosts
from .cluster_nodes import node_changes
from .cluster_schema import NODES_TYPE, SCHEMA, TYPE_NAME
from .cluster_values import (
    READY,
    cluster_spec,
    demand_of,
    desired_from,
    flavors_of,
    has_etcd_ca_key,
    health_policy,
    known_in,
    load_pki,
    node_demand,
    node_status,
    nodes_plannable,
    rolls,
    worker_batches,
)
from .errors import host_error
from .health import (
    HOST_MAINTENANCE,
    NETWORK_LOST,
    HealthPlan,
    HealthPolicy,
    judge_control_plane,
    plan_health,
)
from .host_conditions import refuse_writes, skipped_warning
from .kubernetes.spec import Node
from .names import is_name
from .placement import PlacementError, place, skipped
from .platform import Platform
from .quota_admission import admitted, check, quota_exceeded
from .records import CLUSTERS

if TYPE_CHECKING:
    from ..esxi.inventory import Inventory
    from ..esxi.session import HostSession
    from .kubernetes.pki import ClusterPki

__all__ = ["ClusterResource"]

log = logging.getLogger("provider.photon")

NEW_VM = {"host": UNKNOWN, "vm_id": UNKNOWN, "mac": UNKNOWN}  # a node planned on a new VM

# Terraform plans the configuration before `terraform destroy` (a normal plan), so every
# refusal at plan would also stop the destroy of the very cluster it is about.
DESTROY_ANYWAY = (
    " (To destroy this configuration instead, run `terraform destroy -refresh=false`: "
    "Terraform plans the configuration before a destroy.)"
)


def _default(name: str) -> int:
    return SCHEMA.block.attribute(name).default


class ClusterResource(Resource):
    type_name: ClassVar[str] = TYPE_NAME
    schema: ClassVar[Schema] = SCHEMA

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.hosts = ClusterHosts(platform)

    # -- validate ---------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Value, diagnostics: Diagnostics) -> None:
        """Rules over more than one attribute; the schema's validators check each alone."""
        counts = {
            "master": (known_in(config, "master_count"), _default("master_count"), "master_ips"),
            "etcd": (known_in(config, "etcd_count"), _default("etcd_count"), "etcd_ips"),
        }
        for role, (count, default, ips_name) in counts.items():
            ips = known_in(config, ips_name)
            if count is UNKNOWN or ips is UNKNOWN:
                continue
            count = default if count is None else count
            if len(ips or []) != count:
                diagnostics.error(
                    f"Wrong number of {role} addresses",
                    f"{ips_name} has {len(ips or [])} addresses for {count} {role} VMs; give "
                    "one static address per VM.",
                    Path.root().attr(ips_name),
                )
        workers, pool = known_in(config, "worker_count"), known_in(config, "worker_ips")
        if workers is not UNKNOWN and pool not in (UNKNOWN, None):
            workers = _default("worker_count") if workers is None else workers
            if len(pool) < workers:
                diagnostics.error(
                    "Worker address pool too small",
                    f"worker_ips has {len(pool)} addresses for {workers} workers; add "
                    "addresses, or leave worker_ips unset for DHCP.",
                    Path.root().attr("worker_ips"),
                )
        if config["netmask"].is_null:
            diagnostics.error(
                "Netmask needed",
                "The nodes have static addresses (master_ips); set netmask (and gateway).",
                Path.root().attr("netmask"),
            )

    # -- plan -------------------------------------------------------------------------

    def modify_plan(self, request: PlanRequest, response: PlanResponse) -> None:
        planned = response.planned_state  # with the schema's defaults
        if request.config["worker_image"].is_null:
            planned = planned.with_attributes({"worker_image": planned["image"]})
        ips = planned["master_ips"]
        if ips.is_fully_known() and ips.to_python():
            endpoint = f"https://{ips.to_python()[0]}:6443"
            planned = planned.with_attributes(
                {"api_endpoint": Value.from_python(planned.type.attrs["api_endpoint"], endpoint)}
            )  # type: ignore[attr-defined]
        if not request.creating:  # secrets and certificates stay as they are
            planned = planned.with_attributes(
                {k: request.prior_state[k] for k in ("id", "ca_certificate", "kubeconfig")}
            )
        response.planned_state = planned
        if not nodes_plannable(planned):
            return  # the nodes stay "known after apply"
        prior_nodes = {} if request.creating else (request.prior_state["nodes"].to_python() or {})
        desired = desired_from(planned)
        change = node_changes(desired, prior_nodes)
        nodes = {k: dict(v) for k, v in prior_nodes.items() if k not in change.remove}
        if not request.creating and rolls(request.prior_state, planned):
            for node in nodes.values():  # each worker is replaced, one at a time
                if node["role"] == "worker":
                    node.update(NEW_VM)
        for node in change.add:
            nodes[node.name] = {"role": node.role, "ip": node.ip, "status": READY, **NEW_VM}
        if not request.creating:
            self._plan_health(planned, request.prior_private, nodes, response.diagnostics)
        # On create the map stays "known after apply": a cluster created with a worker
        # missing (see create) must still match its plan.
        if nodes != prior_nodes and not request.creating:
            planned = planned.with_attributes({"nodes": Value.from_python(NODES_TYPE, nodes)})
        response.planned_state = planned
        if change.add and planned["tenant"].is_known:
            self._check_quota(planned, change.add, response.diagnostics)
            if not response.diagnostics.has_errors:
                added = [n.name for n in change.add]
                self._check_room(planned, added, nodes, response.diagnostics, restoring=False)
        if nodes != prior_nodes or request.creating:
            self._check_writable(prior_nodes, nodes, response.diagnostics)

    def _plan_health(
        self,
        planned: Value,
        private: bytes,
        nodes: dict[str, dict[str, Any]],
        diagnostics: Diagnostics,
    ) -> None:
        """Plan the restoration of unhealthy nodes (same name and role, new VM) as the
        health policy says; healthy nodes stay as they are. What cannot rejoin the cluster
        is refused here, before any VM is made."""
        policy = health_policy(planned)
        statuses = {n: v["status"] for n, v in nodes.items() if v.get("vm_id") is not UNKNOWN}
        if all(s == READY for s in statuses.values()):
            return
        tenant, cluster = planned["tenant"].to_python(), planned["name"].to_python()
        since = unhealthy_since.recall(self.platform.records(), tenant, cluster)
        now = datetime.datetime.now(datetime.UTC)
        health = plan_health(statuses, since, now, policy)
        self._report_health(policy, health, statuses, since, now, diagnostics)
        self._keep_unrestorable(private, nodes, health, diagnostics)
        roles = {n: nodes[n]["role"] for n in statuses}
        verdict = judge_control_plane(roles, statuses, health, policy)
        if verdict.refusal:
            diagnostics.error(
                "Control plane cannot be restored",
                verdict.refusal + DESTROY_ANYWAY,
                Path.root().attr("health"),
            )
            return
        if verdict.rebuild:
            diagnostics.warning("All cluster state will be lost", verdict.rebuild)
        for name in health.restore:
            nodes[name].update(status=READY, **NEW_VM)
        for name in health.power_on + health.repair:
            nodes[name]["status"] = READY
        if health.restore:
            self._check_room(planned, health.restore, nodes, diagnostics)

    @staticmethod
    def _report_health(
        policy: HealthPolicy,
        health: HealthPlan,
        statuses: Mapping[str, str],
        since: Mapping[str, datetime.datetime],
        now: datetime.datetime,
        diagnostics: Diagnostics,
    ) -> None:
        if health.held_back:
            diagnostics.warning("Unhealthy nodes not restored", health.held_back)
        unhealthy = sorted(n for n, s in statuses.items() if s != READY)
        if not policy.enabled:
            diagnostics.warning(
                "Unhealthy nodes not restored",
                f"{', '.join(unhealthy)}: health.enabled is false, so they are only reported.",
            )
        for name in health.waiting:
            off = int((now - since.get(name, now)).total_seconds())
            if statuses[name] == NETWORK_LOST:
                diagnostics.warning(
                    f"Node {name} has lost its network",
                    f"It has been seen so for {off}s; its NIC is put back in place once "
                    f"that has lasted {policy.grace_text} (health.grace_period).",
                )
                continue
            replaced = (
                f"it is replaced once it has been off for {policy.grace_text} (health.grace_period)"
            )
            if statuses[name] == HOST_MAINTENANCE:
                diagnostics.warning(
                    f"Node {name} is on a host in maintenance mode",
                    f"Its VM has been seen off for {off}s on a host being serviced; {replaced}, "
                    "on another host. Take the host out of maintenance mode and power the VM "
                    "on before then to keep it.",
                )
                continue
            diagnostics.warning(
                f"Node {name} is powered off",
                f"It has been seen off for {off}s; {replaced}; set health.power_on = true to "
                "power it on instead.",
            )

    @staticmethod
    def _keep_unrestorable(
        private: bytes,
        nodes: Mapping[str, dict[str, Any]],
        health: HealthPlan,
        diagnostics: Diagnostics,
    ) -> None:
        """An imported cluster whose records predate the etcd CA key cannot issue a new etcd
        member's certificate: say so, and restore everything else."""
        members = [n for n in health.restore if nodes[n]["role"] == "etcd"]
        if not members or has_etcd_ca_key(private):
            return
        for name in members:
            health.restore.remove(name)
        diagnostics.warning(
            "etcd members cannot be restored",
            f"{', '.join(members)}: this cluster was imported from records that do not hold "
            "its etcd CA key, so no certificate can be issued for a new member. Restore the "
            "Terraform state that created the cluster (its private data holds the key), or "
            "replace the etcd members by hand; the other nodes are restored.",
            Path.root().attr("nodes"),
        )

    def _check_room(
        self,
        planned: Value,
        names: list[str],
        nodes: Mapping[str, dict[str, Any]],
        diagnostics: Diagnostics,
        *,
        restoring: bool = True,
    ) -> None:
        """Say at plan time when the tenant's usable hosts cannot take the new nodes (or
        those to restore), and which hosts take none."""
        flavors = flavors_of(planned)
        try:
            rooms, _ = self.hosts.rooms(
                planned["tenant"].to_python(),
                self.platform.read_hosts().inventories,
                planned["network"].to_python(),
            )
        except DiagnosticError as exc:
            diagnostics.add(exc.diagnostic)
            return
        skipped_warning(skipped(rooms), diagnostics)
        placed = {n: (v["role"], v["host"]) for n, v in nodes.items() if v["host"] is not UNKNOWN}
        demands = [node_demand(n, nodes[n]["role"], flavors) for n in names]
        try:
            place(demands, rooms, placed)
        except PlacementError as exc:
            what = "restore" if restoring else "place"
            diagnostics.error(
                f"No room to {what} the cluster's nodes",
                f"Placing {', '.join(names)} on the tenant's reachable hosts fails: {exc}. "
                "Bring lost hosts back, free memory or datastore space, add hosts to the "
                "tenant, or choose smaller flavors." + DESTROY_ANYWAY,
            )

    def _check_writable(
        self,
        prior: Mapping[str, dict[str, Any]],
        nodes: Mapping[str, dict[str, Any]],
        diagnostics: Diagnostics,
    ) -> None:
        """The hosts this plan changes VMs on (nodes removed, rolled, powered on) and the
        records host must allow API writes; new nodes avoid read-only hosts by placement.
        The remnant of a lost node is not counted: leaving it is only a warning."""
        writes = set(self.platform.record_hosts)
        for name, old in prior.items():
            new = nodes.get(name)
            if new is None or (new["vm_id"] is UNKNOWN and old["status"] == READY):
                writes.add(old["host"])  # destroyed: removed, or a worker rolled
            elif new["vm_id"] is not UNKNOWN and new["status"] != old["status"]:
                writes.add(old["host"])  # powered on
        refuse_writes(self.platform.read_only(writes), writes, diagnostics)

    def _check_quota(self, planned: Value, add: list[Node], diagnostics: Diagnostics) -> None:
        """New nodes must fit the quota, said at plan."""
        tenant = planned["tenant"].to_python()
        path = Path.root().attr("worker_count")
        try:
            decision = check(self.platform, tenant, demand_of(add, flavors_of(planned)))
            if decision.allowed:
                return
            refusal = quota_exceeded(tenant, decision, path).diagnostic
        except DiagnosticError as exc:
            refusal = exc.diagnostic
        diagnostics.error(refusal.summary, refusal.detail + DESTROY_ANYWAY, path)

    # -- apply ------------------------------------------------------------------------

    def create(self, request: ApplyRequest, response: ApplyResponse) -> None:
        from .kubernetes.pki import make_cluster_pki

        planned = request.planned_state
        pki = make_cluster_pki(planned["name"].to_python())
        response.private = json.dumps({"pki": pki.to_json()}).encode()
        nodes: dict[str, dict[str, Any]] = {}
        try:
            with self._timeout(planned, "create") as stop:
                self._converge(planned, pki, nodes, stop, response)
        finally:  # whatever happened, the nodes that exist are in the state
            # A create that made nothing (refused by the quota, say) leaves no state, so
            # no tainted cluster waits to be replaced, or blocks `terraform destroy`.
            response.new_state = (
                self._state(planned, pki, nodes) if nodes else Value.null(planned.type)
            )
        control_plane = [n.name for n in desired_from(planned) if n.role != "worker"]
        standing = all(nodes.get(n, {}).get("status") == READY for n in control_plane)
        if response.diagnostics.has_errors and standing:
            # Terraform taints a resource whose create failed, and would replace the whole
            # cluster next time. With its control plane up, the cluster stands: report the
            # missing workers as warnings; the next plan shows them and apply adds them.
            missing = len(desired_from(planned)) - len(nodes)
            response.diagnostics.demote_errors(
                f"The cluster was created with {missing} worker(s) missing; the next "
                "`terraform apply` adds them (`terraform plan -detailed-exitcode` exits 2 "
                "until then)."
            )

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None:
        planned = request.planned_state
        pki = load_pki(request.planned_private)
        prior = request.prior_state
        nodes = prior["nodes"].to_python() or {}
        old_workers = [n for n, v in nodes.items() if v["role"] == "worker"]
        roll = rolls(prior, planned)
        try:
            with self._timeout(planned, "update") as stop:
                self._converge(planned, pki, nodes, stop, response)
                if roll and not response.diagnostics.has_errors:
                    rolling = [n for n in old_workers if n in nodes]
                    self._roll_workers(planned, pki, rolling, nodes, stop, response)
                if not response.diagnostics.has_errors:
                    self._heal(request, pki, nodes, stop, response)
        finally:  # whatever happened, the nodes that exist are in the state
            response.new_state = self._state(planned, pki, nodes)

    def _converge(
        self,
        planned: Value,
        pki: ClusterPki,
        nodes: dict[str, dict[str, Any]],
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Create missing nodes and remove unwanted ones, keeping ``nodes`` (the nodes that
        exist) current at every step, so a failure anywhere still reports them."""
        tenant, name = planned["tenant"].to_python(), planned["name"].to_python()
        spec, flavors = cluster_spec(planned), flavors_of(planned)
        change = node_changes(desired_from(planned), nodes)
        diagnostics = response.diagnostics
        if change.remove:
            for node, error in self.hosts.destroy(tenant, name, change.remove, nodes, stop).items():
                if error is None:
                    nodes.pop(node)
                else:
                    diagnostics.add(error.diagnostic)
        if change.add:
            purpose = f"grow cluster {tenant}/{name}"
            try:
                with admitted(self.platform, tenant, demand_of(change.add, flavors), purpose):
                    # Before anything is made: a leftover VM of this cluster is an error.
                    self.hosts.refuse_leftovers(
                        spec, change.add, self.platform.read_hosts().inventories
                    )
                    batches = worker_batches(
                        change.add, int(planned["worker_batch_size"].to_python())
                    )
                    for batch in batches:
                        made, errors = self.hosts.create_nodes(
                            spec, pki, flavors, planned, batch, nodes, stop
                        )
                        nodes.update(made)  # recorded even when a later step failed
                        for error in errors:
                            diagnostics.add(error.diagnostic)
                        if errors:
                            break
                    self._write_record(planned, pki, nodes)
            except DiagnosticError as exc:
                diagnostics.add(exc.diagnostic)
        elif change.remove:
            with self.platform.records().locked(f"shrink cluster {tenant}/{name}"):
                self._write_record(planned, pki, nodes)

    def _heal(
        self,
        request: ApplyRequest,
        pki: ClusterPki,
        nodes: dict[str, dict[str, Any]],
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Carry out the plan's restorations: power on what the plan powers on and put back
        the NICs it repairs (same VM); replace what it restores with a new VM (etcd members
        and masters one at a time, so quorum holds), and only then destroy the remnant."""
        from ..esxi.devices import NicRepair, repair_nics
        from ..esxi.vms import power_on_vms

        planned = request.planned_state
        prior = request.prior_state["nodes"].to_python() or {}
        restore, in_place = [], []
        for name, node in (planned["nodes"].payload or {}).items():
            was = prior.get(name)
            if was is None or was["status"] == READY:
                continue
            if not node["vm_id"].is_known:
                restore.append(name)
            elif node["status"].to_python() == READY:  # (not: a node the plan leaves as is)
                in_place.append(name)
        network = planned["network"].to_python()
        repairs = {
            n: NicRepair(network, nodes[n].get("mac"))
            for n in in_place
            if prior[n]["status"] == NETWORK_LOST
        }
        self._on_node_vms(
            [n for n in in_place if n not in repairs], nodes, response,
            lambda session, names: power_on_vms(session, [nodes[n]["vm_id"] for n in names], stop),
        )  # fmt: skip
        self._on_node_vms(
            list(repairs), nodes, response,
            lambda session, names: repair_nics(
                session, {nodes[n]["vm_id"]: repairs[n] for n in names}, stop
            ),
        )  # fmt: skip
        order = {"etcd": 0, "master": 1, "worker": 2}
        control = sorted(
            (n for n in restore if nodes[n]["role"] != "worker"),
            key=lambda n: (order[nodes[n]["role"]], n),
        )
        workers = [n for n in restore if nodes[n]["role"] == "worker"]
        size = int(planned["worker_batch_size"].to_python())
        for group in [[n] for n in control] + [
            workers[i : i + size] for i in range(0, len(workers), size)
        ]:
            if not self._restore(planned, pki, group, nodes, stop, response):
                return

    def _on_node_vms(
        self,
        names: list[str],
        nodes: dict[str, dict[str, Any]],
        response: ApplyResponse,
        work: Callable[[HostSession, list[str]], Mapping[str, EsxiError | None]],
    ) -> None:
        """Run ``work`` on the named nodes' VMs, per host (VM moid -> error); a node it
        succeeds for is ready, a failure is reported."""
        by_host: dict[str, list[str]] = {}
        for name in names:
            by_host.setdefault(nodes[name]["host"], []).append(name)
        results = self.platform.on_hosts(
            by_host, lambda session: work(session, by_host[session.name])
        )
        for name in names:
            outcome = results[nodes[name]["host"]]
            error = (
                outcome if isinstance(outcome, DiagnosticError) else outcome[nodes[name]["vm_id"]]
            )
            if error is None:
                nodes[name]["status"] = READY
            elif isinstance(error, DiagnosticError):
                response.diagnostics.add(error.diagnostic)
            else:
                response.diagnostics.add(self.platform.explain(error).diagnostic)

    def _restore(
        self,
        planned: Value,
        pki: ClusterPki,
        names: list[str],
        nodes: dict[str, dict[str, Any]],
        stop: threading.Event,
        response: ApplyResponse,
    ) -> bool:
        """Replace ``names`` with new VMs; False after a failure (``nodes`` stays current)."""
        tenant, cluster = planned["tenant"].to_python(), planned["name"].to_python()
        spec, flavors = cluster_spec(planned), flavors_of(planned)
        lost = {n: nodes.pop(n) for n in names}
        batch = [Node(n, v["role"], v["ip"]) for n, v in lost.items()]
        made, errors = self.hosts.create_nodes(
            spec, pki, flavors, planned, batch, nodes, stop, restoring=True
        )
        nodes.update(made)
        for name, old in lost.items():
            if name not in made:
                nodes[name] = old  # not replaced: keep tracking the old one
                continue
            remnant = self.hosts.destroy(tenant, cluster, [name], {name: old}, stop)[name]
            if remnant is not None:
                response.diagnostics.warning(
                    f"The remnant of node {name} was left",
                    f"{remnant.diagnostic.detail} The node was restored; its old VM "
                    f"{old['vm_id']} on {old['host']} is reported as unmanaged until it is "
                    "deleted.",
                )
        with self.platform.records().locked(f"restore nodes of {tenant}/{cluster}"):
            self._write_record(planned, pki, nodes)
        for failure in errors:
            response.diagnostics.add(failure.diagnostic)
        return not errors

    def _roll_workers(
        self,
        planned: Value,
        pki: ClusterPki,
        names: list[str],
        nodes: dict[str, dict[str, Any]],
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Replace workers one at a time with the new flavor: never more than one worker
        away because of us. Stops at the first failure, with ``nodes`` current."""
        tenant, cluster = planned["tenant"].to_python(), planned["name"].to_python()
        spec, flavors = cluster_spec(planned), flavors_of(planned)
        for name in sorted(names, key=lambda n: int(n.rsplit("-", 1)[1])):
            node = Node(name, "worker", nodes[name]["ip"])
            error = self.hosts.destroy(tenant, cluster, [name], nodes, stop)[name]
            if error is not None:
                response.diagnostics.add(error.diagnostic)
                return
            del nodes[name]
            purpose = f"roll {name} of cluster {tenant}/{cluster}"
            try:
                with admitted(self.platform, tenant, demand_of([node], flavors), purpose):
                    made, errors = self.hosts.create_nodes(
                        spec, pki, flavors, planned, [node], nodes, stop
                    )
                    nodes.update(made)
                    self._write_record(planned, pki, nodes)
            except DiagnosticError as exc:
                errors = [exc]
            for failure in errors:
                response.diagnostics.add(failure.diagnostic)
            if errors:
                return

    # -- read, delete, import -----------------------------------------------------------

    def read(self, request: ReadRequest, response: ReadResponse) -> None:
        calls_before = self.platform.esxi_calls()
        self._read(request, response)
        log.debug(
            "Cluster refreshed",
            **log_context(
                cluster=request.state["id"].to_python(),
                esxi_calls=self.platform.esxi_calls() - calls_before,
            ),
        )

    def _read(self, request: ReadRequest, response: ReadResponse) -> None:
        """Every node's status from one inventory read per host; the time each unhealthy
        node was first seen so goes to private state (for the grace period)."""
        state = request.state
        nodes = state["nodes"].to_python() or {}
        tenant, cluster = state["tenant"].to_python(), state["name"].to_python()
        inventories = self.platform.inventories(self.platform.host_names)
        network = state["network"].to_python()
        missing = self._missing_disks(inventories, nodes, response.diagnostics)
        for name, node in nodes.items():
            found = node_status(
                inventories.get(node["host"]), node, tenant, cluster, name, network, missing
            )
            node["status"], node["mac"] = found.status, found.mac or node.get("mac")
            if found.why:
                response.diagnostics.warning(
                    f"Node {name} of cluster {tenant}/{cluster}: {found.status}",
                    f"On {node['host']}, {found.why}. The plan shows what is done about it "
                    "(see the drift guide for each status).",
                )
        # VM ids are per host (each standalone host counts its own vm-N): match both.
        known = {(node["host"], node["vm_id"]) for node in nodes.values()}
        for host, inventory in inventories.items():
            if isinstance(inventory, DiagnosticError):
                response.diagnostics.warning(
                    f"Host {host} unreachable: its nodes are reported lost",
                    inventory.diagnostic.detail,
                )
                continue
            for vm in inventory.vms.values():
                marks = vm.marks
                ours = (marks.get("tenant"), marks.get("cluster")) == (tenant, cluster)
                if ours and (host, vm.moid) not in known:
                    response.diagnostics.warning(
                        f"Unmanaged VM with the marks of cluster {tenant}/{cluster}",
                        f"VM {vm.name} ({vm.moid}) on {host} carries the marks of node "
                        f"{marks.get('node', '?')} but is not one of the cluster's nodes "
                        "(left by an interrupted run, replaced while its host was away, "
                        "or made by hand). It is left alone: delete it if it is not needed.",
                    )
        self._remember_unhealthy(tenant, cluster, nodes, response.diagnostics)
        response.new_state = state.with_attributes({"nodes": Value.from_python(NODES_TYPE, nodes)})

    def _missing_disks(
        self,
        inventories: Mapping[str, Inventory | DiagnosticError],
        nodes: Mapping[str, dict[str, Any]],
        diagnostics: Diagnostics,
    ) -> set[str]:
        """The disk files of powered-off nodes that are gone. Only a VM that is off can lose
        its disk file (a running one locks it), so a healthy cluster costs no search."""
        from ..esxi.devices import missing_files

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
        found = self.platform.on_hosts(files, lambda s: missing_files(s, files[s.name]))
        missing: set[str] = set()
        for host, result in found.items():
            if isinstance(result, DiagnosticError):
                diagnostics.warning(f"Disk files on {host} not checked", result.diagnostic.detail)
            else:
                missing |= result
        return missing

    def _remember_unhealthy(
        self,
        tenant: str,
        cluster: str,
        nodes: Mapping[str, dict[str, Any]],
        diagnostics: Diagnostics,
    ) -> None:
        statuses = {n: v["status"] for n, v in nodes.items()}
        now = datetime.datetime.now(datetime.UTC)
        try:
            unhealthy_since.remember(self.platform.records(), tenant, cluster, statuses, now)
        except DiagnosticError as exc:  # the nodes' statuses stand without it
            diagnostics.warning(
                "When the unhealthy nodes were first seen was not recorded",
                f"{exc.diagnostic.detail} A powered-off node's grace period counts from the "
                "first refresh that can record it.",
            )

    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None:
        """Every VM with the cluster's marks goes, also any left by an interrupted run. VMs
        on hosts that do not answer cannot go: the cluster is deleted everywhere else, and
        a warning lists them (photon_tenant reports them as unmanaged once they are back)."""
        prior = request.prior_state
        tenant, name = prior["tenant"].to_python(), prior["name"].to_python()
        nodes = prior["nodes"].to_python() or {}
        hosts = self.platform.read_hosts()
        for host, inventory in hosts.inventories.items():
            for vm in inventory.vms.values():
                if (vm.marks.get("tenant"), vm.marks.get("cluster")) == (tenant, name):
                    node = vm.marks.get("node", vm.moid)
                    mine = nodes.get(node, {})
                    if (mine.get("host"), mine.get("vm_id")) != (host, vm.moid):
                        node = f"{node}@{host}/{vm.moid}"  # a leftover: ids are per host
                    nodes[node] = {"host": host, "vm_id": vm.moid}
        stranded = {n: v for n, v in nodes.items() if v["host"] in hosts.down}
        with self._timeout(prior, "delete") as stop:
            reachable = sorted(n for n in nodes if n not in stranded)
            results = self.hosts.destroy(tenant, name, reachable, nodes, stop)
        left = {n for n, error in results.items() if error is not None}
        for error in results.values():
            if error is not None:
                response.diagnostics.add(error.diagnostic)
        if left:
            kept = {n: v for n, v in (prior["nodes"].to_python() or {}).items() if n in left}
            response.new_state = prior.with_attributes(
                {"nodes": Value.from_python(NODES_TYPE, kept)}
            )
            return
        if stranded:
            response.diagnostics.warning(
                f"Cluster {tenant}/{name} deleted except on unreachable hosts",
                "These VMs could not be deleted because their hosts do not answer: "
                + ", ".join(
                    f"{n} ({v['vm_id']} on {v['host']})" for n, v in sorted(stranded.items())
                )
                + ". When the hosts are back, photon_tenant's refresh reports them as "
                "unmanaged; delete them then (a cluster of this name cannot be made again "
                "while they exist).",
            )
        records = self.platform.records()
        with records.locked(f"delete cluster {tenant}/{name}"):
            records.remove(CLUSTERS, f"{tenant}.{name}")
            unhealthy_since.forget(records, tenant, name)
        response.new_state = Value.null(prior.type)

    def import_state(self, import_id: str, response: ImportResponse) -> None:
        """From the platform record (spec, nodes and secrets), so a lost state can be
        rebuilt; the following refresh reads the nodes' health."""
        tenant, _, name = import_id.partition("/")
        record = None
        if is_name(tenant) and is_name(name):
            record = self.platform.records().get(CLUSTERS, f"{tenant}.{name}")
        if record is None:
            response.diagnostics.error(
                "No cluster to import",
                f"There is no cluster {import_id!r} in the platform records. Import a "
                "cluster as <tenant>/<name>: `terraform import photon_k8s_cluster.x "
                "team-a/prod`.",
            )
            return
        nodes = {n: {"mac": None, **v, "status": READY} for n, v in record["nodes"].items()}
        pki = self._recorded_pki(import_id, record)
        spec = record["spec"]
        state = {
            **{k: None for k in self.schema.value_type().attrs},
            **spec,
            "tenant": tenant,
            "name": name,
            "api_endpoint": f"https://{spec['master_ips'][0]}:6443",
            "worker_batch_size": _default("worker_batch_size"),
            "nodes": nodes,
            "timeouts": None,
        }
        planned = Value.from_python(self.schema.value_type(), state)
        response.states.append(self._state(planned, pki, nodes))
        response.private = json.dumps({"pki": pki.to_json()}).encode()

    def _recorded_pki(self, import_id: str, record: Mapping[str, Any]) -> ClusterPki:
        """The secrets from the record; for a record written before it held them, from the
        boot data of any master (a first master's or a joined one's alike)."""
        from ..esxi.inventory import read_vm_options
        from .kubernetes.cloudinit import recover_pki
        from .kubernetes.pki import ClusterPki

        if record.get("pki"):
            return ClusterPki.from_json(record["pki"])
        masters = sorted(n for n, v in record["nodes"].items() if v["role"] == "master")
        failures = []
        for name in masters:
            node = record["nodes"][name]
            try:
                options = read_vm_options(self.platform.session(node["host"]), node["vm_id"])
                data = base64.b64decode(options.get("guestinfo.userdata", "")).decode()
                return recover_pki(data, record["cluster"])
            except EsxiError as exc:
                failures.append(host_error(exc).diagnostic.detail)
            except DiagnosticError as exc:
                failures.append(exc.diagnostic.detail)
            except (ValueError, KeyError, IndexError):
                failures.append(f"{name}'s boot data holds no cluster certificates.")
        raise DiagnosticError(
            "Cluster cannot be imported",
            f"The record of cluster {import_id} holds no secrets, and no master's boot data "
            f"could give them: {' '.join(failures) or 'the cluster has no master.'} Bring a "
            "master's host back and import again.",
        )

    # -- helpers ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _timeout(self, state: Value, operation: str) -> Iterator[threading.Event]:
        """An event set when Terraform asks to stop or the operation's timeout passes."""
        stop = threading.Event()
        timeouts = state["timeouts"].to_python() or {}
        timers = []
        if timeouts.get(operation):
            timers.append(threading.Timer(parse_duration(timeouts[operation]), stop.set))
        with self.platform.linked_stop(stop):
            for timer in timers:
                timer.start()
            try:
                yield stop
            finally:
                for timer in timers:
                    timer.cancel()

    def _state(self, planned: Value, pki: ClusterPki, nodes: Mapping[str, dict[str, Any]]) -> Value:
        from .kubernetes.kubeconfig import admin_kubeconfig

        tenant, name = planned["tenant"].to_python(), planned["name"].to_python()
        endpoint = planned["api_endpoint"].to_python()
        return planned.with_attributes(
            {
                "id": Value.from_python(planned.type.attrs["id"], f"{tenant}/{name}"),  # type: ignore[attr-defined]
                "ca_certificate": Value.from_python(
                    planned.type.attrs["ca_certificate"], pki.ca.cert_pem
                ),  # type: ignore[attr-defined]
                "kubeconfig": Value.from_python(
                    planned.type.attrs["kubeconfig"],
                    admin_kubeconfig(name, endpoint, pki),  # type: ignore[attr-defined]
                ),
                "nodes": Value.from_python(NODES_TYPE, dict(nodes)),
            }
        )

    def _write_record(
        self, planned: Value, pki: ClusterPki, nodes: Mapping[str, dict[str, Any]]
    ) -> None:
        """The cluster as the platform knows it: spec, nodes and secrets, so that an import
        can rebuild the state and restore every role (see docs/guides/records.md)."""
        tenant, name = planned["tenant"].to_python(), planned["name"].to_python()
        spec = {
            k: planned[k].to_python()
            for k in (
                "kubernetes_version", "image", "worker_image", "network", "etcd_count",
                "master_count", "worker_count", "etcd_flavor", "master_flavor", "worker_flavor",
                "pod_cidr", "service_cidr", "master_ips", "etcd_ips", "worker_ips",
                "gateway", "netmask", "dns_servers", "ssh_public_keys",
            )
        }  # fmt: skip
        record_nodes = {
            n: {k: v.get(k) for k in ("role", "host", "vm_id", "ip", "mac")}
            for n, v in nodes.items()
        }
        self.platform.records().put(
            CLUSTERS, f"{tenant}.{name}", {"tenant": tenant, "cluster": name, "spec": spec,
                                       "nodes": record_nodes, "pki": pki.to_json()}
        )  # fmt: skip
