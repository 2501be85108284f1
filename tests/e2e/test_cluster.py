"""photon_k8s_cluster through terraform against simulated hosts."""

from __future__ import annotations

import base64
import json
from collections import Counter

from tests.support.cluster import NO_DRAIN, SMALL, cluster, cluster_vms, nodes
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import quota, tenant
from tests.support.terraform import Terraform, planned_actions, planned_change, provider_block


def test_create_1_1_3_cluster(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(etcd=1, masters=1, workers=3))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    vms = cluster_vms(sim3)
    assert sorted(vms) == ["etcd-1", "master-1", "worker-1", "worker-2", "worker-3"]
    assert vms["etcd-1"]["host"] != vms["master-1"]["host"]
    assert (
        Counter(v["host"] for k, v in vms.items() if k.startswith("worker")).most_common(1)[0][1]
        == 1
    )
    master = vms["master-1"]
    assert (master["photon.tenant"], master["photon.role"]) == ("team-a", "master")
    # Its boot data held the cluster's keys: cleared once the node reported ready (the
    # records keep what restores need); the metadata, with no secret, stays.
    assert not any(v.get("guestinfo.userdata") for v in vms.values())
    metadata = json.loads(base64.b64decode(master["guestinfo.metadata"]))
    assert metadata["network"]["ethernets"]["primary"]["addresses"] == ["10.0.0.21/24"]

    values = tf.resource_values("photon_k8s_cluster.c")
    assert values["api_endpoint"] == "https://10.0.0.21:6443"
    assert values["id"] == "team-a/prod"
    assert set(values["nodes"]) == set(vms)
    assert all(n["status"] == "ready" for n in values["nodes"].values())
    assert json.loads(values["kubeconfig"])["clusters"][0]["cluster"]["server"] == (
        "https://10.0.0.21:6443"
    )
    assert tf.plan().code == 0


def test_create_3_3_5_cluster_spreads_the_control_plane(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(etcd=3, masters=3, workers=5))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    vms = cluster_vms(sim3)
    assert len(vms) == 11
    for role in ("etcd", "master"):
        assert len({v["host"] for k, v in vms.items() if k.startswith(role)}) == 3
    workers = Counter(v["host"] for k, v in vms.items() if k.startswith("worker"))
    assert sorted(workers.values()) == [1, 2, 2]
    assert tf.plan().code == 0


def test_workers_grow_and_shrink_in_place(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=2))
    tf.init()
    assert tf.apply().code == 0
    first = cluster_vms(sim3)

    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=5, worker_batch_size="2"))
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}
    change = planned_change(shown, "photon_k8s_cluster.c")
    assert "worker-5" not in change["before"]["nodes"] and "worker-5" in change["after"]["nodes"]
    assert tf.apply().code == 0
    grown = cluster_vms(sim3)
    assert sorted(grown) == ["master-1"] + [f"worker-{i}" for i in range(1, 6)]
    for name in first:  # the nodes that were there are untouched
        assert grown[name]["photon.node"] == name

    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=2))
    assert tf.apply().code == 0
    assert sorted(cluster_vms(sim3)) == ["master-1", "worker-1", "worker-2"]  # newest went
    assert tf.plan().code == 0


def test_quota_is_checked_at_plan(sim3: Simulator, tf: Terraform) -> None:
    tf.write(
        provider_block(sim3.hosts) + tenant() + quota("{ vm_count = 3 }")
        + cluster(workers=3).replace("photon_tenant.t.id", "photon_quota.q.tenant")
    )  # fmt: skip
    tf.init()
    assert tf.apply("-target=photon_quota.q").code == 0
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: Quota of tenant team-a exceeded" in plan.flat
    assert "vm_count (vm): limit 3, in use 0, requested 4" in plan.flat
    assert cluster_vms(sim3) == {}


def test_a_host_without_the_image_is_refused_before_any_vm_then_completed(
    sim3: Simulator, tf: Terraform
) -> None:
    """The tenant is made in the same run, so plan cannot look at its hosts: apply plans the
    cluster again once the tenant exists, and refuses before any VM is made."""
    with probe(sim3["esx-3"]) as p:
        p.delete_disk("images/k8s.vmdk")
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=3))
    tf.init()
    applied = tf.apply()
    assert applied.code == 1
    assert "Error: Base image missing" in applied.flat
    assert "the datastore of host esx-3 that new nodes go to" in applied.flat
    assert cluster_vms(sim3) == {}  # nothing made, nothing to forget

    with probe(sim3["esx-3"]) as p:
        p.create_base_disk("images/k8s.vmdk")
    completed = tf.apply()
    assert completed.code == 0, completed.output
    vms = cluster_vms(sim3)
    assert sorted(vms) == ["master-1", "worker-1", "worker-2", "worker-3"]  # no duplicates
    assert tf.plan().code == 0


