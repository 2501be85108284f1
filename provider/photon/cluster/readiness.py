"""Apply waits for the nodes it made: an apply that succeeds means the nodes came up.

Each node's own report (``guest.py``) is read from the hosts' kept inventories, one small
update call per host and poll. The wait ends well when every node is ready; at once, with
the node's name and reason, when one reports ``failed`` or is lost meanwhile, or never
reported ready within its startup timeout; otherwise at ``readiness.timeout``. Either way the
nodes keep their VMs in the state, each with the status it was last seen with.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...bridge.diagnostics import DiagnosticError
from ..platform import Platform
from . import health_memory
from .guest import GuestSeen, green_boot, parse_report
from .health import HEALTHY, READY, REPLACED_AT_ONCE
from .model import ClusterModel
from .values import node_status, vm_in

if TYPE_CHECKING:
    from ...esxi.inventory import VmInfo

__all__ = ["wait_until_ready"]

# Each look is one small call per host. A node takes seconds (a simulated one) to minutes (a
# real one) to come up: look soon, then less and less often.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.1, 2.0


def wait_until_ready(
    platform: Platform,
    model: ClusterModel,
    names: Sequence[str],
    nodes: dict[str, dict[str, Any]],
    stop: threading.Event,
) -> list[DiagnosticError]:
    """Wait until ``names`` report ready (``nodes`` gets each one's last status); the errors
    that ended the wait otherwise. Nothing to wait for without ``readiness.wait``."""
    if not model.readiness.wait or not names:
        return []
    deadline = time.monotonic() + model.readiness.timeout.total_seconds()
    pause = FIRST_POLL_SECONDS
    first_seen: dict[str, datetime.datetime] = {}  # each node's startup timeout counts from it
    while True:
        why, green = _look(platform, model, names, nodes, first_seen)
        waiting = [n for n in names if nodes[n]["status"] != READY]
        failed = [n for n in waiting if n in why]
        if failed:
            return [_failed(model, n, nodes[n], why[n]) for n in failed]
        if not waiting:
            _remember_green(platform, model, green)
            return []
        if time.monotonic() >= deadline or stop.wait(pause):
            return [_not_ready(model, waiting, nodes, stop.is_set())]
        pause = min(pause * 1.5, MAX_POLL_SECONDS)


def _look(
    platform: Platform,
    model: ClusterModel,
    names: Sequence[str],
    nodes: dict[str, dict[str, Any]],
    first_seen: dict[str, datetime.datetime],
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Every waited node's status now; why, for those that cannot come up by waiting; and
    where each one's Tools heartbeat is green."""
    inventories = platform.inventories({nodes[n]["host"] for n in names})
    now = datetime.datetime.now(datetime.UTC)
    why, green = {}, {}
    for name in names:
        node, inventory = nodes[name], inventories.get(nodes[name]["host"])
        policy, since = model.health, first_seen.setdefault(name, now)
        seen = GuestSeen(now, policy.startup_timeout, policy.startup_text, booting_since=since)
        found = node_status(
            inventory, node, model.tenant, model.name, name, model.network, guest=seen
        )
        node["status"] = found.status
        vm = vm_in(inventory, node["vm_id"])
        if vm is not None and (boot := green_boot(vm)) is not None:
            green[name] = boot
        if found.status in REPLACED_AT_ONCE:
            why[name] = found.why or "its VM is gone"
        elif found.status not in HEALTHY and _reported_failed(vm):
            why[name] = found.why
    return why, green


def _reported_failed(vm: VmInfo | None) -> bool:
    report = parse_report(vm.guest.get("status")) if vm is not None else None
    return report is not None and report.phase == "failed"


def _remember_green(
    platform: Platform, model: ClusterModel, green: Mapping[str, tuple[str, str]]
) -> None:
    """Where the new nodes' Tools ran, kept now so that the next refresh of the healthy
    cluster has nothing to write. Best effort: that refresh writes it otherwise."""
    if not green:
        return
    with contextlib.suppress(DiagnosticError):
        health_memory.remember_green(platform.records(), model.tenant, model.name, green)


def _failed(model: ClusterModel, name: str, node: Mapping[str, Any], why: str) -> DiagnosticError:
    return DiagnosticError(
        f"Node {name} of cluster {model.tenant}/{model.name} did not come up",
        f"On {node['host']}, {why}. Its VM {node['vm_id']} is kept in the state as "
        f"{node['status']}; the next plan shows what is done about it (see the drift guide). "
        "The node's console and /var/log/cloud-init-output.log say more.",
    )


def _not_ready(
    model: ClusterModel, names: Sequence[str], nodes: Mapping[str, dict[str, Any]], stopped: bool
) -> DiagnosticError:
    listed = ", ".join(f"{n} ({nodes[n]['status']})" for n in names)
    when = (
        "before apply was stopped"
        if stopped
        else f"within {model.readiness.timeout_text} (readiness.timeout)"
    )
    return DiagnosticError(
        f"Nodes of cluster {model.tenant}/{model.name} not ready",
        f"{listed} did not report ready {when}. Their VMs are kept in the state; the next "
        "plan judges them (a node that never reports ready is replaced after "
        "health.startup_timeout). The node image needs open-vm-tools (vmware-rpctool) for "
        "the report; set readiness { wait = false } not to wait.",
    )
