"""Apply's health work: the nodes the node plan powers on, repairs in place, resets and
restores.

Plan decided from the refreshed statuses; the hosts may have changed since. So apply looks
at each such node again in the host's current inventory (the one this process reads anyway
to place new VMs) and leaves alone, with a warning, a node that is ready again — it was
powered on or its host came back, say. Everything else goes as planned: powered on, repaired
and reset (same VM; a reset is remembered with the boot id the node reported, so that report
no longer counts), then restored with a new VM (etcd members and masters one at a time, each
ready before the next, so quorum holds; workers in batches). A remnant that may still run
(a hung or failing node, a lost disk) is destroyed before its replacement is made, so two VMs
never run with one name and address; a remnant that cannot run (gone, off, its host away) goes
after.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.api import ApplyResponse
from ...esxi.errors import EsxiError
from ..platform import Platform
from . import health_memory
from .guest import Reset, parse_report
from .health import HEALTHY, HOST_MAINTENANCE, LOST, POWERED_OFF, READY
from .hosts import ClusterHosts
from .kubernetes.spec import Node
from .model import ClusterModel
from .nodes import ROLES
from .ownership import RecordWriter
from .plan import NodePlan
from .refresh import guest_seen, recall_memory
from .values import node_status, vm_in

if TYPE_CHECKING:
    from ...esxi.inventory import VmInfo
    from ...esxi.session import HostSession
    from .kubernetes.pki import ClusterPki

__all__ = ["Restorer"]

Nodes = dict[str, dict[str, Any]]
Wait = Callable[[ClusterModel, list[str], Nodes, threading.Event, ApplyResponse], bool]
# A node in these states has no VM that can run (gone, its host away, or off): its remnant
# may go after its replacement is made. Any other VM may run, with the node's address.
NOT_RUNNING = frozenset({LOST, POWERED_OFF, HOST_MAINTENANCE})
ROLE_ORDER = {role: i for i, role in enumerate(ROLES)}  # etcd members first


class Restorer:
    def __init__(self, platform: Platform, hosts: ClusterHosts, wait: Wait) -> None:
        self.platform = platform
        self.hosts = hosts
        self.wait = wait

    def carry_out(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        node_plan: NodePlan,
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        from ...esxi.devices import NicRepair, repair_nics
        from ...esxi.vms import power_on_vms

        todo = node_plan.power_on + node_plan.repair + node_plan.reset + node_plan.restore
        still = self.still_unhealthy(model, todo, nodes, response)
        power_on = [n for n in node_plan.power_on if n in still]
        repairs = {
            n: NicRepair(model.network, nodes[n].get("mac")) for n in node_plan.repair if n in still
        }
        self._on_node_vms(
            power_on, nodes, response,
            lambda session, moids: power_on_vms(session, moids, stop),
        )  # fmt: skip
        by_vm = {
            (nodes[n]["host"], nodes[n]["vm_id"]): r for n, r in repairs.items()
        }  # ids: per host
        self._on_node_vms(
            list(repairs), nodes, response,
            lambda session, moids: repair_nics(
                session, {m: by_vm[(session.name, m)] for m in moids}, stop
            ),
        )  # fmt: skip
        resets = {n: still[n] for n in node_plan.reset if n in still}
        self._reset(resets, model, nodes, stop, response)
        for group in self._restore_groups(
            model, [n for n in node_plan.restore if n in still], nodes
        ):
            if not self.restore(model, pki, group, nodes, writer, stop, response):
                return

    def still_unhealthy(
        self, model: ClusterModel, names: tuple[str, ...], nodes: Nodes, response: ApplyResponse
    ) -> dict[str, VmInfo | None]:
        """Of ``names``, those the hosts still show unhealthy, with their VM as just read; a
        node ready (or booting) again is left as it is (the plan showed it ready, so the
        state still matches the plan)."""
        if not names:
            return {}
        inventories = self.platform.read_hosts().inventories
        memory = recall_memory(self.platform, model)  # without it: judged as refresh would
        now = datetime.datetime.now(datetime.UTC)
        still: dict[str, VmInfo | None] = {}
        for name in names:
            node = nodes[name]
            inventory = inventories.get(node["host"])
            vm = vm_in(inventory, node["vm_id"])
            found = node_status(
                inventory, node, model.tenant, model.name, name, model.network,
                guest=guest_seen(model, memory, name, vm, now),
            )  # fmt: skip
            if found.status not in HEALTHY:
                still[name] = vm
                node["status"] = found.status  # as it is now: whether its VM runs
                continue
            was, node["status"] = node["status"], READY  # as planned; refresh says more
            response.diagnostics.warning(
                f"Node {name} is {found.status} again: left as it is",
                f"The plan acted on it as {was}, but its VM {node['vm_id']} on "
                f"{node['host']} is {found.status} now, so apply leaves it alone.",
            )
        return still

    def _reset(
        self,
        vms: Mapping[str, VmInfo | None],
        model: ClusterModel,
        nodes: Nodes,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        """Reset the nodes' VMs (as just read: ``vms``), and remember each reset with the boot
        id its node reported then: the node is judged anew from the reset on (guest.py)."""
        from ...esxi.vms import reset_vms

        names = list(vms)
        if not names:
            return
        boots = {n: _report_boot(vm) for n, vm in vms.items()}
        self._on_node_vms(
            names, nodes, response,
            lambda session, moids: reset_vms(session, moids, stop),
        )  # fmt: skip
        now = datetime.datetime.now(datetime.UTC)
        done = {
            n: Reset(nodes[n]["vm_id"], now, boots[n]) for n in names if nodes[n]["status"] == READY
        }
        if done:
            records = self.platform.records()
            with records.locked(f"reset nodes of {model.tenant}/{model.name}"):
                health_memory.remember_resets(records, model.tenant, model.name, done)

    @staticmethod
    def _restore_groups(model: ClusterModel, names: list[str], nodes: Nodes) -> list[list[str]]:
        """etcd members, then masters, one at a time; then workers in batches."""
        control = sorted(
            (n for n in names if nodes[n]["role"] != "worker"),
            key=lambda n: (ROLE_ORDER[nodes[n]["role"]], n),
        )
        workers = [n for n in names if nodes[n]["role"] == "worker"]
        size = model.worker_batch_size
        return [[n] for n in control] + [
            workers[i : i + size] for i in range(0, len(workers), size)
        ]

    def _on_node_vms(
        self,
        names: list[str],
        nodes: Nodes,
        response: ApplyResponse,
        work: Callable[[HostSession, list[str]], Mapping[str, EsxiError | None]],
    ) -> None:
        """Run ``work`` on the named nodes' VMs (``ClusterHosts.on_node_vms``); a node it
        succeeds for is ready, a failure is reported."""
        for name, error in self.hosts.on_node_vms(names, nodes, work).items():
            if error is None:
                nodes[name]["status"] = READY
            else:
                response.diagnostics.add(error.diagnostic)

    def restore(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        names: list[str],
        nodes: Nodes,
        writer: RecordWriter,
        stop: threading.Event,
        response: ApplyResponse,
    ) -> bool:
        """Replace ``names`` with new VMs and wait for them; False after a failure (``nodes``
        stays current)."""
        running = [n for n in names if nodes[n]["status"] not in NOT_RUNNING]
        gone = self.hosts.destroy(model.tenant, model.name, running, nodes, stop)
        for name, error in gone.items():
            if error is not None:  # never two VMs with one name and address
                response.diagnostics.add(error.diagnostic)
                names = [n for n in names if n != name]
            else:
                nodes[name]["vm_id"] = ""  # gone: not a remnant to destroy again
        lost = {n: nodes.pop(n) for n in names}
        batch = [Node(n, v["role"], v["ip"]) for n, v in lost.items()]
        # Under the lock from the intent to the record of what was made: a run that holds
        # the lock and finds an intent knows its maker was interrupted (leftovers.py).
        with self.platform.records().locked(f"restore nodes of {model.tenant}/{model.name}"):
            writer.check(model)
            self.hosts.clear_unfinished(writer.intent, stop)
            intend = writer.intend(model, pki, {**lost, **nodes})
            made, errors = self.hosts.create_nodes(
                model, pki, batch, nodes, stop, intend, restoring=True
            )
            nodes.update(made)
            for name, old in lost.items():
                if name not in made:
                    nodes[name] = old  # not replaced: keep tracking the old one
            writer.write(model, pki, nodes)
        for name, old in lost.items():
            if name in made and old["vm_id"]:
                self._destroy_remnant(model, name, old, stop, response)
        for failure in errors:
            response.diagnostics.add(failure.diagnostic)
        failed = bool(errors) or any(error is not None for error in gone.values())
        ready = self.wait(model, [n for n in names if n in made], nodes, stop, response)
        return ready and not failed

    def _destroy_remnant(
        self,
        model: ClusterModel,
        name: str,
        old: dict[str, Any],
        stop: threading.Event,
        response: ApplyResponse,
    ) -> None:
        remnant = self.hosts.destroy(model.tenant, model.name, [name], {name: old}, stop)
        if remnant[name] is not None:
            response.diagnostics.warning(
                f"The remnant of node {name} was left",
                f"{remnant[name].diagnostic.detail} The node was restored; its old VM "
                f"{old['vm_id']} on {old['host']} is reported as unmanaged until it is "
                "deleted.",
            )


def _report_boot(vm: VmInfo | None) -> str:
    """The boot id of the node's report ("" without one)."""
    report = parse_report(vm.guest.get("status")) if vm is not None else None
    return report.boot if report is not None else ""
