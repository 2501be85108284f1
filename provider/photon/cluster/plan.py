"""What an update does to a cluster's nodes: decided once, at plan, and carried out at apply.

``plan_nodes`` is pure. From the prior state (nodes with their refreshed status), the
planned model, what plan observed beyond them (when each unhealthy node was first seen and
last reset, whether the secrets can issue etcd certificates), the health policy and the
time, it says which nodes are kept as they are, added, removed, rolled (workers replaced one
at a time for a new flavor or image), restored (a new VM for an unhealthy node), repaired in
place (its NIC put right), reset (a hung or not ready guest: the same VM, a new boot) and
powered on; and what the plan says about health (warnings, or the refusal of a restore that
cannot work). The resource writes the ``NodePlan`` into the plan's private
state (``to_private``) and apply reads it back, instead of guessing from the planned values.

Health is judged over the nodes still wanted: a node removed anyway is not restored as well,
and a node that health puts right is not rolled as well (its restore makes the new build).
See health.py for the policy itself, rolls.py for what a roll may do.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...bridge.cty import UNKNOWN, Path
from ...bridge.diagnostics import Diagnostic, DiagnosticError, Severity
from .health import (
    GUEST_HUNG,
    HEALTHY,
    HOST_MAINTENANCE,
    NETWORK_LOST,
    READY,
    RESET_FIRST,
    HealthPlan,
    HealthPolicy,
    judge_control_plane,
    plan_health,
)
from .kubernetes.spec import Node
from .model import ClusterModel, NodeState
from .nodes import ROLES, node_changes, node_number
from .rolls import roll_refusals
from .values import load_private

__all__ = [
    "DESTROY_ANYWAY",
    "NodePlan",
    "Observed",
    "judged_statuses",
    "node_plan_at_apply",
    "plan_nodes",
    "with_node_plan",
]

# Terraform plans the configuration before `terraform destroy` (a normal plan), so every
# refusal at plan would also stop the destroy of the very cluster it is about.
DESTROY_ANYWAY = (
    " (To destroy this configuration instead, run `terraform destroy -refresh=false`: "
    "Terraform plans the configuration before a destroy.)"
)
NODE_PLAN = "node_plan"  # key of the node plan in the private state, from plan to apply
NEW_VM = {"host": UNKNOWN, "vm_id": UNKNOWN, "mac": UNKNOWN}  # made by apply


@dataclass(frozen=True)
class Observed:
    """What plan knows beyond the prior state and the configuration."""

    unhealthy_since: Mapping[str, datetime.datetime] = field(default_factory=dict)
    resets: Mapping[str, datetime.datetime] = field(default_factory=dict)  # of current VMs
    etcd_ca_key: bool = True  # False: imported from records without it (no new etcd member)


@dataclass(frozen=True)
class NodePlan:
    keep: tuple[str, ...] = ()  # stay on their VM, unchanged
    add: tuple[Node, ...] = ()  # new nodes, in creation order
    remove: tuple[str, ...] = ()  # no longer wanted, newest workers first
    roll: tuple[str, ...] = ()  # workers replaced one at a time
    restore: tuple[str, ...] = ()  # unhealthy: a new VM, same name, role and address
    repair: tuple[str, ...] = ()  # NIC put right, same VM
    power_on: tuple[str, ...] = ()
    reset: tuple[str, ...] = ()  # hung or not ready: same VM, a new boot
    notes: tuple[Diagnostic, ...] = ()  # what plan says about health

    @property
    def changes(self) -> bool:
        """Whether the plan changes any node (else the node map stays as it is)."""
        return any(
            (self.add, self.remove, self.roll, self.restore, self.repair, self.power_on, self.reset)
        )

    def planned_nodes(
        self, prior: Mapping[str, NodeState], model: ClusterModel
    ) -> dict[str, dict[str, Any]]:
        """The ``nodes`` map the plan shows: a new VM's host, vm_id and mac are known after
        apply, and it is made with the build of its role now; a restored, repaired, reset or
        powered-on node is ready (a rolled one keeps its status until its new VM is there)."""
        nodes = {n: v.as_dict() for n, v in prior.items() if n not in self.remove}
        for name in self.roll:
            nodes[name].update(NEW_VM, **_new_build(model, nodes[name]["role"]))
        for name in self.restore:
            nodes[name].update(status=READY, **NEW_VM, **_new_build(model, nodes[name]["role"]))
        for name in self.repair + self.power_on + self.reset:
            nodes[name]["status"] = READY
        for node in self.add:
            nodes[node.name] = {"role": node.role, "ip": node.ip, "status": READY, **NEW_VM,
                                **_new_build(model, node.role)}  # fmt: skip
        return nodes

    def written_hosts(self, prior: Mapping[str, NodeState]) -> set[str]:
        """Hosts whose VMs apply changes: removed, rolled while ready, powered on, repaired or
        reset.
        The remnant of a lost node is not counted: leaving it is only a warning."""
        rolled = [n for n in self.roll if prior[n].status == READY]
        changed = self.remove + tuple(rolled) + self.power_on + self.repair + self.reset
        return {prior[n].host for n in changed}

    def to_private(self) -> dict[str, Any]:
        plan = {k: list(v) for k, v in vars(self).items() if k not in ("add", "notes")}
        return {**plan, "add": [[n.name, n.role, n.ip] for n in self.add]}

    @classmethod
    def from_private(cls, data: Mapping[str, Any]) -> NodePlan:
        names = ("keep", "remove", "roll", "restore", "repair", "power_on", "reset")
        return cls(
            add=tuple(Node(*n) for n in data["add"]),
            **{k: tuple(data.get(k, ())) for k in names},  # a plan made before resets: none
        )


def _new_build(model: ClusterModel, role: str) -> dict[str, Any]:
    """A new VM's build as the plan shows it (a part not known yet: known after apply)."""
    return {k: UNKNOWN if v is None else v for k, v in model.build_for(role).as_dict().items()}


