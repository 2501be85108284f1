"""Conditions of real hosts found at plan: a free (read-only) license, maintenance mode, a
datastore too small. One simulator for the module: esx-2 has the free license, esx-3 a
30 GB datastore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provider.esxi.endpoint import Endpoint
from provider.esxi.inventory import read_inventory
from provider.esxi.pools import create_pool
from provider.photon.platform import Platform
from tests.support.cluster import SMALL, cluster, marked_vms, nodes
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import Terraform, provider_block

FREE = "VMware vSphere 7 Hypervisor"
READ_ONLY = "Error: ESXi host esx-2 is read-only: its license forbids API writes"


@pytest.fixture(scope="module")
def hosts_sim() -> Iterator[Simulator]:
    with Simulator(
        3, "--image", "images/k8s.vmdk", "--free-license", "esx-2",
        "--datastore-capacity", "esx-3=30G",
    ) as simulator:  # fmt: skip
        yield simulator


HOSTS_OUTPUT = (
    'data "photon_hosts" "all" {}\n'
    'output "hosts" {\n  value = { for h in data.photon_hosts.all.hosts : h.name => '
    "[h.api_writable, h.license, h.maintenance] }\n}\n"
)


def test_a_free_host_fails_the_plan_and_nothing_is_written(
    hosts_sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(hosts_sim.hosts) + tenant("team-a") + HOSTS_OUTPUT)
    tf.init()
    applied = tf.apply()
    assert applied.code == 1, applied.output
    assert READ_ONLY in applied.flat
    assert f"Host esx-2 has the {FREE} license (edition esxBasic)" in applied.flat
    assert "take it out of the tenant's hosts" in applied.flat
    for host in hosts_sim.hosts:  # no pool anywhere, no record
        with probe(host) as p:
            assert "photon-tenant-team-a" not in p.pool_names()
            assert not any("team-a" in f for f in p.files())
    # Leaving the free host out works; reads of it go on.
    tf.write(provider_block(hosts_sim.hosts) + tenant("team-a", hosts='["esx-1", "esx-3"]')
             + HOSTS_OUTPUT)  # fmt: skip
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert tf.outputs()["hosts"] == {
        "esx-1": [True, "Evaluation Mode", False],
        "esx-2": [False, FREE, False],
        "esx-3": [True, "Evaluation Mode", False],
    }
    assert tf.plan().code == 0


def test_a_write_refused_at_apply_names_the_license(hosts_sim: Simulator) -> None:
    """A license changed between plan and apply: the host's RestrictedVersion fault becomes
    the plan's diagnostic."""
    free = hosts_sim["esx-2"]
    platform = Platform([Endpoint(free.name, free.address, free.user, free.password,
                                  free.thumbprint)])  # fmt: skip
    try:
        outcome = platform.on_hosts(
            ["esx-2"],
            lambda s: create_pool(s, read_inventory(s).root_pool, "photon-tenant-x", -1),
        )["esx-2"]
    finally:
        platform.close()
    diagnostic = outcome.diagnostic  # type: ignore[union-attr]
    assert diagnostic.summary == READ_ONLY.removeprefix("Error: ")
    assert f"Host esx-2 has the {FREE} license (edition esxBasic)." in diagnostic.detail


def test_maintenance_mode_and_datastore_space_are_found_at_plan(
    hosts_sim: Simulator, tf: Terraform
) -> None:
    health = '  health {\n    max_unhealthy = "100%"\n  }'  # a lone master may wait
    big_workers = cluster(workers=0, raw=health).replace(
        f"worker_flavor      = {SMALL}",
        "worker_flavor = { vcpu = 1, memory_gb = 0.5, disk_gb = 40 }",
    )
    base = (
        provider_block(hosts_sim.hosts)
        + tenant("team-b", hosts='["esx-1", "esx-3"]')
        + HOSTS_OUTPUT
    )
    with probe(hosts_sim["esx-1"]) as p:
        p.maintenance(True)
    try:
        tf.write(base)  # a tenant made in the same run is unknown at plan: nothing to place on
        tf.init()
        assert tf.apply().code == 0
        tf.write(base + big_workers)
        applied = tf.apply()  # its plan's warnings are shown
        assert applied.code == 0, applied.output
        assert "Warning: Hosts skipped for new nodes: esx-1" in applied.flat
        assert "No new node is placed on esx-1 (in maintenance mode)." in applied.flat
        assert {n["host"] for n in nodes(tf).values()} == {"esx-3"}

        # A worker needs 40 GB of disk and 0.5 GB of swap; esx-3's 30 GB datastore has 28 GB
        # left (the simulator counts the master's 2 GB disk, not its swap).
        tf.write(base + big_workers.replace("worker_count       = 0", "worker_count       = 1"))
        plan = tf.plan()
        assert plan.code == 1, plan.output
        assert "Error: No room to place the cluster's nodes" in plan.flat, plan.flat
        assert (
            "no host has room for worker-1 (0.5 GB of memory, 40.5 GB of datastore space); "
            "esx-3 has 3.5 GB of memory and 28 GB of datastore space free; "
            "esx-1 is skipped (in maintenance mode)"
        ) in plan.flat
        assert set(marked_vms(hosts_sim.hosts)) == {"master-1"}  # nothing made

        # The master's host goes into maintenance: its node is reported, not lost.
        tf.write(base + big_workers)
        master = nodes(tf)["master-1"]
        with probe(hosts_sim["esx-3"]) as p:
            p.power_off(master["vm_id"])
            p.maintenance(True)
        refreshed = tf.apply("-refresh-only")
        assert refreshed.code == 0, refreshed.output
        assert nodes(tf)["master-1"]["status"] == "host_maintenance"
        assert tf.outputs()["hosts"]["esx-3"] == [True, "Evaluation Mode", True]
        plan = tf.plan()
        assert plan.code == 0, plan.output  # within the grace period: waits
        assert "Warning: Node master-1 is on a host in maintenance mode" in plan.flat
    finally:
        for name in ("esx-1", "esx-3"):
            with probe(hosts_sim[name]) as p:
                p.maintenance(False)
