"""Drift: refresh finds unhealthy nodes, plan shows exactly their restoration, apply does it."""

from __future__ import annotations

import pytest

from tests.support.cluster import cluster, cluster_vms, delete_vm, nodes, planned_nodes, power_off
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import (
    Terraform,
    planned_actions,
    planned_change,
    provider_block,
    unknown_until_apply,
)


def power_state(sim: Simulator, node: dict) -> str:
    with probe(sim[node["host"]]) as p:
        return str(p.vm(node["vm_id"]).runtime.powerState)


def apply_cluster(tf: Terraform, sim: Simulator, health: str = "", workers: int = 3) -> None:
    raw = f"  health {{\n{health}\n  }}" if health else ""
    tf.write(provider_block(sim.hosts) + tenant() + cluster(1, 1, workers, raw=raw))
    if not (tf.workdir / ".terraform").exists():
        tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output


@pytest.mark.parametrize("lost", ["worker-2", "etcd-1", "master-1"])
def test_a_deleted_node_is_planned_back_and_restored(
    sim3: Simulator,
    tf: Terraform,
    lost: str,
) -> None:
    # The only etcd member comes back empty: a restore the user must ask for.
    apply_cluster(tf, sim3, health="    rebuild_lone_control_plane = true" * (lost == "etcd-1"))
    before = nodes(tf)
    delete_vm(sim3, before[lost])

    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}  # not replaced
    # That node alone: its status, and host, vm_id and mac of a new VM (the 4 others: as they are)
    assert planned_nodes(shown) == {lost: ("lost", "ready", {"host", "vm_id", "mac"})}
    change = planned_change(shown, "photon_k8s_cluster.c")
    assert change["before"]["nodes"][lost]["vm_id"] == before[lost]["vm_id"]
    assert len(change["before"]["nodes"]) == 5

    applied = tf.apply()
    assert applied.code == 0, applied.output
    after = nodes(tf)
    assert after[lost]["vm_id"] != before[lost]["vm_id"] and after[lost]["status"] == "ready"
    for name, node in before.items():
        if name != lost:
            assert after[name] == node  # healthy nodes untouched
    vms = cluster_vms(sim3)
    assert sorted(vms) == sorted(before) and vms[lost]["photon.role"] == before[lost]["role"]
    assert tf.plan().code == 0


def test_a_powered_off_node_waits_for_its_grace_period(sim3: Simulator, tf: Terraform) -> None:
    apply_cluster(tf, sim3, health='    grace_period = "1h"')
    before = nodes(tf)
    power_off(sim3, before["worker-1"])
    plan = tf.plan()
    assert plan.code == 0, plan.output  # reported, not replaced
    assert "Warning: Node worker-1 is powered off" in plan.flat
    assert "replaced once it has been off for 1h" in plan.flat


def test_power_on_within_the_grace_period(sim3: Simulator, tf: Terraform) -> None:
    apply_cluster(tf, sim3, health='    grace_period = "1h"\n    power_on = true')
    before = nodes(tf)
    power_off(sim3, before["worker-1"])
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_nodes(shown) == {"worker-1": ("powered_off", "ready", set())}
    change = planned_change(shown, "photon_k8s_cluster.c")
    assert not unknown_until_apply(change["after_unknown"])  # the same VM, powered on
    assert tf.apply().code == 0
    assert nodes(tf)["worker-1"] == before["worker-1"]
    assert power_state(sim3, before["worker-1"]) == "poweredOn"
    assert tf.plan().code == 0


def test_a_node_off_beyond_its_grace_period_is_replaced(sim3: Simulator, tf: Terraform) -> None:
    apply_cluster(tf, sim3, health='    grace_period = "0s"')
    before = nodes(tf)
    power_off(sim3, before["worker-3"])
    assert tf.plan().code == 2
    assert tf.apply().code == 0
    after = nodes(tf)
    assert after["worker-3"]["vm_id"] != before["worker-3"]["vm_id"]
    with probe(sim3[before["worker-3"]["host"]]) as p:  # the remnant is gone after
        assert before["worker-3"]["vm_id"] not in {vm._moId for vm in p.vms().values()}
    assert tf.plan().code == 0