def plan_nodes(
    prior: ClusterModel | None,
    model: ClusterModel,
    observed: Observed,
    policy: HealthPolicy,
    now: datetime.datetime,
) -> NodePlan:
    """The node plan of a create (``prior`` None: every desired node is added) or update."""
    if prior is None or prior.nodes is None:
        return NodePlan(add=tuple(model.desired))
    change = node_changes(model.desired, prior.nodes)
    kept, roll = _staying(prior, model)
    statuses = {n: prior.nodes[n].status for n in kept}
    health, notes = _judge_health(prior.nodes, statuses, observed, policy, now)
    put_right = set(health.restore) | set(health.repair) | set(health.power_on)
    put_right |= set(health.reset)
    roll = [n for n in roll if n not in put_right]  # a restore makes it with the new build
    acted = set(roll) | put_right
    counts = {r: sum(n.role == r for n in model.desired) for r in ROLES}
    versions = {n: prior.built(n).kubernetes_version for n in prior.nodes if "@" not in n}
    wanted = model["kubernetes_version"]
    notes += roll_refusals(prior.nodes, versions, roll, counts, wanted, put_right)
    return NodePlan(
        keep=tuple(n for n in kept if n not in acted),
        add=tuple(change.add),
        remove=tuple(change.remove),
        roll=tuple(roll),
        restore=tuple(health.restore),
        repair=tuple(health.repair),
        power_on=tuple(health.power_on),
        reset=tuple(health.reset),
        notes=tuple(notes),
    )


def with_node_plan(private: bytes, node_plan: NodePlan | None) -> bytes:
    """The private state with this node plan (or none) beside the secrets."""
    data = load_private(private)
    data.pop(NODE_PLAN, None)
    if node_plan is not None:
        data[NODE_PLAN] = node_plan.to_private()
    return json.dumps(data).encode() if data or private else private


def node_plan_at_apply(
    private: bytes, prior: ClusterModel, model: ClusterModel, now: datetime.datetime
) -> NodePlan:
    """The node plan that plan handed over, checked against what the same inputs give now;
    without one (the node map was unknown at plan), that plan without health work: what
    plan did not show, apply does not restore. Workers roll only if they still must (a
    flavor unknown at plan may turn out unchanged)."""
    shape = plan_nodes(prior, model, Observed(), HealthPolicy(enabled=False), now)
    data = load_private(private).get(NODE_PLAN)
    if data is None:
        return dataclasses.replace(shape, notes=())
    planned = NodePlan.from_private(data)
    if (planned.add, planned.remove) != (shape.add, shape.remove):
        raise DiagnosticError(
            "The plan no longer fits the cluster",
            "The nodes this plan adds or removes differ from what the cluster's state and "
            "configuration give now. Run `terraform plan` again.",
        )
    return dataclasses.replace(planned, roll=tuple(n for n in planned.roll if n in shape.roll))


def judged_statuses(prior: ClusterModel, model: ClusterModel) -> dict[str, str]:
    """The refreshed status of each node health judges: those still wanted."""
    assert prior.nodes is not None
    kept, _ = _staying(prior, model)
    return {n: prior.nodes[n].status for n in kept}


def _staying(prior: ClusterModel, model: ClusterModel) -> tuple[list[str], list[str]]:
    """The prior nodes still wanted, and those of them replaced by a roll (a new version,
    image or flavor), in the order they roll: etcd members, masters, then workers. An
    unhealthy etcd member or master is left to the health policy (a restore makes its new VM
    with the new build anyway); a roll waits for it (rolls.py)."""
    assert prior.nodes is not None
    wanted = {n.name for n in model.desired}
    kept = [n for n in prior.nodes if n in wanted]
    roll = [
        n
        for n in kept
        if model.rolls(prior, n)
        and (prior.nodes[n].role == "worker" or prior.nodes[n].status in HEALTHY)
    ]
    return kept, sorted(roll, key=lambda n: _roll_order(prior, n))


def _roll_order(prior: ClusterModel, name: str) -> tuple[int, int]:
    assert prior.nodes is not None
    return ROLES.index(prior.nodes[name].role), node_number(name)


