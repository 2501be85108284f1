"""Safe to operate on a bad day: an interrupted run, a cluster gone behind Terraform's back.

A terminal's Ctrl-C (on slowed simulated hosts, so that it lands mid-way) sends SIGINT to the
whole foreground process group: Terraform and every provider it started. The provider must not
die of it (Terraform stops it through StopProvider): the apply ends at a safe point, VMs already
being made are waited for, and the new state keeps them with the cluster's secrets, so the next
apply converges with nobody deleting anything.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import cluster, cluster_vms, delete_vm, marked_vms, nodes
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import quota, tenant
from tests.support.terraform import Terraform, planned_actions, provider_block


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    """VMs take 2 s to make: a Ctrl-C a second into the apply lands while they are made."""
    delay = "--method-delay=CreateVM_Task=2000"
    with Simulator(2, "--image", "images/k8s.vmdk", delay) as simulator:
        yield simulator


def ctrl_c_during(tf: Terraform, sim: Simulator, after: float) -> tuple[int, str]:
    """``terraform apply`` in a process group of its own, as a terminal runs it, and a
    Ctrl-C to that group ``after`` seconds into the cluster's creation."""
    proc = tf.start_apply(own_group=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for the cluster's creation to begin
        if "photon_k8s_cluster.c: Creating..." in line:
            break
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.stdout.read()
    return proc.wait(timeout=180), output


def test_ctrl_c_mid_create_keeps_what_was_made_and_the_next_apply_converges(
    slow_sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(slow_sim.hosts) + tenant() + cluster(workers=2))
    tf.init()
    code, output = ctrl_c_during(tf, slow_sim, after=1.0)
    assert code != 0 and "Interrupt received" in output, output
    assert "Plugin did not respond" not in output and "plugin exited" not in output, output
    kept = nodes(tf)  # the VMs begun before Ctrl-C were waited for and are in the state
    vms = marked_vms(slow_sim.hosts)
    assert kept and {n: v["vm_id"] for n, v in kept.items()} == {
        n: moid for n, (_, moid, _) in vms.items()
    }

    again = tf.apply()  # the cluster's secrets are intact: no "restore the state from a backup"
    assert again.code == 0, again.output
    after = nodes(tf)
    assert sorted(after) == ["master-1", "worker-1", "worker-2"]
    assert {n: moid for n, (_, moid, _) in marked_vms(slow_sim.hosts).items()} == {
        n: v["vm_id"] for n, v in after.items()
    }  # exactly one VM per node
    assert tf.plan().code == 0


def test_a_cluster_with_neither_record_nor_vms_is_planned_for_creation(
    sim3: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=1))
    tf.init()
    assert tf.apply().code == 0
    before = nodes(tf)
    delete_vm(sim3, *before.values())
    with probe(sim3["esx-1"]) as p:  # the records' host
        p.delete_file("photon-platform/clusters/team-a.prod.json")

    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["create"]}
    assert "Warning: Cluster team-a/prod is gone" in planned.flat
    applied = tf.run("apply", "-no-color", "saved.tfplan")
    assert applied.code == 0, applied.output
    assert sorted(cluster_vms(sim3)) == sorted(before)
    assert tf.plan().code == 0


def test_a_cluster_whose_record_is_left_is_restored_not_created(
    sim3: Simulator, tf: Terraform
) -> None:
    """All VMs gone but the record there (or one VM left): its nodes are lost, as before."""
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=1))
    tf.init()
    assert tf.apply().code == 0
    delete_vm(sim3, *nodes(tf).values())
    planned, shown = tf.saved_plan()
    assert shown is not None and "photon_k8s_cluster.c" not in planned_actions(shown)
    assert "Unhealthy nodes not restored" in planned.flat  # all lost: held back, as before


def test_the_records_host_down_is_named_as_such(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    sim.kill("esx-1")  # the records host
    planned = tf.plan()
    assert planned.code == 1
    assert "Error: ESXi host unreachable: esx-1" in planned.flat
    assert (
        "No host that answers has the platform records (a photon-platform folder), so they "
        "are probably on esx-1" in planned.flat
    )


def records_hosts(sim: Simulator) -> list[str]:
    """The hosts with a photon-platform folder."""
    found = []
    for host in sim.hosts:
        with probe(host) as p:
            if p.files("photon-platform"):
                found.append(host.name)
    return found


def test_the_records_place_never_depends_on_the_order_of_the_host_blocks(
    sim: Simulator, tf: Terraform, tmp_path: Path
) -> None:
    tf.write(provider_block(reversed(sim.hosts)) + tenant())  # esx-2 first: records on esx-1
    tf.init()
    assert tf.apply().code == 0
    assert records_hosts(sim) == ["esx-1"]
    other = tf.elsewhere(tmp_path / "other")  # esx-1 first
    other.write(provider_block(sim.hosts) + tenant("team-b"))
    assert other.apply().code == 0
    assert records_hosts(sim) == ["esx-1"]  # the one place, found
    with probe(sim["esx-1"]) as p:
        assert p.read_file("photon-platform/tenants/team-b.json") is not None

    stated = provider_block(sim.hosts, '\n  records_host = "esx-2"') + tenant("team-b")
    other.write(stated)
    refused = other.plan()
    assert refused.code == 1
    assert "Error: Platform records are on esx-1, not on records_host esx-2" in refused.flat

    with probe(sim["esx-2"]) as p:  # a second set, as an older provider could have made
        p.make_directory("photon-platform/tenants")
    refused = tf.plan()
    assert refused.code == 1
    assert "Error: Platform records found on two hosts: esx-1 and esx-2" in refused.flat
    assert "Keep one: `terraform-provider-photon records export`" in refused.flat


def test_two_states_of_one_cluster_never_undo_each_other(
    sim3: Simulator, tf: Terraform, tmp_path: Path
) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(workers=2))
    tf.init()
    assert tf.apply().code == 0
    other = tf.elsewhere(tmp_path / "other")  # a second working directory, its own state
    imported = other.import_cluster()
    assert imported.code == 0, imported.output
    assert "Warning: This state now manages the cluster" in imported.flat
    other.write(hcl + cluster(workers=3))
    assert other.apply().code == 0  # the other state changes it first
    made = cluster_vms(sim3)
    assert sorted(made) == ["master-1", "worker-1", "worker-2", "worker-3"]

    tf.write(hcl + cluster(workers=1))  # the first state, behind, would remove two workers
    refused = tf.plan()
    assert refused.code == 1
    assert "Error: Cluster team-a/prod was changed by another configuration" in refused.flat
    assert re.search(r"The platform record is at generation (\d+), but this state knows "
                     r"generation (\d+)", refused.flat)  # fmt: skip
    tf.write(hcl + cluster(workers=2))  # as it was: nothing to plan, but a destroy ...
    destroyed = tf.destroy()  # ... of what the other state manages is refused too
    assert destroyed.code == 1, destroyed.output
    assert "Error: Cluster team-a/prod was changed by another configuration" in destroyed.flat
    assert "Destroy complete" not in destroyed.flat
    assert sorted(cluster_vms(sim3)) == sorted(made)
    assert other.plan().code == 0  # the owner goes on as before


