"""VMs with a cluster's marks that the state does not hold, and what becomes of them.

A run writes what it is about to make into the cluster's record (``intent``: VM name ->
node, role, address, host, datastore) before it makes it, and the nodes it made once they
exist. A run killed in between (SIGKILL, a lost CI job) leaves VMs that Terraform's state
never heard of. ``sort_leftovers`` (pure) decides, from the state's nodes and that record:

- a running VM the record says a run made, for a node the state has lost (its VM gone, or
  on a host that does not answer) or does not have at all, is **adopted**: the node is
  finished, and making it again would put two VMs on one address;
- any other (a second VM for a node that has one, one powered off before it was finished,
  one that no record mentions) is a **stray**: it stays in the node map as
  ``node@host/vm-id`` with status ``leftover``, so the plan shows its removal and apply
  removes it. Nothing is left for a person.

An intended VM that never came to exist may have left its folder with a copied disk
(``unfinished``): the next run that takes the platform lock removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...bridge.diagnostics import DiagnosticError

if TYPE_CHECKING:
    from ...esxi.inventory import Inventory

__all__ = [
    "INTENT",
    "LEFTOVER",
    "Leftover",
    "Sorted",
    "intent_of",
    "is_stray",
    "leftovers_in",
    "sort_leftovers",
    "stray_key",
    "unfinished",
]

INTENT = "intent"  # the record's field: VM name -> what a run is about to make
LEFTOVER = "leftover"  # a stray's status in the node map


@dataclass(frozen=True)
class Leftover:
    """A VM with the cluster's marks that no node of the state points at."""

    host: str
    vm_id: str
    vm_name: str
    node: str  # its ``photon.node`` mark
    role: str  # its ``photon.role`` mark
    running: bool


@dataclass(frozen=True)
class Sorted:
    adopted: dict[str, dict[str, Any]]  # node -> its node entry (status still to judge)
    strays: dict[str, dict[str, Any]]  # ``node@host/vm-id`` -> its node entry


def stray_key(leftover: Leftover) -> str:
    return f"{leftover.node}@{leftover.host}/{leftover.vm_id}"


def is_stray(name: str) -> bool:
    return "@" in name


def intent_of(record: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    intent = (record or {}).get(INTENT)
    return dict(intent) if isinstance(intent, Mapping) else {}


def leftovers_in(
    inventories: Mapping[str, Inventory | DiagnosticError],
    tenant: str,
    cluster: str,
    nodes: Mapping[str, Mapping[str, Any]],
) -> list[Leftover]:
    """The VMs with the cluster's marks that none of ``nodes`` points at (VM ids are per
    host: both are matched)."""
    known = {(n.get("host"), n.get("vm_id")) for n in nodes.values()}
    found = []
    for host, inventory in inventories.items():
        if isinstance(inventory, DiagnosticError):
            continue
        for vm in inventory.vms.values():
            marks = vm.marks
            ours = (marks.get("tenant"), marks.get("cluster")) == (tenant, cluster)
            if ours and (host, vm.moid) not in known:
                node, role = marks.get("node", "?"), marks.get("role", "?")
                running = vm.power_state == "poweredOn"
                found.append(Leftover(host, vm.moid, vm.name, node, role, running))
    return sorted(found, key=lambda v: (v.node, v.host, v.vm_name))


def sort_leftovers(
    nodes: Mapping[str, Mapping[str, Any]],
    present: Callable[[str], bool],
    leftovers: Iterable[Leftover],
    record: Mapping[str, Any] | None,
) -> Sorted:
    """Which leftovers are adopted and which are strays (see the module's docstring).
    ``present(node)``: whether that state node's VM is seen on its host."""
    made = _made_by_a_run(record)
    candidates: dict[str, list[tuple[Leftover, dict[str, Any]]]] = {}
    strays: dict[str, dict[str, Any]] = {}
    for leftover in leftovers:
        entry = _adoptable(leftover, nodes, present, made)
        if entry is None:
            strays[stray_key(leftover)] = _entry(leftover, None, LEFTOVER)
        else:
            candidates.setdefault(leftover.node, []).append((leftover, entry))
    adopted = {}
    for node, found in candidates.items():
        # The one a finished run recorded, else the newest (a restored VM's name ends with
        # when it was made).
        found.sort(key=lambda c: (made.finished(c[0]), c[0].vm_name), reverse=True)
        adopted[node] = found[0][1]
        for leftover, _ in found[1:]:
            strays[stray_key(leftover)] = _entry(leftover, None, LEFTOVER)
    return Sorted(adopted, strays)


@dataclass(frozen=True)
class _Made:
    """What the record says runs made: VMs its nodes point at (a run finished them), and
    the VMs a run was about to make."""

    recorded: Mapping[tuple[str, str], Mapping[str, Any]]  # (host, vm id) -> node entry
    intended: Mapping[str, Mapping[str, Any]]  # VM name -> node, role, ip, host, datastore

    def finished(self, leftover: Leftover) -> bool:
        return (leftover.host, leftover.vm_id) in self.recorded

    def meant(self, leftover: Leftover) -> Mapping[str, Any] | None:
        return self.recorded.get((leftover.host, leftover.vm_id)) or self.intended.get(
            leftover.vm_name
        )


def _made_by_a_run(record: Mapping[str, Any] | None) -> _Made:
    recorded = {
        (node.get("host"), node.get("vm_id")): {**node, "node": name}
        for name, node in ((record or {}).get("nodes") or {}).items()
    }
    return _Made(recorded, intent_of(record))


def _adoptable(
    leftover: Leftover,
    nodes: Mapping[str, Mapping[str, Any]],
    present: Callable[[str], bool],
    made: _Made,
) -> dict[str, Any] | None:
    """The node entry ``leftover`` would give, if it may be adopted."""
    meant = made.meant(leftover)
    if not leftover.running or meant is None or meant.get("node") != leftover.node:
        return None
    if meant.get("host") not in (None, leftover.host) or meant.get("role") != leftover.role:
        return None
    node = nodes.get(leftover.node)
    if node is None:
        return _entry(leftover, meant.get("ip"), "")
    if present(leftover.node) or node.get("role") != leftover.role:
        return None
    return _entry(leftover, node.get("ip"), "")


def _entry(leftover: Leftover, ip: str | None, status: str) -> dict[str, Any]:
    return {"role": leftover.role, "host": leftover.host, "vm_id": leftover.vm_id,
            "ip": ip, "mac": None, "status": status}  # fmt: skip


def unfinished(
    intent: Mapping[str, Mapping[str, Any]],
    inventories: Mapping[str, Inventory | DiagnosticError],
) -> dict[str, list[str]]:
    """host -> folders (``[datastore] vm-name``) of intended VMs that do not exist on their
    host: an interrupted run may have copied their disk. Hosts that do not answer are left
    for a later run."""
    folders: dict[str, list[str]] = {}
    for vm_name, meant in sorted(intent.items()):
        host, datastore = meant.get("host"), meant.get("datastore")
        inventory = inventories.get(host) if isinstance(host, str) else None
        if inventory is None or isinstance(inventory, DiagnosticError) or not datastore:
            continue
        if all(vm.name != vm_name for vm in inventory.vms.values()):
            folders.setdefault(host, []).append(f"[{datastore}] {vm_name}")  # type: ignore[arg-type]
    return folders
