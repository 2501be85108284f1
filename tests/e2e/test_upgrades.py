"""Upgrades in place through real terraform on simulated hosts: a new Kubernetes version rolls
the nodes one at a time (masters first, then workers) instead of replacing the cluster; the
version rules refuse at plan with nothing changed."""

from __future__ import annotations

from tests.support.cluster import cluster, marked_vms, nodes
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import Terraform, planned_actions, planned_change, provider_block


def test_a_new_version_rolls_every_node_in_place(sim3: Simulator, tf: Terraform) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(masters=3, workers=2))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    assert {v["kubernetes_version"] for v in before.values()} == {"1.32.3"}
    assert before["worker-1"]["flavor"] == "1/0.5/2" and before["master-1"]["image"]

    tf.write(hcl + cluster(masters=3, workers=2).replace('"1.32.3"', '"1.33.0"'))
    planned, shown = tf.saved_plan()
    assert shown is not None, planned.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}  # not a replace
    change = planned_change(shown, "photon_k8s_cluster.c")
    assert {v["kubernetes_version"] for v in change["after"]["nodes"].values()} == {"1.33.0"}
    assert all(change["after_unknown"]["nodes"][n]["vm_id"] for n in before)
    applied = tf.run("apply", "-no-color", "saved.tfplan", timeout=300)
    assert applied.code == 0, applied.output

    after = nodes(tf)
    assert sorted(after) == sorted(before)
    assert all(after[n]["vm_id"] != before[n]["vm_id"] or after[n]["host"] != before[n]["host"]
               for n in after)  # fmt: skip
    vms = marked_vms(sim3.hosts)
    assert {n: moid for n, (_, moid, _) in vms.items()} == {n: v["vm_id"] for n, v in after.items()}
    assert {extra["photon.version"] for _, _, extra in vms.values()} == {"1.33.0"}
    assert tf.plan().code == 0


def test_version_rules_are_said_at_plan_and_nothing_changes(sim3: Simulator, tf: Terraform) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(masters=3, workers=1))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    for version, said in [
        ("1.34.0", "Kubernetes 1.34.0 is more than one minor version ahead of 1.32.3, which "
                   "master-1 runs: kubeadm moves the control plane one minor version at a "
                   "time. Upgrade to 1.33 first (any patch release, e.g. 1.33.0), apply, then "
                   "ask for 1.34.0."),
        ("1.31.9", "Kubernetes 1.31.9 is older than 1.32.3, which master-1 runs: kubeadm "
                   "never moves a cluster down."),
    ]:  # fmt: skip
        tf.write(hcl + cluster(masters=3, workers=1).replace('"1.32.3"', f'"{version}"'))
        refused = tf.plan()
        assert refused.code == 1, refused.output
        assert "Error: Kubernetes version cannot change so" in refused.flat
        assert said in refused.flat
        assert 'kubernetes_version = "' in refused.flat  # pointed at the attribute
    assert nodes(tf) == before
    assert {n: m for n, (_, m, _) in marked_vms(sim3.hosts).items()} == {
        n: v["vm_id"] for n, v in before.items()
    }
