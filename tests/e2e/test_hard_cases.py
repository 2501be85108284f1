"""Healing and quotas when things go wrong: a host down with a quota configured, a plan-only
schedule, imports after restores, a create refused by the quota, and restores that etcd
could never accept (refused at plan, before any VM is made)."""

from __future__ import annotations

import json
import time

from tests.support.cluster import cluster, cluster_vms, delete_vm, nodes, power_off
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import add_vm, quota, tenant
from tests.support.terraform import Terraform, provider_block

HEALTH_RECORD = "photon-platform/health/team-a.prod.json"
CLUSTER_RECORD = "photon-platform/clusters/team-a.prod.json"


def vm_ids(sim: Simulator, down: tuple[str, ...] = ()) -> set[str]:
    found = set()
    for host in (h for h in sim.hosts if h.name not in down):
        with probe(host) as p:
            found |= {vm._moId for vm in p.vms().values()}
    return found


def apply_ok(tf: Terraform, hcl: str) -> None:
    tf.write(hcl)
    if not (tf.workdir / ".terraform").exists():
        tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output


def test_a_host_down_with_a_quota_heals_refuses_growth_and_destroys_the_rest(
    sim3: Simulator, tf: Terraform
) -> None:
    limits = "{ vm_count = 20, vcpu = 20, memory_gb = 20 }"
    base = provider_block(sim3.hosts) + tenant() + quota(limits)
    apply_ok(tf, base + cluster(etcd=3, masters=1, workers=2))
    before = nodes(tf)
    on_3 = sorted(n for n, v in before.items() if v["host"] == "esx-3")
    assert on_3
    sim3.kill("esx-3")

    plan = tf.plan()
    assert plan.code == 2, plan.output
    assert "Host esx-3 unreachable: its nodes are reported lost" in plan.flat
    assert "Warning: Usage of tenant team-a unknown: esx-3 unreachable" in plan.flat
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert "The remnant of node" in applied.flat  # its host is away: reported, not forgotten
    after = nodes(tf)
    assert all(
        after[n]["host"] != "esx-3" and after[n]["vm_id"] != before[n]["vm_id"] for n in on_3
    )
    assert all(after[n]["status"] == "ready" for n in on_3)
    assert all(after[n] == before[n] for n in set(before) - set(on_3))
    assert sorted(cluster_vms(sim3, down=("esx-3",))) == sorted(before)
    assert tf.resource_values("photon_quota.q")["usage"] is None
    assert tf.plan().code == 0

    tf.write(base + cluster(etcd=3, masters=1, workers=3))
    grow = tf.plan()
    assert grow.code == 1
    assert "Error: ESXi host unreachable: esx-3" in grow.flat
    assert "Growing within the quota of tenant team-a needs every host" in grow.flat

    tf.write(provider_block(sim3.hosts) + tenant() + quota("{ vm_count = 30 }"))
    relimit = tf.plan("-target=photon_quota.q")  # new limits must be set on every pool
    assert relimit.code == 1
    assert "Setting the quota of tenant team-a needs every host" in relimit.flat


def test_a_cluster_with_nodes_on_a_dead_host_is_destroyed_everywhere_else(
    sim3: Simulator, tf: Terraform
) -> None:
    limits = "{ vm_count = 20 }"
    apply_ok(tf, provider_block(sim3.hosts) + tenant() + quota(limits) + cluster(workers=2))
    before = nodes(tf)
    dead = next(v["host"] for v in before.values() if v["host"] != "esx-1")  # not the records
    stranded = sorted(n for n, v in before.items() if v["host"] == dead)
    sim3.kill(dead)
    gone = tf.run("destroy", "-auto-approve", "-no-color", "-target=photon_k8s_cluster.c")
    assert gone.code == 0, gone.output
    assert "Warning: Cluster team-a/prod deleted except on unreachable hosts" in gone.flat
    for name in stranded:
        assert f"{name} ({before[name]['vm_id']} on {dead})" in gone.flat
    assert cluster_vms(sim3, down=(dead,)) == {}
    with probe(sim3["esx-1"]) as p:
        assert p.read_file(CLUSTER_RECORD) is None
    assert "photon_k8s_cluster.c" not in tf.ok("state", "list").stdout
    quota_gone = tf.run("destroy", "-auto-approve", "-no-color", "-target=photon_quota.q")
    assert quota_gone.code == 0, quota_gone.output
    assert "Warning: Quota of tenant team-a deleted except on unreachable hosts" in (
        quota_gone.flat
    )
    assert f"The tenant's pools on {dead} keep the quota's memory limit" in quota_gone.flat


