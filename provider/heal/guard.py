"""The plan guard: is a saved plan (``terraform show -json``) nothing but node restorations?

The healer applies without a person, so it must apply only what the health policy decided:
every change an in-place update of a ``photon_k8s_cluster`` whose only differences are inside
``nodes``, each a node that was not ready coming back as ``ready`` either with a new VM (host,
vm_id and mac unknown: replaced) or with the same VM (powered on, its NIC repaired, or reset),
or a leftover VM of an interrupted run (``worker-2@esx-1/vm-9``, status ``leftover``) removed.
Anything else — a config change nobody applied, a create, a delete, a replace, a move, an
import, a tenant or quota change, a healthy node touched — refuses the whole plan, and the
refusal names the address and the attribute, never a value (values may be secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLUSTER_TYPE", "Restoration", "Verdict", "judge"]

CLUSTER_TYPE = "photon_k8s_cluster"
_READY = "ready"
_LEFTOVER = "leftover"  # a VM with a cluster's marks that is none of its nodes
_NODE_KEEPS = ("role", "ip")  # a restored node is the same node: same name, role and address
_VM_KEYS = ("host", "vm_id", "mac")  # unknown together when the node gets a new VM
# Same VM, put right: powered on, its NIC repaired, or reset (a hung or not ready guest).
_IN_PLACE = {
    "powered_off": "power_on",
    "network_lost": "repair",
    "not_ready": "reset",
    "guest_hung": "reset",
}


@dataclass(frozen=True)
class Restoration:
    address: str
    tenant: str
    cluster: str
    node: str
    role: str
    host: str  # where the node was
    seen: str  # its status before: lost, powered_off, network_lost, ...
    action: str  # "replace" (new VM), "power_on", "repair", "reset" (same VM), "remove_leftover"


@dataclass
class Verdict:
    restorations: list[Restoration] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # "address: attribute: why"

    @property
    def accepted(self) -> bool:
        return not self.refusals and bool(self.restorations)


def judge(plan: Mapping[str, Any]) -> Verdict:
    """Judge a whole plan; an empty plan is not accepted (nothing to apply)."""
    verdict = Verdict()
    if plan.get("errored"):
        verdict.refusals.append("the plan is marked errored")
    for change in plan.get("resource_changes") or ():
        _judge_resource(change, verdict)
    for name, output in (plan.get("output_changes") or {}).items():
        _judge_output(name, output, verdict)
    return verdict


def _judge_resource(rc: Mapping[str, Any], verdict: Verdict) -> None:
    address = str(rc.get("address", "?"))
    change = rc.get("change") or {}
    actions = list(change.get("actions") or ())
    if rc.get("previous_address") and rc.get("previous_address") != address:
        verdict.refusals.append(f"{address}: moved from {rc['previous_address']}")
    if change.get("importing"):
        verdict.refusals.append(f"{address}: would be imported")
    if rc.get("deposed"):
        verdict.refusals.append(f"{address}: deposed object {rc['deposed']} would be destroyed")
    if actions == ["no-op"] or (actions == ["read"] and rc.get("mode") == "data"):
        return
    if actions != ["update"] or rc.get("type") != CLUSTER_TYPE:
        verdict.refusals.append(f"{address}: {'/'.join(actions)} is not a node restoration")
        return
    _judge_cluster(address, change, verdict)


def _judge_cluster(address: str, change: Mapping[str, Any], verdict: Verdict) -> None:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    for attribute in sorted(set(before) | set(after) | set(unknown)):
        if attribute == "nodes":
            continue
        if _is_unknown(unknown.get(attribute)) or before.get(attribute) != after.get(attribute):
            verdict.refusals.append(f"{address}: {attribute} would change")
    nodes_before = before.get("nodes") or {}
    nodes_after = after.get("nodes") or {}
    nodes_unknown = unknown.get("nodes") or {}
    if not isinstance(nodes_unknown, Mapping):  # the whole map unknown: nodes re-planned
        verdict.refusals.append(f"{address}: nodes would be planned anew")
        return
    for node in sorted(set(nodes_before) | set(nodes_after)):
        if node not in nodes_after and nodes_before[node].get("status") == _LEFTOVER:
            verdict.restorations.append(_restoration(address, before, node, "remove_leftover"))
        elif node not in nodes_after:
            verdict.refusals.append(f'{address}: nodes["{node}"] would be removed')
        elif node not in nodes_before:
            verdict.refusals.append(f'{address}: nodes["{node}"] would be added')
        else:
            found = _judge_node(
                address, before, node, nodes_before[node], nodes_after[node],
                nodes_unknown.get(node) or {},
            )  # fmt: skip
            if isinstance(found, Restoration):
                verdict.restorations.append(found)
            elif found:
                verdict.refusals.append(found)


def _judge_node(
    address: str,
    cluster: Mapping[str, Any],
    node: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    unknown: Mapping[str, Any],
) -> Restoration | str | None:
    """None: untouched; a Restoration; or a refusal."""
    path = f'{address}: nodes["{node}"]'
    unknown_keys = {k for k, v in unknown.items() if _is_unknown(v)}
    if not unknown_keys and before == after:
        return None
    for key in _NODE_KEEPS:
        if key in unknown_keys or before.get(key) != after.get(key):
            return f"{path}.{key} would change"
    if before.get("status") == _READY or after.get("status") != _READY or "status" in unknown_keys:
        return f"{path}: a ready node would change"
    moved = unknown_keys | {k for k in _VM_KEYS if before.get(k) != after.get(k)}
    seen = str(before.get("status") or "")
    if {"host", "vm_id"} <= unknown_keys <= set(_VM_KEYS):
        action = "replace"
    elif moved:
        return f"{path}: {', '.join(sorted(moved))} would change"
    elif seen in _IN_PLACE:
        action = _IN_PLACE[seen]
    else:
        return f"{path}: a {seen} node cannot be put right on the same VM"
    return _restoration(address, cluster, node, action)


def _restoration(address: str, cluster: Mapping[str, Any], node: str, action: str) -> Restoration:
    before = cluster["nodes"][node]
    return Restoration(
        address=address,
        tenant=str(cluster.get("tenant") or ""),
        cluster=str(cluster.get("name") or ""),
        node=node,
        role=str(before.get("role") or ""),
        host=str(before.get("host") or ""),
        seen=str(before.get("status") or ""),
        action=action,
    )


def _judge_output(name: str, output: Mapping[str, Any], verdict: Verdict) -> None:
    """An output whose new value is only known after apply follows from a restoration (a
    node's vm_id); a known new value means its configuration changed."""
    actions = list(output.get("actions") or ())
    if actions == ["no-op"]:
        return
    if actions == ["update"] and output.get("after_unknown") is True:
        return
    verdict.refusals.append(f"output.{name}: {'/'.join(actions)} is not a node restoration")


def _is_unknown(marker: object) -> bool:
    """``after_unknown`` mirrors the value: true at an unknown leaf, false/{}/[] otherwise."""
    if marker is True:
        return True
    if isinstance(marker, Mapping):
        return any(_is_unknown(v) for v in marker.values())
    if isinstance(marker, list):
        return any(_is_unknown(v) for v in marker)
    return False