def test_destroy_leaves_no_vm_or_disk_and_nothing_else(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=2))
    tf.init()
    assert tf.apply().code == 0
    with probe(sim3["esx-1"]) as p:
        p.create_vm(p.pool("photon-tenant-team-a"), "not-the-clusters", marks={"tenant": "team-a"})
    tf.write(provider_block(sim3.hosts) + tenant())
    destroyed = tf.apply()
    assert destroyed.code == 0, destroyed.output
    assert cluster_vms(sim3) == {}
    for host in sim3.hosts:
        with probe(host) as p:
            leftovers = [n for n in p.vms() if n.startswith("team-a-prod-")]
            assert leftovers == []
            assert [f for f in p.files() if f.startswith("team-a-prod-")] == []
            assert p.read_file("photon-platform/clusters/team-a.prod.json") is None
    with probe(sim3["esx-1"]) as p:
        assert "not-the-clusters" in p.vms()


def test_import_rebuilds_a_lost_state(sim3: Simulator, tf: Terraform, tmp_path) -> None:
    hcl = provider_block(sim3.hosts) + tenant() + cluster(workers=2)
    tf.write(hcl)
    tf.init()
    assert tf.apply().code == 0
    original = tf.resource_values("photon_k8s_cluster.c")
    again = tf.elsewhere(tmp_path / "again")
    imported = again.import_cluster()
    assert imported.code == 0, imported.output
    values = again.resource_values("photon_k8s_cluster.c")
    assert values["ca_certificate"] == original["ca_certificate"]
    assert values["nodes"] == original["nodes"]
    assert again.plan().code == 0
    missing = again.run("import", "-no-color", "photon_k8s_cluster.c", "team-a/nope")
    assert missing.code == 1 and "No cluster to import" in missing.flat


def test_a_leftover_vm_with_the_clusters_marks_is_reported(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    with probe(sim3["esx-2"]) as p:
        p.create_vm(p.pool("photon-tenant-team-a"), "stray",
                    marks={"tenant": "team-a", "cluster": "prod", "node": "worker-1"})  # fmt: skip
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=1))
    applied = tf.apply()
    assert applied.code == 1 and "Leftover VM of this cluster" in applied.flat
    assert "VM stray" in applied.flat
    with probe(sim3["esx-2"]) as p:
        assert "stray" in p.vms()  # reported, not deleted


def test_a_worker_flavor_change_rolls_the_workers(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=2, raw=NO_DRAIN))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    bigger = "{ vcpu = 2, memory_gb = 1, disk_gb = 3 }"
    tf.write(
        provider_block(sim3.hosts) + tenant()
        + cluster(workers=2, raw=NO_DRAIN).replace(f"worker_flavor      = {SMALL}",
                                                   f"worker_flavor = {bigger}")
    )  # fmt: skip
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}  # not replaced
    applied = tf.apply()
    assert applied.code == 0, applied.output
    after = nodes(tf)
    assert after["master-1"] == before["master-1"]  # the control plane is untouched
    for worker in ("worker-1", "worker-2"):
        assert after[worker]["vm_id"] != before[worker]["vm_id"]
    for host in sim3.hosts:
        with probe(host) as p:
            for name, vm in p.vms().items():
                if name.startswith("team-a-prod-worker"):
                    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (2, 1024)
    assert sorted(cluster_vms(sim3)) == ["master-1", "worker-1", "worker-2"]
    assert tf.plan().code == 0


