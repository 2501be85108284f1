"""photon_tenant through the real terraform CLI against two simulated ESXi hosts."""

from __future__ import annotations

import re

from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import pools, tenant
from tests.support.terraform import Terraform, planned_actions, planned_change, provider_block

POOL = "photon-tenant-team-a"


def test_create_update_destroy(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant(description='"Team A"'))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert pools(sim) == {"esx-1": [POOL], "esx-2": [POOL]}
    assert tf.plan().code == 0

    tf.write(provider_block(sim.hosts) + tenant(description='"Team A, payments"'))
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_actions(shown) == {"photon_tenant.t": ["update"]}
    assert tf.apply().code == 0
    assert tf.resource_values("photon_tenant.t")["description"] == "Team A, payments"

    tf.write(provider_block(sim.hosts) + tenant(hosts='["esx-1"]'))
    assert tf.apply().code == 0
    assert pools(sim) == {"esx-1": [POOL], "esx-2": []}
    assert tf.plan().code == 0

    destroyed = tf.destroy()
    assert destroyed.code == 0, destroyed.output
    assert pools(sim) == {"esx-1": [], "esx-2": []}


def test_renaming_replaces(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    tf.write(provider_block(sim.hosts) + tenant("team-b"))
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    change = planned_change(shown, "photon_tenant.t")
    assert change["actions"] == ["delete", "create"] and change["replace_paths"] == [["name"]]
    assert tf.apply().code == 0
    assert pools(sim) == {"esx-1": ["photon-tenant-team-b"], "esx-2": ["photon-tenant-team-b"]}


def test_deleted_or_renamed_pool_is_drift_and_restored(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    with probe(sim["esx-2"]) as p:
        p.pool(POOL).Destroy_Task()
    with probe(sim["esx-1"]) as p:
        p.pool(POOL).UpdateConfig(name="someone-elses-pool", config=None)

    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    # Gone from every host, but its record remains: the same tenant is restored in place.
    assert planned_actions(shown)["photon_tenant.t"] == ["update"]
    assert tf.apply().code == 0
    assert pools(sim) == {"esx-1": [POOL, "someone-elses-pool"], "esx-2": [POOL]}
    assert tf.plan().code == 0

    with probe(sim["esx-2"]) as p:
        p.pool(POOL).Destroy_Task()
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    assert planned_actions(shown) == {"photon_tenant.t": ["update"]}
    hosts = planned_change(shown, "photon_tenant.t")
    assert "esx-2" not in hosts["before"]["hosts"] and "esx-2" in hosts["after"]["hosts"]
    assert tf.apply().code == 0
    assert pools(sim)["esx-2"] == [POOL]
    assert tf.plan().code == 0


def test_import(sim: Simulator, tf: Terraform) -> None:
    for host in sim.hosts:
        with probe(host) as p:
            p.create_pool(POOL)
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    imported = tf.run("import", "-no-color", "photon_tenant.t", "team-a")
    assert imported.code == 0, imported.output
    values = tf.resource_values("photon_tenant.t")
    assert set(values["hosts"]) == {"esx-1", "esx-2"} and values["id"] == "team-a"
    assert tf.plan().code == 0

    tf.write(provider_block(sim.hosts) + tenant() + tenant("team-b").replace('"t"', '"u"'))
    bad = tf.run("import", "-no-color", "photon_tenant.u", "Team_B")
    assert bad.code == 1 and "Invalid import id" in bad.output


def test_import_of_missing_tenant_fails(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant("nobody"))
    tf.init()
    imported = tf.run("import", "-no-color", "photon_tenant.t", "nobody")
    assert imported.code == 1
    assert "Cannot import non-existent remote object" in imported.output


def test_delete_refused_while_pool_holds_vms(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    with probe(sim["esx-2"]) as p:
        p.create_vm(p.pool(POOL), "stray-vm")

    destroyed = tf.destroy()
    assert destroyed.code == 1
    assert "Tenant still has virtual machines" in destroyed.flat
    assert "holds virtual machines" in destroyed.flat and "esx-2" in destroyed.flat
    assert pools(sim) == {"esx-1": [POOL], "esx-2": [POOL]}  # nothing removed anywhere
    assert "photon_tenant.t" in tf.ok("state", "list").stdout


def test_environment_configures_a_single_host(sim: Simulator, tf: Terraform) -> None:
    host = sim["esx-1"]
    tf.write(
        'terraform {\n  required_providers {\n    photon = { source = "photon-platform/photon" }'
        '\n  }\n}\nprovider "photon" {}\n' + tenant()
    )
    tf.init()
    env = {
        "PHOTON_HOST": host.address,
        "PHOTON_PASSWORD": host.password,
        "PHOTON_THUMBPRINT": host.thumbprint,
    }
    applied = tf.run("apply", "-auto-approve", "-no-color", env=env)
    assert applied.code == 0, applied.output
    assert pools(sim) == {"esx-1": [POOL], "esx-2": []}


def test_twenty_tenants_take_the_platform_lock_once_and_plan_from_one_read_per_host(
    sim: Simulator, tf: Terraform
) -> None:
    """Terraform applies them 10 at a time through one provider process: one lease of the
    lock; the no-change plan reads each host whole once, then only what changed."""
    tf.write(provider_block(sim.hosts) + tenant("team-${count.index}", count="20"))
    tf.init()
    debug = {"TF_LOG_PROVIDER": "debug"}
    applied = tf.run("apply", "-auto-approve", "-no-color", env=debug)
    assert applied.code == 0, applied.output
    assert len(pools(sim)["esx-2"]) == 20
    assert applied.stderr.count("Took the platform lock") == 1

    planned = tf.run("plan", "-detailed-exitcode", "-no-color", env=debug)
    assert planned.code == 0, planned.output
    calls = [
        int(c) for c in re.findall(r"Provider process done:.*esxi_calls=(\d+)", planned.stderr)
    ]
    # each host read whole once (4 calls), then at most one delta call per host and tenant
    # read; the records store opened once (3) and each tenant's record fetched once (20)
    assert len(calls) == 1 and calls[0] <= 2 * 4 + 2 * 20 + 3 + 20, planned.stderr[-3000:]
