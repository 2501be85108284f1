"""The plan guard over ``terraform show -json`` shapes: only node restorations pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from provider.heal.cycle import cluster_grace_periods, unhealthy_nodes
from provider.heal.guard import judge

ADDRESS = "photon_k8s_cluster.c"


def node(status: str = "ready", host: str = "esx-1", vm_id: str = "vm-1", **kw: Any) -> dict:
    return {"role": "worker", "ip": None, "status": status, "host": host, "vm_id": vm_id, **kw}


def cluster_change(
    before_nodes: dict, after_nodes: dict, unknown_nodes: dict, **attrs: Any
) -> dict:
    before = {"name": "prod", "tenant": "team-a", "worker_count": 2, "nodes": before_nodes}
    after = {**before, **attrs, "nodes": after_nodes}
    return {
        "address": ADDRESS,
        "mode": "managed",
        "type": "photon_k8s_cluster",
        "change": {
            "actions": ["update"],
            "before": before,
            "after": after,
            "after_unknown": {"nodes": unknown_nodes},
        },
    }


def plan(*changes: dict, **extra: Any) -> dict:
    tenant = {
        "address": "photon_tenant.t",
        "mode": "managed",
        "type": "photon_tenant",
        "change": {"actions": ["no-op"], "before": {}, "after": {}, "after_unknown": {}},
    }
    return {"resource_changes": [tenant, *changes], **extra}


REPLACED = {"role": "worker", "ip": None, "status": "ready"}  # host and vm_id unknown
LOST_REPLACED = cluster_change(
    {"w1": node("lost"), "w2": node(vm_id="vm-2")},
    {"w1": REPLACED, "w2": node(vm_id="vm-2")},
    {"w1": {"host": True, "vm_id": True}, "w2": {}},
)
POWERED_ON = cluster_change({"w1": node("powered_off")}, {"w1": node("ready")}, {"w1": {}})


def with_change(base: dict, fn: Any) -> dict:
    changed = copy.deepcopy(base)
    fn(changed)
    return changed


ACCEPTED = {
    "a lost worker replaced": (plan(LOST_REPLACED), [("w1", "replace", "lost")]),
    "a powered-off node powered on": (plan(POWERED_ON), [("w1", "power_on", "powered_off")]),
    "a powered-off node replaced": (
        plan(
            cluster_change(
                {"w1": node("powered_off")}, {"w1": REPLACED}, {"w1": {"host": True, "vm_id": True}}
            )
        ),
        [("w1", "replace", "powered_off")],
    ),
    "a data source read": (
        plan(
            LOST_REPLACED,
            {"address": "data.photon_hosts.h", "mode": "data", "change": {"actions": ["read"]}},
        ),
        [("w1", "replace", "lost")],
    ),
    "a disk-lost node replaced, its new MAC unknown": (
        plan(
            cluster_change(
                {"w1": node("disk_lost", mac="00:0c:29:aa:bb:cc")},
                {"w1": REPLACED},
                {"w1": {"host": True, "vm_id": True, "mac": True}},
            )
        ),
        [("w1", "replace", "disk_lost")],
    ),
    "a node's NIC repaired in place": (
        plan(
            cluster_change(
                {"w1": node("network_lost", mac="00:0c:29:aa:bb:cc")},
                {"w1": node("ready", mac="00:0c:29:aa:bb:cc")},
                {"w1": {}},
            )
        ),
        [("w1", "repair", "network_lost")],
    ),
    "a not ready node reset": (
        plan(cluster_change({"w1": node("not_ready")}, {"w1": node("ready")}, {"w1": {}})),
        [("w1", "reset", "not_ready")],
    ),
    "a hung guest reset": (
        plan(cluster_change({"w1": node("guest_hung")}, {"w1": node("ready")}, {"w1": {}})),
        [("w1", "reset", "guest_hung")],
    ),
    "a node that never came up replaced": (
        plan(
            cluster_change(
                {"w1": node("never_ready")}, {"w1": REPLACED}, {"w1": {"host": True, "vm_id": True}}
            )
        ),
        [("w1", "replace", "never_ready")],
    ),
    "a leftover VM of an interrupted run removed": (
        plan(
            cluster_change(
                {"w1": node(), "w1@esx-2/vm-7": node("leftover", "esx-2", "vm-7")},
                {"w1": node()},
                {"w1": {}},
            )
        ),
        [("w1@esx-2/vm-7", "remove_leftover", "leftover")],
    ),
    "an output unknown after the restoration": (
        plan(LOST_REPLACED, output_changes={"ids": {"actions": ["update"], "after_unknown": True}}),
        [("w1", "replace", "lost")],
    ),
}


@pytest.mark.parametrize("shape", ACCEPTED)
def test_restorations_are_accepted(shape: str) -> None:
    shown, expected = ACCEPTED[shape]
    verdict = judge(shown)
    assert verdict.refusals == [] and verdict.accepted
    assert [(r.node, r.action, r.seen) for r in verdict.restorations] == expected
    assert {(r.tenant, r.cluster, r.role) for r in verdict.restorations} == {
        ("team-a", "prod", "worker")
    }


def _resource(actions: list[str], type_: str = "photon_quota", address: str = "photon_quota.q"):
    return {"address": address, "mode": "managed", "type": type_, "change": {"actions": actions}}


REFUSED = {
    "a config change beside a restoration": (
        plan(with_change(LOST_REPLACED, lambda c: c["change"]["after"].update(worker_count=3))),
        ["photon_k8s_cluster.c: worker_count would change"],
    ),
    "an attribute unknown after apply": (
        plan(
            with_change(
                LOST_REPLACED, lambda c: c["change"]["after_unknown"].update(kubeconfig=True)
            )
        ),
        ["photon_k8s_cluster.c: kubeconfig would change"],
    ),
    "a node added": (
        plan(
            with_change(
                LOST_REPLACED,
                lambda c: (
                    c["change"]["after"]["nodes"].update(w3=REPLACED),
                    c["change"]["after_unknown"]["nodes"].update(w3={"host": True, "vm_id": True}),
                ),
            )
        ),
        ['photon_k8s_cluster.c: nodes["w3"] would be added'],
    ),
    "a node removed": (
        plan(with_change(LOST_REPLACED, lambda c: c["change"]["after"]["nodes"].pop("w2"))),
        ['photon_k8s_cluster.c: nodes["w2"] would be removed'],
    ),
    "a ready node rolled (new image)": (
        plan(
            cluster_change({"w1": node()}, {"w1": REPLACED}, {"w1": {"host": True, "vm_id": True}})
        ),
        ['photon_k8s_cluster.c: nodes["w1"]: a ready node would change'],
    ),
    "a node's address changed": (
        plan(
            cluster_change(
                {"w1": node("lost")},
                {"w1": {**REPLACED, "ip": "10.0.0.9"}},
                {"w1": {"host": True, "vm_id": True}},
            )
        ),
        ['photon_k8s_cluster.c: nodes["w1"].ip would change'],
    ),
    "a lost node moved to another known VM": (
        plan(cluster_change({"w1": node("lost")}, {"w1": node(vm_id="vm-9")}, {"w1": {}})),
        ['photon_k8s_cluster.c: nodes["w1"]: vm_id would change'],
    ),
    "a repaired node's MAC changed": (
        plan(
            cluster_change(
                {"w1": node("network_lost", mac="00:0c:29:aa:bb:cc")},
                {"w1": node("ready", mac="00:50:56:00:00:01")},
                {"w1": {}},
            )
        ),
        ['photon_k8s_cluster.c: nodes["w1"]: mac would change'],
    ),
    "a disk-lost node ready on the same VM": (
        plan(cluster_change({"w1": node("disk_lost")}, {"w1": node()}, {"w1": {}})),
        ['photon_k8s_cluster.c: nodes["w1"]: a disk_lost node cannot be put right on the same VM'],
    ),
    "the nodes map unknown": (
        plan(with_change(LOST_REPLACED, lambda c: c["change"]["after_unknown"].update(nodes=True))),
        ["photon_k8s_cluster.c: nodes would be planned anew"],
    ),
    "a cluster replaced": (
        plan(_resource(["delete", "create"], "photon_k8s_cluster", ADDRESS)),
        ["photon_k8s_cluster.c: delete/create is not a node restoration"],
    ),
    "a quota change": (
        plan(LOST_REPLACED, _resource(["update"])),
        ["photon_quota.q: update is not a node restoration"],
    ),
    "a tenant created": (
        plan(_resource(["create"], "photon_tenant", "photon_tenant.u")),
        ["photon_tenant.u: create is not a node restoration"],
    ),
    "a destroy": (
        plan(_resource(["delete"])),
        ["photon_quota.q: delete is not a node restoration"],
    ),
    "a move": (
        plan({**_resource(["no-op"]), "previous_address": "photon_quota.old"}),
        ["photon_quota.q: moved from photon_quota.old"],
    ),
    "an import": (
        plan({**_resource(["no-op"]), "change": {"actions": ["no-op"], "importing": {"id": "x"}}}),
        ["photon_quota.q: would be imported"],
    ),
    "a known output change": (
        plan(LOST_REPLACED, output_changes={"o": {"actions": ["update"], "after_unknown": False}}),
        ["output.o: update is not a node restoration"],
    ),
    "an errored plan": (plan(LOST_REPLACED, errored=True), ["the plan is marked errored"]),
    "a booting node said ready on its VM": (
        plan(cluster_change({"w1": node("booting")}, {"w1": node("ready")}, {"w1": {}})),
        ['photon_k8s_cluster.c: nodes["w1"]: a booting node cannot be put right on the same VM'],
    ),
}


@pytest.mark.parametrize("shape", REFUSED)
def test_anything_else_is_refused_by_address_and_attribute(shape: str) -> None:
    shown, expected = REFUSED[shape]
    verdict = judge(shown)
    assert verdict.refusals == expected and not verdict.accepted


def test_an_empty_plan_is_not_accepted() -> None:
    verdict = judge(plan())
    assert verdict.refusals == [] and not verdict.accepted


def test_refusals_never_hold_values() -> None:
    secret = "-----BEGIN PRIVATE KEY-----"
    shown = plan(
        with_change(LOST_REPLACED, lambda c: c["change"]["after"].update(kubeconfig=secret))
    )
    assert secret not in repr(judge(shown))


def test_grace_periods_from_the_prior_state() -> None:
    values = {"tenant": "team-a", "name": "prod", "health": {"grace_period": "1m30s"}}
    child = {"resources": [{"type": "photon_k8s_cluster", "values": {"tenant": "t", "name": "x"}}]}
    shown = {
        "prior_state": {
            "values": {
                "root_module": {
                    "resources": [{"type": "photon_k8s_cluster", "values": values}],
                    "child_modules": [child],
                }
            }
        }
    }
    assert cluster_grace_periods(shown) == {("team-a", "prod"): 90.0, ("t", "x"): 300.0}


def test_unhealthy_nodes_from_the_prior_state() -> None:
    """The healer stops coming back for nodes the refreshed state shows ready again."""
    nodes = {"worker-1": node("network_lost"), "worker-2": node(), "master-1": node("lost")}
    child = {
        "resources": [
            {
                "type": "photon_k8s_cluster",
                "values": {"tenant": "t", "name": "x", "nodes": {"w": node()}},
            }
        ]
    }
    root = {
        "resources": [
            {
                "type": "photon_k8s_cluster",
                "values": {"tenant": "team-a", "name": "prod", "nodes": nodes},
            }
        ],
        "child_modules": [child],
    }
    shown = {"prior_state": {"values": {"root_module": root}}}
    assert unhealthy_nodes(shown) == {
        ("team-a", "prod", "worker-1"),
        ("team-a", "prod", "master-1"),
    }
