"""A node whose VM is still there but has lost its network or its disk: refresh says which,
plan shows the correction (a NIC put back in place; a new VM for a lost disk or a host
without the cluster's port group), apply does exactly that, and the next plan is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cluster import cluster, marked_vms, nodes, planned_nodes, power_off
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import Terraform, provider_block

NEW_VM = {"host", "vm_id", "mac"}  # unknown in the plan: the node gets a new VM
# Grace 0s: a lost NIC is put back at the first plan (the waiting is unit-tested).
HEALTH = '  health {\n    grace_period  = "0s"\n    max_unhealthy = "100%"\n  }'


@pytest.fixture(scope="module")
def tf(
    sim3_per_module: Simulator, tmp_path_factory: pytest.TempPathFactory, terraform_env: dict
) -> Terraform:
    workdir: Path = tmp_path_factory.mktemp("losses")
    tf = Terraform(workdir, terraform_env)
    tf.write(provider_block(sim3_per_module.hosts) + tenant() + cluster(0, 1, 5, raw=HEALTH))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    return tf


def test_lost_nics_are_put_back_in_place_and_lost_disks_replaced(
    sim3_per_module: Simulator, tf: Terraform
) -> None:
    sim, before = sim3_per_module, nodes(tf)
    for node in before.values():  # recorded when the VM was made, before any refresh
        with probe(sim[node["host"]]) as p:
            assert node["mac"] == p.nic(node["vm_id"]).macAddress
    w = {n: before[f"worker-{n}"] for n in range(1, 6)}
    with probe(sim[w[1]["host"]]) as p:
        p.disconnect_nic(w[1]["vm_id"])
    with probe(sim[w[2]["host"]]) as p:
        p.remove_nic(w[2]["vm_id"])
    with probe(sim[w[3]["host"]]) as p:
        p.add_port_group("Other Network")
        p.move_nic(w[3]["vm_id"], "Other Network")
    with probe(sim[w[4]["host"]]) as p:
        p.detach_disk(w[4]["vm_id"])
    # On ESXi a running VM locks its disk: only a VM that is off can lose the file.
    power_off(sim, w[5])
    with probe(sim[w[5]["host"]]) as p:
        p.delete_disk(p.disk_file(w[5]["vm_id"]))

    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_nodes(shown) == {
        "worker-1": ("network_lost", "ready", set()),
        "worker-2": ("network_lost", "ready", set()),
        "worker-3": ("network_lost", "ready", set()),
        "worker-4": ("disk_lost", "ready", NEW_VM),
        "worker-5": ("disk_lost", "ready", NEW_VM),
    }
    for why in (
        "its NIC is disconnected",
        "its NIC is removed",
        "its NIC is on port group 'Other Network'",
        "its system disk is detached from the VM",
        "is deleted",
    ):
        assert why in planned.flat, why

    applied = tf.apply("saved.tfplan")
    assert applied.code == 0, applied.output
    after = nodes(tf)
    assert after["master-1"] == before["master-1"]
    for n in (1, 2, 3):  # the same VM, its NIC as it was made, with its MAC
        node = after[f"worker-{n}"]
        assert {**node, "status": "ready"} == {**w[n], "status": "ready"} == node
        with probe(sim[node["host"]]) as p:
            nic = p.nic(node["vm_id"])
        assert nic is not None and nic.macAddress == w[n]["mac"]
        assert (nic.backing.deviceName, nic.connectable.connected) == ("VM Network", True)
        assert nic.connectable.startConnected
    for n in (4, 5):  # a new VM; the remnant gone
        assert after[f"worker-{n}"]["vm_id"] != w[n]["vm_id"]
    assert {n: v[1] for n, v in marked_vms(sim.hosts).items()} == {
        n: v["vm_id"] for n, v in after.items()
    }
    assert tf.plan().code == 0


def test_a_host_without_the_port_group_loses_its_nodes_to_the_others(
    sim3_per_module: Simulator, tf: Terraform
) -> None:
    """Real ESXi refuses to remove a port group that running VMs use, so the admin powers
    the nodes there off first; powering them on again would not help, so they are replaced
    at once, and never placed on that host again."""
    sim, before = sim3_per_module, nodes(tf)
    bare = next(
        h.name
        for h in sim.hosts
        if any(n["host"] == h.name for n in before.values())
        and before["master-1"]["host"] != h.name
    )
    stranded = sorted(n for n, v in before.items() if v["host"] == bare)
    for name in stranded:
        power_off(sim, before[name])
    with probe(sim[bare]) as p:
        p.remove_port_group("VM Network")

    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_nodes(shown) == {n: ("port_group_lost", "ready", NEW_VM) for n in stranded}
    assert f"host {bare} has no port group 'VM Network'" in planned.flat

    applied = tf.apply("saved.tfplan")
    assert applied.code == 0, applied.output
    after = nodes(tf)
    assert all(after[n]["host"] != bare and after[n]["status"] == "ready" for n in stranded)
    assert {n: v for n, v in after.items() if n not in stranded} == {
        n: v for n, v in before.items() if n not in stranded
    }
    assert tf.plan().code == 0


def test_a_port_group_no_host_has_is_refused_at_plan(
    sim3_per_module: Simulator, tf: Terraform, tmp_path: Path
) -> None:
    """A second cluster in the same tenant on a port group that no host has."""
    other = tf.elsewhere(tmp_path / "other")
    other.write(
        provider_block(sim3_per_module.hosts)
        + 'data "photon_tenant" "t" {\n  name = "team-a"\n}\n'
        + cluster(0, 1, 1, name="edge", network='"Lab"').replace(
            "photon_tenant.t.id", "data.photon_tenant.t.id"
        )
    )
    before = marked_vms(sim3_per_module.hosts, "edge")
    planned = other.plan()
    assert planned.code == 1
    assert "Error: Port group missing" in planned.flat
    assert "No reachable host of tenant 'team-a' has port group 'Lab'. Create it on the hosts" in (
        planned.flat
    )
    assert 'network = "Lab"' in planned.output  # Terraform points at the attribute
    assert before == {} == marked_vms(sim3_per_module.hosts, "edge")