def test_vms_of_a_cluster_that_no_longer_exists_are_reported_by_the_tenant(
    sim: Simulator, tf: Terraform
) -> None:
    apply_ok(tf, provider_block(sim.hosts) + tenant())
    add_vm(sim, "esx-2", "left-behind")  # marks of cluster c1, which has no record
    plan = tf.plan()
    assert plan.code == 0, plan.output
    assert "Warning: Unmanaged VMs of cluster team-a/c1" in plan.flat
    assert "left-behind (" in plan.flat and "on esx-2) carry the marks of cluster c1" in plan.flat
    with probe(sim["esx-2"]) as p:
        assert "left-behind" in p.vms()  # reported, never deleted


def test_the_grace_period_passes_under_plans_alone(sim3: Simulator, tf: Terraform) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    apply_ok(tf, hcl + cluster(workers=2, raw='  health {\n    grace_period = "4s"\n  }'))
    worker = nodes(tf)["worker-1"]
    power_off(sim3, worker)

    first = tf.plan()
    assert first.code == 0, first.output
    assert "Warning: Node worker-1 is powered off" in first.flat
    assert "replaced once it has been off for 4s (health.grace_period)" in first.flat
    with probe(sim3["esx-1"]) as p:
        seen = json.loads(p.read_file(HEALTH_RECORD) or b"{}")
    assert list(seen["unhealthy_since"]) == ["worker-1"]
    time.sleep(4.5)
    later = tf.plan()  # no apply in between: the first-seen time came from the records
    assert later.code == 2, later.output
    assert tf.apply().code == 0
    assert nodes(tf)["worker-1"]["vm_id"] != worker["vm_id"]
    assert tf.plan().code == 0
    with probe(sim3["esx-1"]) as p:
        kept = json.loads(p.read_file(HEALTH_RECORD) or b"{}")
    # All healthy again: forgotten; what stays is where each node's Tools ran (green).
    assert "unhealthy_since" not in kept and "resets" not in kept
    assert sorted(kept["tools_green"]) == ["master-1", "worker-1", "worker-2"]
    assert kept["tools_green"]["worker-1"][0] == nodes(tf)["worker-1"]["vm_id"]


def test_import_after_a_restore_and_an_etcd_restore_after_import(
    sim3: Simulator, tf: Terraform, tmp_path
) -> None:
    hcl = provider_block(sim3.hosts) + tenant() + cluster(etcd=3, masters=1, workers=1)
    apply_ok(tf, hcl)
    delete_vm(sim3, nodes(tf)["master-1"])
    assert tf.apply().code == 0  # master-1 now holds a join configuration
    again = tf.elsewhere(tmp_path / "again")
    imported = again.import_cluster()
    assert imported.code == 0, imported.output
    assert nodes(again) == nodes(tf)

    lost = nodes(again)["etcd-2"]
    delete_vm(sim3, lost)
    applied = again.apply()  # the record holds the etcd CA key: every role can be restored
    assert applied.code == 0, applied.output
    assert nodes(again)["etcd-2"]["vm_id"] != lost["vm_id"]
    assert again.plan().code == 0


def test_an_import_from_old_records_restores_all_but_etcd_and_says_why(
    sim3: Simulator, tf: Terraform, tmp_path
) -> None:
    # An old provider left the boot data on the VMs (no wait, so nothing clears it here).
    old = "  readiness {\n    wait = false\n  }"
    hcl = provider_block(sim3.hosts) + tenant() + cluster(etcd=3, masters=1, workers=1, raw=old)
    apply_ok(tf, hcl)
    with probe(sim3["esx-1"]) as p:  # as written before records held the cluster's secrets
        record = json.loads(p.read_file(CLUSTER_RECORD) or b"{}")
        del record["pki"]
        p.write_file(CLUSTER_RECORD, json.dumps(record).encode())
    again = tf.elsewhere(tmp_path / "again")
    imported = again.import_cluster()
    assert imported.code == 0, imported.output

    before = nodes(again)
    delete_vm(sim3, before["etcd-1"], before["worker-1"])
    plan = again.plan()
    assert plan.code == 2, plan.output
    assert "Warning: etcd members cannot be restored" in plan.flat
    assert "etcd-1: this cluster was imported from records that do not hold its etcd CA key" in (
        plan.flat
    )
    applied = again.apply()
    assert applied.code == 0, applied.output
    after = nodes(again)
    assert after["etcd-1"] == {**before["etcd-1"], "status": "lost"}  # kept, not dropped
    assert after["worker-1"]["vm_id"] != before["worker-1"]["vm_id"]
    assert after["worker-1"]["status"] == "ready"


