"""plan_nodes: which nodes a plan keeps, adds, removes, rolls, restores, repairs and powers
on, for every status of the drift guide's table and every rule of the health policy."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from provider.bridge.cty import UNKNOWN
from provider.bridge.diagnostics import DiagnosticError, Severity
from provider.photon.cluster.health import HealthPolicy
from provider.photon.cluster.kubernetes.spec import Node
from provider.photon.cluster.plan import (
    NodePlan,
    Observed,
    node_plan_at_apply,
    plan_nodes,
    with_node_plan,
)

from .factories import model, node, standing

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
FRESH, OLD = NOW - datetime.timedelta(minutes=1), NOW - datetime.timedelta(minutes=10)
WORKERS = ("worker-1", "worker-2", "worker-3")
MASTERS = ("master-1", "master-2", "master-3")


def plan(
    statuses: dict[str, str],
    since: datetime.datetime = FRESH,
    policy: HealthPolicy | None = None,
    observed: Observed | None = None,
    **planned: object,
) -> NodePlan:
    """The plan for the standing cluster (3 masters, 3 workers) with these statuses."""
    prior = model(standing(statuses))
    seen = observed or Observed({n: since for n in statuses})
    return plan_nodes(prior, model(**planned), seen, policy or HealthPolicy(), NOW)


def acts(node_plan: NodePlan) -> dict[str, tuple[str, ...]]:
    return {
        k: getattr(node_plan, k)
        for k in ("remove", "roll", "restore", "repair", "power_on", "reset")
        if getattr(node_plan, k)
    }


def warnings(node_plan: NodePlan) -> list[str]:
    return [n.summary for n in node_plan.notes if n.severity is Severity.WARNING]


def errors(node_plan: NodePlan) -> list[str]:
    return [n.summary for n in node_plan.notes if n.severity is Severity.ERROR]


# -- every row of the drift guide's status table ------------------------------------------


@pytest.mark.parametrize(
    ("status", "since", "policy", "act", "warning"),
    [
        ("ready", FRESH, HealthPolicy(), None, None),
        ("powered_off", FRESH, HealthPolicy(), None, "Node worker-2 is powered off"),
        ("powered_off", OLD, HealthPolicy(), "restore", None),
        ("powered_off", FRESH, HealthPolicy(power_on=True), "power_on", None),
        ("host_maintenance", FRESH, HealthPolicy(), None,
         "Node worker-2 is on a host in maintenance mode"),
        ("host_maintenance", FRESH, HealthPolicy(power_on=True), None,
         "Node worker-2 is on a host in maintenance mode"),  # never powered on there
        ("host_maintenance", OLD, HealthPolicy(), "restore", None),
        ("network_lost", FRESH, HealthPolicy(), None, "Node worker-2 has lost its network"),
        ("network_lost", OLD, HealthPolicy(), "repair", None),
        ("port_group_lost", FRESH, HealthPolicy(), "restore", None),
        ("disk_lost", FRESH, HealthPolicy(), "restore", None),
        ("lost", FRESH, HealthPolicy(), "restore", None),
        ("booting", OLD, HealthPolicy(), None, None),
        ("never_ready", FRESH, HealthPolicy(), "restore", None),
        ("not_ready", FRESH, HealthPolicy(), None, "Node worker-2 is not_ready"),
        ("not_ready", OLD, HealthPolicy(), "reset", "Node worker-2 is reset"),
        ("guest_hung", FRESH, HealthPolicy(), None, "Node worker-2 is guest_hung"),
        ("guest_hung", OLD, HealthPolicy(), "reset", "Node worker-2 is reset"),
    ],
)  # fmt: skip
def test_each_status_of_the_drift_guide(
    status: str, since: datetime.datetime, policy: HealthPolicy, act: str | None,
    warning: str | None,
) -> None:  # fmt: skip
    node_plan = plan({"worker-2": status}, since, policy)
    assert acts(node_plan) == ({act: ("worker-2",)} if act else {})
    assert warnings(node_plan) == ([warning] if warning else [])
    kept = set(MASTERS + WORKERS) - ({"worker-2"} if act else set())
    assert set(node_plan.keep) == kept and not node_plan.add


def test_the_plan_shows_new_vms_as_unknown_and_acted_nodes_as_ready() -> None:
    prior = model(standing({"worker-1": "lost", "worker-2": "network_lost"}))
    node_plan = NodePlan(keep=(*MASTERS, "worker-3"), restore=("worker-1",), repair=("worker-2",))
    nodes = node_plan.planned_nodes(prior.nodes or {}, prior)
    assert nodes["worker-1"]["vm_id"] is UNKNOWN and nodes["worker-1"]["status"] == "ready"
    assert nodes["worker-1"]["flavor"] == "2/4/20"  # its new VM's build, known at plan
    assert nodes["worker-2"] == {**node("worker", vm="vm-14"), "status": "ready"}
    assert nodes["worker-3"] == node("worker", vm="vm-15")
    assert node_plan.written_hosts(prior.nodes or {}) == {"esx-1"}  # the repair only


def test_a_reset_node_keeps_its_vm_and_is_replaced_if_the_reset_did_not_help() -> None:
    prior = model(standing({"worker-2": "not_ready"}))
    reset = plan({"worker-2": "not_ready"}, OLD)
    assert reset.planned_nodes(prior.nodes or {}, prior)["worker-2"] == {
        **node("worker", vm="vm-14"), "status": "ready"
    }  # fmt: skip
    assert reset.written_hosts(prior.nodes or {}) == {"esx-1"}
    assert NodePlan.from_private(reset.to_private()) == dataclasses.replace(reset, notes=())
    recent = Observed({"worker-2": OLD}, {"worker-2": NOW - datetime.timedelta(minutes=3)})
    waiting = plan({"worker-2": "not_ready"}, observed=recent)
    assert acts(waiting) == {} and warnings(waiting) == [
        "Node worker-2 is still not_ready after its reset"
    ]
    assert "replaced if it is not ready 10m after the reset" in waiting.notes[0].detail
    long_ago = Observed({"worker-2": OLD}, {"worker-2": NOW - datetime.timedelta(minutes=10)})
    assert acts(plan({"worker-2": "not_ready"}, observed=long_ago)) == {"restore": ("worker-2",)}


def test_a_node_plan_from_before_resets_reads_as_none() -> None:
    old = {k: v for k, v in plan({"worker-2": "lost"}).to_private().items() if k != "reset"}
    assert NodePlan.from_private(old).reset == ()


# -- the health policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "policy", "act", "warning"),
    [
        # max_unhealthy: 50% of 6 nodes is 3; a fourth holds everything back
        ({w: "lost" for w in WORKERS}, HealthPolicy(), {"restore": WORKERS}, None),
        ({**{w: "lost" for w in WORKERS}, "master-1": "lost"}, HealthPolicy(), {},
         "Unhealthy nodes not restored"),
        ({"worker-1": "lost", "worker-2": "lost"}, HealthPolicy(max_unhealthy="1"), {},
         "Unhealthy nodes not restored"),
        ({"worker-1": "lost"}, HealthPolicy(max_unhealthy="0%"), {},
         "Unhealthy nodes not restored"),
        # enabled = false only reports
        ({"worker-1": "lost"}, HealthPolicy(enabled=False), {}, "Unhealthy nodes not restored"),
        # the grace period: exactly its length restores
        ({"worker-1": "powered_off"}, HealthPolicy(grace_period=datetime.timedelta(minutes=10)),
         {"restore": ("worker-1",)}, None),
        ({"worker-1": "powered_off"}, HealthPolicy(grace_period=datetime.timedelta(minutes=11)),
         {}, "Node worker-1 is powered off"),
    ],
)  # fmt: skip
def test_the_health_policy(
    statuses: dict[str, str], policy: HealthPolicy, act: dict, warning: str | None
) -> None:
    node_plan = plan(statuses, OLD, policy)
    assert acts(node_plan) == act
    assert warnings(node_plan) == ([warning] if warning else [])


@pytest.mark.parametrize(
    ("etcd_vms", "statuses", "policy", "act", "error"),
    [
        # stacked etcd: a restored master joins while 2 of 3 run
        (0, {"master-1": "lost"}, HealthPolicy(), {"restore": ("master-1",)}, None),
        (0, {"master-1": "lost", "master-2": "lost"}, HealthPolicy(), {},
         "Control plane cannot be restored"),
        # a member powered on (or repaired) comes back with its data and counts
        (0, {"master-1": "lost", "master-2": "powered_off"}, HealthPolicy(power_on=True),
         {"restore": ("master-1",), "power_on": ("master-2",)}, None),
        # external etcd: the etcd VMs are the quorum group, not the masters
        (3, {"master-1": "lost", "master-2": "lost"}, HealthPolicy(max_unhealthy="3"),
         {"restore": ("master-1", "master-2")}, None),
        (3, {"etcd-1": "lost", "etcd-2": "lost"}, HealthPolicy(max_unhealthy="3"), {},
         "Control plane cannot be restored"),
    ],
)  # fmt: skip
def test_quorum(
    etcd_vms: int, statuses: dict[str, str], policy: HealthPolicy, act: dict, error: str | None
) -> None:
    etcd = [f"127.0.1.{i}" for i in range(5, 5 + etcd_vms)]
    nodes = {**standing(statuses), **{f"etcd-{i}": node("etcd") for i in range(1, etcd_vms + 1)}}
    for name, status in statuses.items():
        nodes[name]["status"] = status
    since = Observed({"master-1": OLD, "master-2": FRESH, "etcd-1": OLD, "etcd-2": OLD})
    planned = {"etcd_count": etcd_vms, "etcd_ips": etcd}
    node_plan = plan_nodes(model(nodes, **planned), model(**planned), since, policy, NOW)
    assert acts(node_plan) == act
    assert errors(node_plan) == ([error] if error else [])


@pytest.mark.parametrize(
    ("rebuild", "act", "error", "warning"),
    [
        (False, {}, "Control plane cannot be restored", None),
        (True, {"restore": ("master-1",)}, None, "All cluster state will be lost"),
    ],
)
def test_the_only_master_is_rebuilt_only_when_asked(
    rebuild: bool, act: dict, error: str | None, warning: str | None
) -> None:
    one = {"master_count": 1, "master_ips": ["127.0.1.11"]}
    prior = model({"master-1": node("master", "lost"), "worker-1": node("worker", vm="vm-2")},
                  worker_count=1, **one)  # fmt: skip
    policy = HealthPolicy(rebuild_lone_control_plane=rebuild)
    node_plan = plan_nodes(prior, model(worker_count=1, **one), Observed(), policy, NOW)
    assert acts(node_plan) == act
    assert errors(node_plan) == ([error] if error else [])
    assert warnings(node_plan) == ([warning] if warning else [])


def test_etcd_members_without_the_etcd_ca_key_are_not_restored() -> None:
    etcd = {"etcd_count": 3, "etcd_ips": ["127.0.1.5", "127.0.1.6", "127.0.1.7"]}
    nodes = {**standing({"worker-1": "lost"}), **{f"etcd-{i}": node("etcd") for i in (1, 2, 3)}}
    nodes["etcd-1"]["status"] = "lost"
    node_plan = plan_nodes(
        model(nodes, **etcd), model(**etcd), Observed({}, etcd_ca_key=False), HealthPolicy(), NOW
    )
    assert acts(node_plan) == {"restore": ("worker-1",)}
    assert warnings(node_plan) == ["etcd members cannot be restored"]


# -- what the configuration changes --------------------------------------------------------


def test_create_adds_every_desired_node() -> None:
    planned = model(worker_count=2)
    node_plan = plan_nodes(None, planned, Observed(), HealthPolicy(), NOW)
    assert node_plan.add == tuple(planned.desired) and not acts(node_plan)


def test_growing_adds_and_shrinking_removes_the_newest_first() -> None:
    grown = plan({}, worker_count=5)
    assert grown.add == (Node("worker-4", "worker", None), Node("worker-5", "worker", None))
    shrunk = plan({"worker-3": "lost"}, worker_count=1)
    assert acts(shrunk) == {"remove": ("worker-3", "worker-2")}  # the lost one is not restored
    assert shrunk.keep == (*MASTERS, "worker-1")


def test_a_new_worker_flavor_rolls_the_workers_that_health_does_not_restore() -> None:
    bigger = {"vcpu": 4, "memory_gb": 8, "disk_gb": 20}
    node_plan = plan({"worker-1": "lost", "master-1": "lost"}, worker_flavor=bigger)
    # worker-1's restore makes it with the new flavor: it is not rolled as well
    assert acts(node_plan) == {"roll": WORKERS[1:], "restore": ("master-1", "worker-1")}
    assert node_plan.keep == ("master-2", "master-3")


def test_the_node_plan_goes_through_private_state() -> None:
    node_plan = plan({"worker-1": "lost", "worker-2": "network_lost"}, OLD, worker_count=4)
    back = NodePlan.from_private(node_plan.to_private())
    assert back == NodePlan(**{**vars(node_plan), "notes": ()})


# -- from plan to apply --------------------------------------------------------------------


def test_apply_gets_the_plans_node_plan_from_private_state() -> None:
    prior, planned = model(standing({"worker-1": "lost"})), model(worker_count=4)
    node_plan = plan_nodes(prior, planned, Observed(), HealthPolicy(), NOW)
    private = with_node_plan(b'{"pki": {"ca": 1}}', node_plan)
    assert json.loads(private)["pki"] == {"ca": 1}
    at_apply = node_plan_at_apply(private, prior, planned, NOW)
    assert at_apply == dataclasses.replace(node_plan, notes=())
    assert at_apply.restore == ("worker-1",) and [n.name for n in at_apply.add] == ["worker-4"]
    assert json.loads(with_node_plan(private, None)) == {"pki": {"ca": 1}}


def test_without_a_node_plan_apply_restores_nothing() -> None:
    """A plan made while the node map was unknown showed no restoration."""
    prior, planned = model(standing({"worker-1": "lost"})), model(worker_count=2)
    at_apply = node_plan_at_apply(b'{"pki": {}}', prior, planned, NOW)
    assert acts(at_apply) == {"remove": ("worker-3",)} and "worker-1" in at_apply.keep


def test_a_node_plan_that_no_longer_fits_is_refused() -> None:
    prior = model(standing())
    stale = with_node_plan(b"", plan_nodes(prior, model(worker_count=4), Observed(),
                                           HealthPolicy(), NOW))  # fmt: skip
    with pytest.raises(DiagnosticError, match="The plan no longer fits the cluster"):
        node_plan_at_apply(stale, prior, model(worker_count=3), NOW)
