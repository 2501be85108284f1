"""Apply's rolls (upgrades): the nodes the node plan replaces by VMs of a new build, after the
restorations, one at a time and in kubeadm's order — etcd members, then masters (each as a
restore: its VM destroyed, a new one rejoining etcd under its name, ready before the next,
and only while every other one is ready), then workers (each drained first, then replaced,
ready before the next). See rolls.py for what plan lets a roll do, draining.py for the
drain.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ...bridge.api import ApplyResponse
from ...bridge.diagnostics import DiagnosticError
from ..platform import Platform
from ..quota_admission import admitted
from .draining import drain
from .health import READY
from .hosts import ClusterHosts
from .kubernetes.spec import Node
from .model import ClusterModel
from .nodes import node_number
from .ownership import RecordWriter
from .restore import Nodes, Restorer, Wait
from .values import demand_of

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = ["Roller"]


class Roller:
    def __init__(
        self, platform: Platform, hosts: ClusterHosts, restorer: Restorer, wait: Wait
    ) -> None:
        self.platform = platform
        self.hosts = hosts
        self.restorer = restorer
        self.wait = wait

    def roll(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        names: list[str],
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Replace ``names`` (in the plan's order: etcd members, masters, workers) by VMs of
        the new build. A control-plane node goes as a restore does, one at a time (its VM
        destroyed, a new one that rejoins etcd under its name, ready before the next), and
        only while every other etcd member and master is ready; then the workers."""
        workers = [n for n in names if nodes[n]["role"] == "worker"]
        for name in (n for n in names if n not in workers):
            unready = sorted(
                n for n, v in nodes.items() if v["role"] != "worker" and v["status"] != READY
            )
            if unready:
                response.diagnostics.error(
                    f"Roll of cluster {model.tenant}/{model.name} stopped before {name}",
                    f"{', '.join(unready)} not ready: a control-plane node is replaced only "
                    "while every other one is ready, so quorum holds. The next plan shows the "
                    "nodes still to roll once they are ready.",
                )
                return
            try:
                if nodes[name]["role"] == "master":
                    drain(model, pki, Node(name, "master", nodes[name]["ip"]), stop)
            except DiagnosticError as exc:
                response.diagnostics.add(exc.diagnostic)
                return
            if not self.restorer.restore(model, pki, [name], nodes, writer, stop, response):
                return
        self.roll_workers(model, pki, workers, nodes, writer, stop, response)

    def roll_workers(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        names: list[str],
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Replace workers one at a time with the new build, each drained first: never more
        than one worker away because of us, each new one ready before the next goes. Stops
        at the first failure, with ``nodes`` current."""
        tenant, cluster = model.tenant, model.name
        for name in sorted(names, key=node_number):
            node = Node(name, "worker", nodes[name]["ip"])
            try:
                drain(model, pki, node, stop)
            except DiagnosticError as exc:
                response.diagnostics.add(exc.diagnostic)
                return
            error = self.hosts.destroy(tenant, cluster, [name], nodes, stop)[name]
            if error is not None:
                response.diagnostics.add(error.diagnostic)
                return
            del nodes[name]
            purpose = f"roll {name} of cluster {tenant}/{cluster}"
            try:
                with admitted(self.platform, tenant, demand_of([node], model.flavors), purpose):
                    made, errors = self.hosts.create_nodes(
                        model, pki, [node], nodes, stop, writer.intend(model, pki, nodes)
                    )
                    nodes.update(made)
                    writer.write(model, pki, nodes)
            except DiagnosticError as exc:
                errors = [exc]
            for failure in errors:
                response.diagnostics.add(failure.diagnostic)
            if errors or not self.wait(model, [name], nodes, stop, response):
                return  # the next worker goes only once this one is up
