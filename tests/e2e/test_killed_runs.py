"""Killed runs: SIGKILL to Terraform and the provider alike, on hosts slowed so that the kill
lands mid-way (before a VM is finished, while its disk is copied, mid-batch, mid-roll). A run
writes what it is about to make into the cluster's record first, so the next refresh adopts
what the killed run finished and the plan removes the rest: each scenario ends with one VM per
node, no stray folder and a clean plan, with nobody deleting anything.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest
from pyVmomi import vmodl

from tests.support.cluster import NO_DRAIN, cluster, delete_vm, marked_vms, nodes
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import Terraform, planned_actions, planned_change, provider_block


@pytest.fixture
def slower_sim() -> Iterator[Simulator]:
    delays = ("CreateVM_Task=1500", "CopyVirtualDisk_Task=1500")
    args = [f"--method-delay={d}" for d in delays]
    with Simulator(2, "--image", "images/k8s.vmdk", *args) as simulator:
        yield simulator


def kill_when(tf: Terraform, sim: Simulator, ready: Callable[[], bool]) -> None:
    """``terraform apply`` killed (SIGKILL, provider too) once ``ready()``; then the platform
    lock it held is made to look expired, as it is two minutes later."""
    tf.env["PHOTON_WARM_START"] = "0"
    proc = tf.start_apply(own_group=True)
    deadline = time.monotonic() + 90
    while not ready():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()[0]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    expired = {"token": "killed-run", "expires": "2000-01-01T00:00:00+00:00"}
    with probe(sim["esx-1"]) as p:  # the records host
        if p.read_file("photon-platform/lock/owner.json") is not None:
            p.write_file("photon-platform/lock/owner.json", json.dumps(expired).encode())


def running(sim: Simulator) -> dict[str, list[str]]:
    """Node -> the VM names of the cluster's VMs that are powered on (a node may have two).
    Looked at while a run destroys VMs: one gone between the listing and the look is skipped."""
    found: dict[str, list[str]] = {}
    for host in sim.hosts:
        with probe(host) as p:
            for name, vm in p.vms().items():
                try:
                    extra, power = p.extra_config(vm), vm.runtime.powerState
                except vmodl.fault.ManagedObjectNotFound:
                    continue
                if extra.get("photon.cluster") == "prod" and power == "poweredOn":
                    found.setdefault(extra["photon.node"], []).append(name)
    return found


def one_vm_per_node(tf: Terraform, sim: Simulator) -> None:
    """The end of every killed-run scenario: one VM per node, the state's, no folder of a
    replacement VM that does not exist (a VM the test deleted by hand leaves its own), and a
    clean plan."""
    state = nodes(tf)
    assert {n: v["vm_id"] for n, v in state.items()} == {
        n: moid for n, (_, moid, _) in marked_vms(sim.hosts).items()
    }
    assert sum(len(vms) for vms in running(sim).values()) == len(state)
    for host in sim.hosts:
        with probe(host) as p:
            # (The simulator puts a VM's own files in "<name> (0)" beside our disk's folder.)
            files = [f.split("/")[0].split(" (")[0] for f in p.files("")]
            folders = {f for f in files if f.startswith("team-a-prod-") and "-r" in f[12:]}
            assert folders <= set(p.vms()), (host.name, folders - set(p.vms()))
    clean = tf.plan()
    assert clean.code == 0, clean.output


def test_a_killed_restore_is_adopted_never_made_twice(slower_sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(slower_sim.hosts) + tenant() + cluster(workers=1))
    tf.init()
    assert tf.apply().code == 0
    delete_vm(slower_sim, nodes(tf)["worker-1"])
    kill_when(tf, slower_sim, lambda: "worker-1" in running(slower_sim))  # made and on

    plan = tf.plan()
    assert plan.code == 0, plan.output  # nothing to do: the node is there
    assert "Warning: Node worker-1 of cluster team-a/prod: VM team-a-prod-worker-1-r" in plan.flat
    assert "adopted" in plan.flat
    assert tf.apply().code == 0
    one_vm_per_node(tf, slower_sim)


def test_a_restore_killed_while_its_disk_is_copied_leaves_nothing_behind(
    slower_sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(slower_sim.hosts) + tenant() + cluster(workers=1))
    tf.init()
    assert tf.apply().code == 0
    delete_vm(slower_sim, nodes(tf)["worker-1"])

    def copying() -> bool:  # the new VM's folder is there, the VM not yet
        for host in slower_sim.hosts:
            with probe(host) as p:
                if any(f.startswith("team-a-prod-worker-1-r") for f in p.files("")):
                    return True
        return False

    kill_when(tf, slower_sim, copying)
    planned, shown = tf.saved_plan()
    assert shown is not None, planned.output
    assert planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}  # restored again
    applied = tf.run("apply", "-no-color", "saved.tfplan")
    assert applied.code == 0, applied.output
    one_vm_per_node(tf, slower_sim)  # the first attempt's folder is gone


def test_a_killed_growth_keeps_what_was_finished_and_removes_the_rest(
    slower_sim: Simulator, tf: Terraform
) -> None:
    hcl = provider_block(slower_sim.hosts) + tenant()
    tf.write(hcl + cluster(workers=1, worker_batch_size="1"))
    tf.init()
    assert tf.apply().code == 0
    tf.write(hcl + cluster(workers=3, worker_batch_size="1"))
    kill_when(tf, slower_sim, lambda: "worker-2" in running(slower_sim))
    finished = marked_vms(slower_sim.hosts)["worker-2"][1]

    planned, shown = tf.saved_plan()
    assert shown is not None, planned.output
    assert "VM team-a-prod-worker-2 adopted" in planned.flat
    change = planned_change(shown, "photon_k8s_cluster.c")
    before, after = change["before"]["nodes"], change["after"]["nodes"]
    assert before["worker-2"]["vm_id"] == after["worker-2"]["vm_id"] == finished
    assert "worker-3" in after and not [n for n in after if "@" in n]  # strays removed
    applied = tf.run("apply", "-no-color", "saved.tfplan")
    assert applied.code == 0, applied.output
    assert sorted(nodes(tf)) == ["master-1", "worker-1", "worker-2", "worker-3"]
    assert nodes(tf)["worker-2"]["vm_id"] == finished
    one_vm_per_node(tf, slower_sim)


def test_a_killed_create_is_taken_over_by_the_next_apply(
    slower_sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(slower_sim.hosts) + tenant() + cluster(workers=2))
    tf.init()
    kill_when(tf, slower_sim, lambda: "master-1" in running(slower_sim))
    master = marked_vms(slower_sim.hosts)["master-1"][1]
    assert "photon_k8s_cluster.c" not in tf.ok("state", "list").stdout  # Terraform knows nothing

    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert sorted(nodes(tf)) == ["master-1", "worker-1", "worker-2"]
    assert nodes(tf)["master-1"]["vm_id"] == master  # finished: adopted, not made again
    one_vm_per_node(tf, slower_sim)


def test_a_killed_roll_is_resumed_and_no_node_rolls_twice(
    slower_sim: Simulator, tf: Terraform
) -> None:
    hcl = provider_block(slower_sim.hosts) + tenant()
    tf.write(hcl + cluster(masters=3, workers=1, raw=NO_DRAIN))
    tf.init()
    assert tf.apply().code == 0
    tf.write(hcl + cluster(masters=3, workers=1, raw=NO_DRAIN).replace('"1.32.3"', '"1.33.0"'))

    def first_master_rolled() -> bool:
        return any("-r" in vm[12:] for vm in running(slower_sim).get("master-1", []))

    kill_when(tf, slower_sim, first_master_rolled)
    planned, shown = tf.saved_plan()
    assert shown is not None, planned.output
    change = planned_change(shown, "photon_k8s_cluster.c")
    rolling = sorted(n for n, v in change["after_unknown"]["nodes"].items() if v.get("vm_id"))
    assert rolling == ["master-2", "master-3", "worker-1"]  # master-1 rolled: adopted
    assert change["after"]["nodes"]["master-1"]["kubernetes_version"] == "1.33.0"
    applied = tf.run("apply", "-no-color", "saved.tfplan", timeout=300)
    assert applied.code == 0, applied.output
    assert {v["kubernetes_version"] for v in nodes(tf).values()} == {"1.33.0"}
    one_vm_per_node(tf, slower_sim)
