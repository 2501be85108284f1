"""Apply of photon_k8s_cluster: create, update and delete carry out a ``NodePlan``.

An update reads the node plan that plan put in the private state (``with_node_plan``); a
plan made while the node map was unknown carries none, and then apply works out the same
plan without health work (``plan_nodes`` with health off: what plan could not show, apply
does not restore). Before it acts, apply checks that the plan still fits: the nodes to add,
remove and roll must be what the prior state and configuration give now, and a node to
restore, repair or power on that is healthy again is left alone (restore.py).

``nodes`` (name -> node as the state holds it) is kept current at every step, so a failure
anywhere still returns every VM that exists.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.api import ApplyRequest, ApplyResponse
from ...bridge.cty import Value
from ...bridge.diagnostics import DiagnosticError
from ...bridge.notation import parse_duration
from ..platform import Platform
from ..quota_admission import admitted
from ..records import CLUSTERS, encode
from . import health_memory
from .boot_data import clear_boot_data
from .health import READY
from .hosts import ClusterHosts
from .kubernetes.spec import Node
from .leftovers import intent_of, leftovers_in, sort_leftovers, stray_key
from .model import ClusterModel
from .ownership import CREATING, RecordWriter, check_owner, record_generation
from .plan import NodePlan, node_plan_at_apply, with_node_plan
from .readiness import wait_until_ready
from .restore import Restorer
from .rolling import Roller
from .schema import NODES_TYPE
from .values import demand_of, load_pki, worker_batches

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = ["ClusterApply"]

Nodes = dict[str, dict[str, Any]]


class ClusterApply:
    def __init__(self, platform: Platform, hosts: ClusterHosts) -> None:
        self.platform = platform
        self.hosts = hosts
        self.restorer = Restorer(platform, hosts, self.wait)
        self.roller = Roller(platform, hosts, self.restorer, self.wait)

    def create(self, planned: Value, response: ApplyResponse) -> None:
        from .kubernetes.pki import make_cluster_pki

        model = ClusterModel.decode(planned)
        pki = make_cluster_pki(model.name)
        writer = RecordWriter(self.platform, b"", creating=True)
        nodes: Nodes = {}
        try:
            with self.timeout(model, "create") as stop:
                pki = self._take_over(model, writer, nodes, stop) or pki
                node_plan = NodePlan(add=tuple(n for n in model.desired if n.name not in nodes))
                self.converge(model, pki, node_plan, nodes, writer, stop, response)
                self.wait(model, list(nodes), nodes, stop, response)
                self._spare_the_control_plane(model, nodes, response)
        except DiagnosticError as exc:
            response.diagnostics.add(exc.diagnostic)
        finally:  # whatever happened, the nodes that exist are in the state
            response.private = writer.remembered(json.dumps({"pki": pki.to_json()}).encode())
            # A create that made nothing (refused by the quota, say) leaves no state, so
            # no tainted cluster waits to be replaced, or blocks `terraform destroy`.
            response.new_state = (
                self.state(planned, pki, nodes) if nodes else Value.null(planned.type)
            )

    def _take_over(
        self, model: ClusterModel, writer: RecordWriter, nodes: Nodes, stop: threading.Event
    ) -> ClusterPki | None:
        """An interrupted create of this cluster (its record still says ``creating``): the
        VMs it finished for the nodes wanted now are adopted into ``nodes``, with the secrets
        they were made with; everything else it left is removed. None when there was no
        such create, or it was for another spec (then nothing is adopted)."""
        from .kubernetes.pki import ClusterPki

        records = self.platform.records()
        with records.locked(f"take over the create of {model.tenant}/{model.name}"):
            record = records.get(CLUSTERS, model.record_key)
            if record is None or not record.get(CREATING):
                return None
            inventories = self.platform.read_hosts().inventories
            leftovers = leftovers_in(inventories, model.tenant, model.name, {})
            same = record.get("spec") == json.loads(encode(model.record_spec()))
            found = sort_leftovers({}, lambda _: False, leftovers if same else (), record)
            wanted = {n.name: (n.role, n.ip) for n in model.desired}
            adopted = {
                name: {**entry, "status": READY}
                for name, entry in found.adopted.items()
                if wanted.get(name) == (entry["role"], entry["ip"])
            }
            strays = {
                stray_key(v): {"host": v.host, "vm_id": v.vm_id}
                for v in leftovers
                if adopted.get(v.node, {}).get("vm_id") != v.vm_id
            }
            self._remove_strays(model, strays, stop)
            self.hosts.clear_unfinished(intent_of(record), stop)
            writer.generation = record_generation(record)
            nodes.update(adopted)
            return ClusterPki.from_json(record["pki"]) if adopted else None

    def _remove_strays(self, model: ClusterModel, strays: Nodes, stop: threading.Event) -> None:
        names = list(strays)
        for error in self.hosts.destroy(model.tenant, model.name, names, strays, stop).values():
            if error is not None:
                raise error

    @staticmethod
    def _spare_the_control_plane(
        model: ClusterModel, nodes: Nodes, response: ApplyResponse
    ) -> None:
        """Terraform taints a resource whose create failed, and would replace the whole
        cluster next time. With its control plane up (made, and ready when apply waits), the
        cluster stands: report what is wrong with the workers as warnings; the next apply
        adds the missing ones, and the health policy puts the unhealthy ones right."""
        control_plane = [n.name for n in model.desired if n.role != "worker"]
        standing = all(nodes.get(n, {}).get("status") == READY for n in control_plane)
        if not (response.diagnostics.has_errors and standing):
            return
        missing = len(model.desired) - len(nodes)
        unwell = sorted(n for n, v in nodes.items() if v["status"] != READY)
        said = [f"{missing} worker(s) missing"] if missing else []
        said += [f"{', '.join(unwell)} not ready"] if unwell else []
        response.diagnostics.demote_errors(
            f"The cluster was created with its control plane up but {' and '.join(said)}: "
            "the next `terraform apply` adds missing workers, and the plans after it reset or "
            "replace workers that are not ready, as the health policy says (see the drift "
            "guide)."
        )

    def wait(
        self,
        model: ClusterModel,
        names: list[str],
        nodes: Nodes,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> bool:
        """Wait for the nodes just made to report ready (readiness.py); False if they did not.
        Those seen ready lose their boot data (boot_data.py)."""
        errors = wait_until_ready(self.platform, model, names, nodes, stop)
        for error in errors:
            response.diagnostics.add(error.diagnostic)
        if model.readiness.wait:
            ready = [n for n in names if nodes.get(n, {}).get("status") == READY]
            for problem in clear_boot_data(self.hosts, ready, nodes):
                response.diagnostics.warning(
                    "Boot data not cleared",
                    f"{problem.diagnostic.detail} The node's VM keeps its boot data (with the "
                    "cluster's keys) until it is replaced; remove guestinfo.userdata from its "
                    "configuration by hand if it must go now.",
                )
        return not errors

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None:
        model, prior = (
            ClusterModel.decode(request.planned_state),
            ClusterModel.decode(request.prior_state),
        )
        pki = load_pki(request.planned_private)
        writer = RecordWriter(self.platform, request.planned_private)
        nodes = {n: v.as_dict() for n, v in (prior.nodes or {}).items()}
        try:
            node_plan = node_plan_at_apply(request.planned_private, prior, model, _now())
            with self.timeout(model, "update") as stop:
                self.converge(model, pki, node_plan, nodes, writer, stop, response)
                added = [n.name for n in node_plan.add if n.name in nodes]
                if not response.diagnostics.has_errors:
                    self.wait(model, added, nodes, stop, response)
                if not response.diagnostics.has_errors:  # restorations before any roll
                    self.restorer.carry_out(model, pki, node_plan, nodes, writer, stop, response)
                if node_plan.roll and not response.diagnostics.has_errors:
                    rolling = [n for n in node_plan.roll if n in nodes]
                    self.roller.roll(model, pki, rolling, nodes, writer, stop, response)
        except DiagnosticError as exc:  # the record moved on elsewhere: nothing more is done
            response.diagnostics.add(exc.diagnostic)
        finally:  # whatever happened, the nodes that exist are in the state
            response.private = writer.remembered(with_node_plan(request.planned_private, None))
            response.new_state = self.state(request.planned_state, pki, nodes)

    def converge(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        node_plan: NodePlan,
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Remove the nodes no longer wanted, then create the new ones under the quota."""
        diagnostics = response.diagnostics
        if node_plan.remove:
            remove = list(node_plan.remove)
            for name, error in self.hosts.destroy(
                model.tenant, model.name, remove, nodes, stop
            ).items():
                if error is None:
                    nodes.pop(name)
                else:
                    diagnostics.add(error.diagnostic)
        if node_plan.add:
            try:
                self._grow(model, pki, list(node_plan.add), nodes, writer, stop, response)
            except DiagnosticError as exc:
                diagnostics.add(exc.diagnostic)
        elif node_plan.remove:
            with self.platform.records().locked(f"shrink cluster {model.tenant}/{model.name}"):
                writer.write(model, pki, nodes)

    def _grow(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        add: list[Node],
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """The control plane at once, then the workers in batches; stops at a failure."""
        purpose = f"grow cluster {model.tenant}/{model.name}"
        with admitted(self.platform, model.tenant, demand_of(add, model.flavors), purpose):
            # Before anything is made: the record is as this state knows it, and a leftover
            # VM of this cluster is an error.
            writer.check(model)
            self.hosts.refuse_leftovers(model, add, self.platform.read_hosts().inventories)
            self.hosts.clear_unfinished(writer.intent, stop)
            records = self.platform.records()
            for batch in worker_batches(add, model.worker_batch_size):
                # Fencing before the hosts are written: a run whose lock was taken over
                # (paused past its expiry, say) makes no more VMs.
                records.confirm_lock()
                made, errors = self.hosts.create_nodes(
                    model, pki, batch, nodes, stop, writer.intend(model, pki, nodes)
                )
                nodes.update(made)  # recorded even when a later step failed
                for error in errors:
                    response.diagnostics.add(error.diagnostic)
                if errors:
                    break
            writer.write(model, pki, nodes)

    def delete(self, prior: ClusterModel, private: bytes, response: ApplyResponse) -> None:
        """Every VM with the cluster's marks goes, also any left by an interrupted run. VMs
        on hosts that do not answer cannot go: the cluster is deleted everywhere else, and
        a warning lists them (photon_tenant reports them as unmanaged once they are back).
        A state that no longer owns the cluster (ownership.py) deletes nothing."""
        tenant, name = prior.tenant, prior.name
        check_owner(self.platform, prior, private)
        nodes, down = self._marked_vms(prior)
        stranded = {n: v for n, v in nodes.items() if v["host"] in down}
        with self.timeout(prior, "delete") as stop:
            reachable = sorted(n for n in nodes if n not in stranded)
            results = self.hosts.destroy(tenant, name, reachable, nodes, stop)
        left = {n for n, error in results.items() if error is not None}
        for error in results.values():
            if error is not None:
                response.diagnostics.add(error.diagnostic)
        if left:
            kept = {n: v.as_dict() for n, v in (prior.nodes or {}).items() if n in left}
            nodes_value = Value.from_python(NODES_TYPE, kept)
            response.new_state = response.new_state.with_attributes({"nodes": nodes_value})
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
            intent = intent_of(records.get(CLUSTERS, prior.record_key))
            self.hosts.clear_unfinished(intent, self.platform.stop_requested)
            records.remove(CLUSTERS, prior.record_key)
            health_memory.forget(records, tenant, name)
        response.new_state = Value.null(response.new_state.type)

    def _marked_vms(self, prior: ClusterModel) -> tuple[Nodes, Mapping[str, object]]:
        """The state's nodes plus every VM with the cluster's marks (a leftover is named
        ``node@host/moid``: VM ids are per host); and the hosts that do not answer."""
        nodes: Nodes = {n: v.as_dict() for n, v in (prior.nodes or {}).items()}
        hosts = self.platform.read_hosts()
        for vm in leftovers_in(hosts.inventories, prior.tenant, prior.name, nodes):
            nodes[stray_key(vm)] = {"host": vm.host, "vm_id": vm.vm_id}
        return nodes, hosts.down

    # -- shared -------------------------------------------------------------------------

    @contextlib.contextmanager
    def timeout(self, model: ClusterModel, operation: str) -> Iterator[threading.Event]:
        """An event set when Terraform asks to stop or the operation's timeout passes."""
        stop = threading.Event()
        timers = []
        if model.timeouts.get(operation):
            timers.append(threading.Timer(parse_duration(model.timeouts[operation]), stop.set))
        with self.platform.linked_stop(stop):
            for timer in timers:
                timer.start()
            try:
                yield stop
            finally:
                for timer in timers:
                    timer.cancel()

    @staticmethod
    def state(planned: Value, pki: ClusterPki, nodes: Mapping[str, dict[str, Any]]) -> Value:
        from .kubernetes.kubeconfig import admin_kubeconfig

        tenant, name = planned["tenant"].to_python(), planned["name"].to_python()
        endpoint = planned["api_endpoint"].to_python()
        attrs = planned.type.attrs  # type: ignore[attr-defined]
        return planned.with_attributes(
            {
                "id": Value.from_python(attrs["id"], f"{tenant}/{name}"),
                "ca_certificate": Value.from_python(attrs["ca_certificate"], pki.ca.cert_pem),
                "kubeconfig": Value.from_python(
                    attrs["kubeconfig"], admin_kubeconfig(name, endpoint, pki)
                ),
                "nodes": Value.from_python(NODES_TYPE, dict(nodes)),
            }
        )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