def test_a_node_ready_again_at_apply_is_left_as_it_is(sim3: Simulator, tf: Terraform) -> None:
    """Apply carries out the plan's own list of restorations, and checks each node again
    first: one powered on between plan and apply keeps its VM."""
    apply_cluster(tf, sim3, health='    grace_period = "0s"')
    before = nodes(tf)
    power_off(sim3, before["worker-3"])
    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_nodes(shown) == {"worker-3": ("powered_off", "ready", {"host", "vm_id", "mac"})}
    with probe(sim3[before["worker-3"]["host"]]) as p:
        p.wait(p.vm(before["worker-3"]["vm_id"]).PowerOnVM_Task())
    applied = tf.run("apply", "-no-color", "saved.tfplan")
    assert applied.code == 0, applied.output
    assert "Warning: Node worker-3 is ready again: left as it is" in applied.flat
    assert nodes(tf) == before and sorted(cluster_vms(sim3)) == sorted(before)
    assert tf.plan().code == 0


def test_too_many_unhealthy_restores_nothing_and_says_why(sim3: Simulator, tf: Terraform) -> None:
    apply_cluster(tf, sim3, health='    max_unhealthy = "1"')
    before = nodes(tf)
    delete_vm(sim3, before["worker-1"])
    delete_vm(sim3, before["worker-2"])
    plan = tf.plan()
    assert plan.code == 0, plan.output
    assert "Warning: Unhealthy nodes not restored" in plan.flat
    assert "2 of 5 nodes are unhealthy (worker-1, worker-2), more than max_unhealthy" in plan.flat


def test_disabled_health_only_reports(sim3: Simulator, tf: Terraform) -> None:
    apply_cluster(tf, sim3, health="    enabled = false")
    delete_vm(sim3, nodes(tf)["worker-1"])
    plan = tf.plan()
    assert plan.code == 0 and "health.enabled is false" in plan.flat
    assert tf.apply("-refresh-only").code == 0
    assert nodes(tf)["worker-1"]["status"] == "lost"  # reported in the state


def test_a_vm_with_the_marks_that_no_run_made_is_planned_for_removal(
    sim3: Simulator, tf: Terraform
) -> None:
    apply_cluster(tf, sim3)
    with probe(sim3["esx-2"]) as p:
        marks = {"tenant": "team-a", "cluster": "prod", "node": "worker-9"}
        stray = p.create_vm(p.pool("photon-tenant-team-a"), "stray", marks=marks)
    planned, shown = tf.saved_plan()
    assert planned.code == 2, planned.output
    assert "Warning: Leftover VM stray of cluster team-a/prod" in planned.flat
    key = f"worker-9@esx-2/{stray._moId}"
    assert f'The plan removes it, as nodes["{key}"]' in planned.flat
    assert (
        shown is not None
        and key not in planned_change(shown, "photon_k8s_cluster.c")["after"]["nodes"]
    )
    assert tf.run("apply", "-no-color", "saved.tfplan").code == 0
    with probe(sim3["esx-2"]) as p:
        assert "stray" not in p.vms()
    assert tf.plan().code == 0


def test_no_room_on_the_surviving_hosts_is_said_at_plan(sim3: Simulator, tf: Terraform) -> None:
    big = "{ vcpu = 1, memory_gb = 3, disk_gb = 2 }"
    small = "worker_flavor      = { vcpu = 1, memory_gb = 0.5, disk_gb = 2 }"
    hcl = cluster(workers=3).replace(small, f"worker_flavor = {big}")
    tf.write(provider_block(sim3.hosts) + tenant() + hcl)
    tf.init()
    assert tf.apply().code == 0
    lost_host = next(v["host"] for n, v in nodes(tf).items() if n.startswith("worker"))
    sim3.kill(lost_host)
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: No room to restore the cluster's nodes" in plan.flat
    assert "(3 GB of memory, 5 GB of datastore space)" in plan.flat