def test_a_run_whose_lock_is_taken_over_makes_no_more_vms(
    slow_sim: Simulator, tf: Terraform
) -> None:
    """Another run takes the platform lock over (as after this one was paused past the lock's
    expiry): before its next VM this run finds the lock is not its own, and stops."""
    hcl = provider_block(slow_sim.hosts) + tenant()
    tf.write(hcl + cluster(workers=1, worker_batch_size="1"))
    tf.init()
    assert tf.apply().code == 0
    tf.write(hcl + cluster(workers=4, worker_batch_size="1"))  # three batches of one
    growing = tf.start_apply()
    deadline = time.monotonic() + 60
    while "worker-2" not in marked_vms(slow_sim.hosts):  # the first batch is being made
        assert time.monotonic() < deadline and growing.poll() is None
        time.sleep(0.1)
    taken = {"token": "another-run", "expires": "2000-01-01T00:00:00+00:00"}  # since expired
    with probe(slow_sim["esx-1"]) as p:  # the records host
        p.write_file("photon-platform/lock/owner.json", json.dumps(taken).encode())
    output = growing.communicate(timeout=120)[0]
    assert growing.returncode == 1, output
    assert "Error: Platform lock lost" in " ".join(output.split())
    made = marked_vms(slow_sim.hosts)
    assert "worker-4" not in made and len(made) < 5  # it stopped before its next VM
    assert sorted(nodes(tf)) == sorted(made)  # what it made is in the state

    again = tf.apply()  # the next run (the lock expired) adds what is missing
    assert again.code == 0, again.output
    assert sorted(marked_vms(slow_sim.hosts)) == [
        "master-1",
        *[f"worker-{i}" for i in (1, 2, 3, 4)],
    ]
    assert tf.plan().code == 0


def test_a_disk_copied_before_its_vm_existed_is_replaced_and_gone_after_destroy(
    sim3: Simulator, tf: Terraform
) -> None:
    """An interrupted run copied worker-1's disk into its folder, then stopped before the VM
    (on every host here: placement may pick any). The next apply makes the node there."""
    for host in sim3.hosts:
        with probe(host) as p:
            p.make_directory("team-a-prod-worker-1")
            copy = p.si.content.virtualDiskManager.CopyVirtualDisk_Task(
                sourceName=f"[{p.datastore.name}] images/k8s.vmdk",
                sourceDatacenter=p.datacenter,
                destName=f"[{p.datastore.name}] team-a-prod-worker-1/team-a-prod-worker-1.vmdk",
                destDatacenter=p.datacenter,
            )
            p.wait(copy)
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(workers=1))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0 and "Warning" not in applied.output, applied.output
    assert sorted(cluster_vms(sim3)) == ["master-1", "worker-1"]
    where = nodes(tf)["worker-1"]["host"]
    assert tf.destroy().code == 0
    with probe(sim3[where]) as p:  # its folder went with it
        assert not [f for f in p.files("") if f.startswith("team-a-prod-worker-1")]


def test_a_tenant_destroy_that_cannot_work_is_refused_at_plan_before_anything_goes(
    sim3: Simulator, tf: Terraform, tmp_path: Path
) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + quota("{ vm_count = 4 }"))
    tf.init()
    assert tf.apply().code == 0
    other = tf.elsewhere(tmp_path / "other")  # a cluster of the tenant, managed elsewhere
    other.write(
        provider_block(sim3.hosts) + cluster(workers=1).replace("photon_tenant.t.id", '"team-a"')
    )
    assert other.apply().code == 0

    refused = tf.destroy()
    assert refused.code == 1
    assert "Error: Tenant team-a still has clusters" in refused.flat
    assert "team-a/prod (in the platform records) would be left without their tenant" in (
        refused.flat
    )
    assert "Destroying..." not in refused.flat  # not even the quota went first
    assert tf.ok("state", "list").stdout.split() == ["photon_quota.q", "photon_tenant.t"]

    assert other.destroy().code == 0
    sim3.kill("esx-3")  # a host of the tenant, not the records host
    refused = tf.destroy()
    assert refused.code == 1
    assert "Error: Tenant team-a cannot be destroyed while esx-3 does not answer" in refused.flat
    assert "Bring the host back and run the destroy again" in refused.flat
    assert "Destroying..." not in refused.flat