def test_a_host_stopping_during_apply_then_convergence_on_the_others(tf: Terraform) -> None:
    import time

    with Simulator(3, "--method-delay", "CreateVM_Task=2000") as sim:
        for host in sim.hosts:
            with probe(host) as p:
                p.create_base_disk("images/k8s.vmdk")
        tf.write(provider_block(sim.hosts) + tenant() + cluster(workers=3))
        tf.init()
        run = tf.start_apply()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # esx-3 has copied its nodes' disks: now it fails
            with probe(sim["esx-3"]) as p:
                if any(f.startswith("team-a-prod-") and f.endswith(".vmdk") for f in p.files()):
                    break
            time.sleep(0.05)
        sim.kill("esx-3")
        output = " ".join(run.communicate(timeout=120)[0].split())
        # The control plane stands, so the missing workers are warnings: no taint, and the
        # next apply adds them instead of replacing the cluster.
        assert run.returncode == 0, output
        assert "Warning: Node worker-" in output and "ESXi host unreachable: esx-3" in output
        assert "The cluster was created with its control plane up but " in output
        assert "but 0 worker(s)" not in output  # what it says is wrong is true
        survivors = cluster_vms(sim, down=("esx-3",))
        assert survivors and all(v["host"] != "esx-3" for v in survivors.values())
        recorded = nodes(tf)
        assert set(survivors) <= set(recorded)  # every VM that exists is in the state

        completed = tf.apply()
        assert completed.code == 0, completed.output
        assert "Host esx-3 unreachable" in completed.flat  # reported, not fatal
        vms = cluster_vms(sim, down=("esx-3",))
        assert sorted(vms) == ["master-1", "worker-1", "worker-2", "worker-3"]


def test_a_cluster_whose_image_is_nowhere_is_refused_before_any_vm(
    sim3: Simulator, tf: Terraform
) -> None:
    for host in sim3.hosts:  # no image anywhere: nothing can be made
        with probe(host) as p:
            p.delete_disk("images/k8s.vmdk")
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=1))
    tf.init()
    applied = tf.apply()
    assert applied.code == 1
    assert "Error: Base image missing" in applied.flat  # found before any VM was made
    assert cluster_vms(sim3) == {}
    assert "photon_k8s_cluster.c" not in tf.ok("state", "list").stdout  # nothing to taint


def test_a_new_worker_image_rolls_the_workers(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=2, raw=NO_DRAIN))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    for host in sim3.hosts:
        with probe(host) as p:
            p.create_base_disk("images/k8s-next.vmdk")
    tf.write(
        provider_block(sim3.hosts) + tenant()
        + cluster(workers=2, raw=NO_DRAIN, worker_image='"images/k8s-next.vmdk"')
    )  # fmt: skip
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert "delete" not in planned_actions(shown)["photon_k8s_cluster.c"]  # not replaced
    assert tf.apply().code == 0
    after = nodes(tf)
    assert after["master-1"] == before["master-1"]
    assert all(after[w]["vm_id"] != before[w]["vm_id"] for w in ("worker-1", "worker-2"))
    assert tf.plan().code == 0


def test_timeouts_are_validated(tf: Terraform) -> None:
    tf.write(provider_block([]) + tenant() + cluster(workers=1).replace(
        "master_flavor", 'timeouts {\n    create = "soon"\n  }\n  master_flavor'))  # fmt: skip
    tf.init()
    validated = tf.run("validate", "-no-color")
    assert validated.code == 1 and "Invalid timeout" in validated.flat
    assert "'soon' is not a duration like 30m, 1h or 90s" in validated.flat


def test_addresses_and_networks_are_validated_at_their_attributes(tf: Terraform) -> None:
    hcl = cluster(workers=2, worker_ips='["10.0.0.31", "10.0.0.300"]', pod_cidr='"10.244.0.0"')
    tf.write(provider_block([]) + tenant() + hcl)
    tf.init()
    validated = tf.run("validate", "-no-color")
    assert validated.code == 1
    assert "Error: Invalid address" in validated.flat
    assert "'10.0.0.300' is not an IPv4 address." in validated.flat
    assert 'worker_ips = ["10.0.0.31", "10.0.0.300"]' in validated.flat  # its line
    assert "Error: Invalid network" in validated.flat
    assert "'10.244.0.0' is not a network in CIDR notation like 10.244.0.0/16." in validated.flat
    assert 'pod_cidr = "10.244.0.0"' in validated.flat


def test_a_create_timeout_ends_the_wait_and_keeps_what_exists(tf: Terraform) -> None:
    with Simulator(2, "--method-delay", "CreateVM_Task=2500") as sim:
        for host in sim.hosts:
            with probe(host) as p:
                p.create_base_disk("images/k8s.vmdk")
        hcl = cluster(workers=1).replace(
            "master_flavor", 'timeouts {\n    create = "1s"\n  }\n  master_flavor'
        )
        tf.write(provider_block(sim.hosts) + tenant() + hcl)
        tf.init()
        applied = tf.apply()
        assert applied.code == 1, applied.output
        assert "stopped before" in applied.flat and "Error: Node master-1" in applied.flat
        recorded = nodes(tf)
        assert set(recorded) == set(cluster_vms(sim))  # every VM made is in the state