def test_a_create_refused_by_the_quota_leaves_nothing_to_destroy(
    sim3: Simulator, tf: Terraform
) -> None:
    sim = sim3
    base = provider_block(sim.hosts) + tenant() + quota("{ vm_count = 3 }")
    apply_ok(tf, base)
    tf.write(base + cluster(workers=2))
    assert tf.run("plan", "-no-color", "-out=tfplan").code == 0
    add_vm(sim, "esx-1", "other-run")  # another run takes a slot between plan and apply
    refused = tf.run("apply", "-no-color", "tfplan")
    assert refused.code == 1
    assert "Error: Quota of tenant team-a exceeded" in refused.flat
    assert "Internal error" not in refused.flat
    listed = tf.ok("state", "list").stdout.split()
    assert "photon_k8s_cluster.c" not in listed
    assert cluster_vms(sim) == {}
    planned_first = tf.destroy()  # Terraform plans the configuration before a destroy
    assert planned_first.code == 1
    assert "To destroy this configuration instead, run `terraform destroy -refresh=false`" in (
        planned_first.flat
    )
    # (the tenant itself stays: the other run's VM is in its pool)
    args = ("-auto-approve", "-no-color", "-refresh=false", "-target=photon_quota.q")
    destroyed = tf.run("destroy", *args)
    assert destroyed.code == 0, destroyed.output
    assert "Quota of tenant" not in destroyed.flat
    assert tf.ok("state", "list").stdout.split() == ["photon_tenant.t"]
    with probe(sim["esx-1"]) as p:
        assert "other-run" in p.vms()  # not ours: left alone


def test_restores_that_etcd_cannot_accept_are_refused_at_plan(
    sim3: Simulator, tf: Terraform
) -> None:
    base = provider_block(sim3.hosts) + tenant()
    apply_ok(tf, base + cluster(etcd=3, masters=1, workers=1))
    before = nodes(tf)
    delete_vm(sim3, before["etcd-1"], before["etcd-2"])
    ids = vm_ids(sim3)
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: Control plane cannot be restored" in plan.flat
    assert "etcd has lost quorum: 2 of 3 etcd nodes are down (etcd-1, etcd-2)" in plan.flat
    assert "run `terraform destroy -refresh=false`" in plan.flat
    assert "restore etcd from a snapshot" in plan.flat
    assert tf.apply().code == 1
    assert vm_ids(sim3) == ids  # no VM made for a restore that cannot work
    assert tf.destroy().code == 1  # Terraform plans (and so refuses) before a destroy
    gone = tf.run("destroy", "-auto-approve", "-no-color", "-refresh=false")
    assert gone.code == 0, gone.output
    assert cluster_vms(sim3) == {}


def test_a_lone_stacked_master_is_rebuilt_only_when_asked(sim3: Simulator, tf: Terraform) -> None:
    base = provider_block(sim3.hosts) + tenant()
    apply_ok(tf, base + cluster(masters=1, workers=1))
    delete_vm(sim3, nodes(tf)["master-1"])
    ids = vm_ids(sim3)
    refused = tf.plan()
    assert refused.code == 1
    assert "The cluster's only master (with its stacked etcd member), master-1, is lost" in (
        refused.flat
    )
    assert "set health { rebuild_lone_control_plane = true }" in refused.flat
    assert vm_ids(sim3) == ids
    opted = "  health {\n    rebuild_lone_control_plane = true\n  }"
    tf.write(base + cluster(masters=1, workers=1, raw=opted))
    plan = tf.plan()
    assert plan.code == 2, plan.output
    assert "Warning: All cluster state will be lost" in plan.flat
    assert tf.apply().code == 0
    assert nodes(tf)["master-1"]["status"] == "ready"
