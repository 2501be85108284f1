"""Upgrades in place through real terraform on simulated hosts: a new Kubernetes version rolls
the nodes one at a time (masters first, then workers) instead of replacing the cluster; the
version rules refuse at plan with nothing changed."""

from __future__ import annotations

from tests.support.cluster import NO_DRAIN, SMALL, cluster, marked_vms, nodes, state_pki
from tests.support.kube_api_server import CertAuthority, KubeApiServer
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import Terraform, planned_actions, planned_change, provider_block


def test_a_new_version_rolls_every_node_in_place(sim3: Simulator, tf: Terraform) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(masters=3, workers=2, raw=NO_DRAIN))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    assert {v["kubernetes_version"] for v in before.values()} == {"1.32.3"}
    assert before["worker-1"]["flavor"] == "1/0.5/2" and before["master-1"]["image"]

    tf.write(hcl + cluster(masters=3, workers=2, raw=NO_DRAIN).replace('"1.32.3"', '"1.33.0"'))
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
    tf.write(hcl + cluster(masters=3, workers=1, raw=NO_DRAIN))
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
        tf.write(
            hcl + cluster(masters=3, workers=1, raw=NO_DRAIN).replace('"1.32.3"', f'"{version}"')
        )
        refused = tf.plan()
        assert refused.code == 1, refused.output
        assert "Error: Kubernetes version cannot change so" in refused.flat
        assert said in refused.flat
        assert 'kubernetes_version = "' in refused.flat  # pointed at the attribute
    assert nodes(tf) == before
    assert {n: m for n, (_, m, _) in marked_vms(sim3.hosts).items()} == {
        n: v["vm_id"] for n, v in before.items()
    }


def test_workers_are_drained_before_they_roll_and_a_blocking_budget_stops_the_roll(
    sim3: Simulator, tf: Terraform
) -> None:
    """Against a Kubernetes API test server at the cluster's endpoint (a loopback address),
    with the cluster's own CA: what is proven is the calls the provider makes, not a real
    API server's answers."""
    drain = '  rollout {\n    drain_timeout = "3s"\n  }'
    master = {"master_ips": '["127.0.0.61"]'}
    hcl = provider_block(sim3.hosts) + tenant()
    cluster_hcl = cluster(workers=2, raw=drain, gateway=None)  # type: ignore[arg-type]
    tf.write(hcl + cluster_hcl.replace('["10.0.0.21"]', master["master_ips"]))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    ca = state_pki(tf)["ca"]  # the server speaks for the cluster: its CA signs and trusts
    authority = CertAuthority("", existing=(ca["cert_pem"], ca["key_pem"]))
    with KubeApiServer(ca=authority, address=("127.0.0.61", 6443)) as api:
        for worker in ("worker-1", "worker-2"):
            api.add_node(f"prod-{worker}")
        api.add_pod("default", "web-0", "prod-worker-1")
        api.add_pod("kube-system", "proxy-a", "prod-worker-1", daemonset=True)
        api.add_pod("default", "db-0", "prod-worker-2")
        api.blocked.add(("default", "db-0"))  # its budget allows no disruption

        bigger = "{ vcpu = 2, memory_gb = 1, disk_gb = 3 }"
        rolled = cluster_hcl.replace('["10.0.0.21"]', master["master_ips"]).replace(
            f"worker_flavor      = {SMALL}", f"worker_flavor = {bigger}"
        )
        tf.write(hcl + rolled)
        blocked = tf.apply()
        assert blocked.code == 1, blocked.output
        assert "Error: Drain of worker-2 blocked" in blocked.flat
        assert (
            "worker-2 (prod-worker-2) of cluster team-a/prod still runs default/db-0 after "
            "rollout.drain_timeout 3s" in blocked.flat
        )
        calls = api.requests
        cordon = calls.index(("PATCH", "/api/v1/nodes/prod-worker-1"))
        evict = calls.index(("POST", "/api/v1/namespaces/default/pods/web-0/eviction"))
        assert cordon < evict < calls.index(("DELETE", "/api/v1/nodes/prod-worker-1"))
        assert "kube-system/proxy-a" not in api.evictions()  # a DaemonSet pod stays
        after = nodes(tf)
        assert after["worker-1"]["vm_id"] != before["worker-1"]["vm_id"]  # drained, rolled
        assert after["worker-2"]["vm_id"] == before["worker-2"]["vm_id"]  # kept its VM
        assert api.nodes["prod-worker-2"]["spec"]["unschedulable"] is True  # cordoned

        api.blocked.clear()  # the budget allows it now
        assert tf.apply().code == 0
        assert nodes(tf)["worker-2"]["flavor"] == "2/1/3"
    assert tf.plan().code == 0