def _judge_health(
    nodes: Mapping[str, NodeState],
    statuses: Mapping[str, str],
    observed: Observed,
    policy: HealthPolicy,
    now: datetime.datetime,
) -> tuple[HealthPlan, list[Diagnostic]]:
    """The health policy's plan, less what cannot rejoin the cluster (said in the notes)."""
    if all(s in HEALTHY for s in statuses.values()):
        return HealthPlan(), []
    health = plan_health(statuses, observed.unhealthy_since, now, policy, observed.resets)
    notes = _health_warnings(policy, health, statuses, observed, now)
    notes += _keep_unrestorable(nodes, health, observed)
    roles = {n: nodes[n].role for n in statuses}
    verdict = judge_control_plane(roles, statuses, health, policy)
    if verdict.refusal:
        refusal = verdict.refusal + DESTROY_ANYWAY
        path = Path.root().attr("health")
        error = Diagnostic(Severity.ERROR, "Control plane cannot be restored", refusal, path)
        return HealthPlan(), [*notes, error]
    if verdict.rebuild:
        notes.append(_warning("All cluster state will be lost", verdict.rebuild))
    return health, notes


def _warning(summary: str, detail: str, path: Path | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, path)


def _health_warnings(
    policy: HealthPolicy,
    health: HealthPlan,
    statuses: Mapping[str, str],
    observed: Observed,
    now: datetime.datetime,
) -> list[Diagnostic]:
    """Why unhealthy nodes are not restored (yet)."""
    notes, since = [], observed.unhealthy_since
    if health.held_back:
        notes.append(_warning("Unhealthy nodes not restored", health.held_back))
    unhealthy = sorted(n for n, s in statuses.items() if s not in HEALTHY)
    if not policy.enabled:
        notes.append(
            _warning(
                "Unhealthy nodes not restored",
                f"{', '.join(unhealthy)}: health.enabled is false, so they are only reported.",
            )
        )
    for name in health.reset:
        off = int((now - since.get(name, now)).total_seconds())
        notes.append(
            _warning(
                f"Node {name} is reset",
                f"It has been {statuses[name]} for {off}s (health.grace_period "
                f"{policy.grace_text}): apply resets its VM (the same VM, a new boot). If it "
                f"is not ready {policy.startup_text} after that (health.startup_timeout), it "
                "is replaced.",
            )
        )
    for name in health.waiting:
        off = int((now - since.get(name, now)).total_seconds())
        reset_at = observed.resets.get(name)
        if reset_at is not None and statuses[name] in RESET_FIRST:
            ago = int((now - reset_at).total_seconds())
            notes.append(_reset_warning(name, statuses[name], ago, policy.startup_text))
        else:
            notes.append(_waiting_warning(name, statuses[name], off, policy.grace_text))
    return notes


def _reset_warning(name: str, status: str, ago: int, startup: str) -> Diagnostic:
    return _warning(
        f"Node {name} is still {status} after its reset",
        f"Its VM was reset {ago}s ago; it is replaced if it is not ready {startup} after "
        "the reset (health.startup_timeout).",
    )


def _waiting_warning(name: str, status: str, off: int, grace: str) -> Diagnostic:
    if status in RESET_FIRST:
        what = "its guest is hung" if status == GUEST_HUNG else "it reports it is not ready"
        return _warning(
            f"Node {name} is {status}",
            f"It has been seen so for {off}s ({what}); its VM is reset once that has "
            f"lasted {grace} (health.grace_period), and replaced if the reset does not help.",
        )
    if status == NETWORK_LOST:
        return _warning(
            f"Node {name} has lost its network",
            f"It has been seen so for {off}s; its NIC is put back in place once "
            f"that has lasted {grace} (health.grace_period).",
        )
    replaced = f"it is replaced once it has been off for {grace} (health.grace_period)"
    if status == HOST_MAINTENANCE:
        return _warning(
            f"Node {name} is on a host in maintenance mode",
            f"Its VM has been seen off for {off}s on a host being serviced; {replaced}, "
            "on another host. Take the host out of maintenance mode and power the VM "
            "on before then to keep it.",
        )
    return _warning(
        f"Node {name} is powered off",
        f"It has been seen off for {off}s; {replaced}; set health.power_on = true to "
        "power it on instead.",
    )


def _keep_unrestorable(
    nodes: Mapping[str, NodeState], health: HealthPlan, observed: Observed
) -> list[Diagnostic]:
    """An imported cluster whose records predate the etcd CA key cannot issue a new etcd
    member's certificate: say so, and restore everything else."""
    members = [n for n in health.restore if nodes[n].role == "etcd"]
    if not members or observed.etcd_ca_key:
        return []
    for name in members:
        health.restore.remove(name)
    return [
        _warning(
            "etcd members cannot be restored",
            f"{', '.join(members)}: this cluster was imported from records that do not hold "
            "its etcd CA key, so no certificate can be issued for a new member. Restore the "
            "Terraform state that created the cluster (its private data holds the key), or "
            "replace the etcd members by hand; the other nodes are restored.",
            Path.root().attr("nodes"),
        )
    ]
