"""photon_quota through terraform: records, live usage, limits, the platform lock. The tests
whose outcome rests on the record store (records written and removed, one quota per tenant,
runs racing) run on both stores: a datastore of the first host, and PostgreSQL."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from tests.support.postgres import Postgres
from tests.support.probe import probe
from tests.support.records import Records
from tests.support.simulator import Simulator
from tests.support.tenancy import add_vm, quota, tenant
from tests.support.terraform import Terraform, planned_change, provider_block

POOL = "photon-tenant-team-a"
RECORD = "photon-platform/quotas/team-a.json"


@pytest.fixture(params=["datastore", "postgres"])
def records(request: pytest.FixtureRequest, sim: Simulator, postgres: Postgres) -> Records:
    url = postgres.new_database() if request.param == "postgres" else None
    return Records(sim["esx-1"], url)


def test_lifecycle_records_pool_limits_and_usage(
    sim: Simulator, tf: Terraform, records: Records
) -> None:
    head = provider_block(sim.hosts, records.hcl)
    tf.write(head + tenant() + quota("{ vcpu = 8, memory_gb = 16 }"))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    values = tf.resource_values("photon_quota.q")
    assert values["limits"] == {"vm_count": None, "vcpu": 8, "memory_gb": 16, "disk_gb": None}
    assert values["usage"] == {"vm_count": 0, "vcpu": 0, "memory_gb": 0, "disk_gb": 0}
    assert (records.get("quotas", "team-a") or {})["limits"]["vcpu"] == 8
    assert (records.get("tenants", "team-a") or {})["hosts"] == ["esx-1", "esx-2"]
    for host in sim.hosts:
        with probe(host) as p:
            assert p.memory_limit(POOL) == 16 * 1024  # ESXi enforces memory itself
    assert tf.plan().code == 0

    tf.write(head + tenant() + quota("{ vcpu = 8, memory_gb = 4 }"))
    assert tf.apply().code == 0
    with probe(sim["esx-2"]) as p:
        assert p.memory_limit(POOL) == 4 * 1024

    tf.write(head + tenant())
    assert tf.apply().code == 0
    assert records.get("quotas", "team-a") is None
    with probe(sim["esx-1"]) as p:
        assert p.memory_limit(POOL) == -1


def test_usage_follows_vms_owned_by_the_tenant_on_any_host(sim: Simulator, tf: Terraform) -> None:
    records = Records(sim["esx-1"])  # usage is counted on the hosts, whatever the store
    head = provider_block(sim.hosts)
    tf.write(head + tenant() + quota("{ vcpu = 8 }"))
    tf.init()
    assert tf.apply().code == 0
    add_vm(sim, "esx-2", "w1")
    add_vm(sim, "esx-1", "w2")
    with probe(sim["esx-1"]) as p:  # not the tenant's: no mark
        p.create_vm(p.pool(POOL), "unmarked", cpus=4)
    assert tf.apply("-refresh-only").code == 0
    usage = tf.resource_values("photon_quota.q")["usage"]
    assert usage == {"vm_count": 2, "vcpu": 4, "memory_gb": 2, "disk_gb": 2}

    tf.write(head + tenant() + quota("{ vcpu = 3 }"))
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: Quota limit below current usage" in plan.flat
    assert "Tenant team-a: vcpu (vm.cpu): limit 3, in use 4, requested 3." in plan.flat
    assert "limits = { vcpu = 3 }" in plan.flat  # the attribute is pointed at
    assert (records.get("quotas", "team-a") or {})["limits"]["vcpu"] == 8  # unchanged


def test_one_quota_per_tenant(sim: Simulator, tf: Terraform, records: Records) -> None:
    hcl = provider_block(sim.hosts, records.hcl) + tenant() + quota("{ vcpu = 8 }")
    tf.write(hcl + quota("{ vcpu = 4 }", name="second", tenant_ref='"team-a"'))
    tf.init()
    assert tf.apply("-target=photon_quota.q").code == 0
    applied = tf.apply()
    assert applied.code == 1
    assert "Error: Tenant already has a quota" in applied.flat
    assert "terraform import <address> team-a" in applied.flat
    assert (records.get("quotas", "team-a") or {})["limits"]["vcpu"] == 8


def test_parallel_applies_on_separate_state_cannot_both_create_a_quota(
    sim: Simulator, tf: Terraform, tmp_path: Path, records: Records
) -> None:
    """Three runs race through terraform: exactly one creates the quota."""
    tf.write(provider_block(sim.hosts, records.hcl) + tenant())
    tf.init()
    assert tf.apply().code == 0
    runs = []
    for index in range(3):
        folder = tmp_path / f"run{index}"
        folder.mkdir()
        other = Terraform(folder, tf.env)
        other.write(
            provider_block(sim.hosts, records.hcl)
            + quota(f"{{ vcpu = {4 + index} }}", tenant_ref='"team-a"')
        )
        other.init()
        runs.append(other.start_apply())
    outputs = [(run.wait(timeout=120), run.stdout.read()) for run in runs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in outputs) == [0, 1, 1], outputs
    for loser in (out for code, out in outputs if code == 1):
        assert "Tenant already has a quota" in " ".join(loser.split())
    winner = outputs.index(next(o for o in outputs if o[0] == 0))
    assert (records.get("quotas", "team-a") or {})["limits"]["vcpu"] == 4 + winner
    assert records.lock_free()  # released


def lock_owner(expires: datetime.datetime) -> bytes:
    return json.dumps(
        {
            "token": "x",
            "owner": "ci-runner-7:4242",
            "purpose": "create quota of team-a",
            "acquired": "2026-01-01T00:00:00+00:00",
            "expires": expires.isoformat(),
        }
    ).encode()


def test_a_stale_lock_of_a_killed_run_expires(sim: Simulator, tf: Terraform) -> None:
    with probe(sim["esx-1"]) as p:
        p.make_directory("photon-platform/lock")
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        p.write_file("photon-platform/lock/owner.json", lock_owner(past))
    tf.write(provider_block(sim.hosts) + tenant() + quota("{ vm_count = 3 }"))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    with probe(sim["esx-1"]) as p:
        assert p.read_file("photon-platform/lock/owner.json") is None


def test_a_live_lock_makes_a_run_wait_then_give_up(sim: Simulator, tf: Terraform) -> None:
    with probe(sim["esx-1"]) as p:
        p.make_directory("photon-platform/lock")
        future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        p.write_file("photon-platform/lock/owner.json", lock_owner(future))
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    applied = tf.run("apply", "-auto-approve", "-no-color", env={"PHOTON_LOCK_TIMEOUT": "1"})
    assert applied.code == 1
    assert "Error: Platform records are locked" in applied.flat
    assert "ci-runner-7:4242 (create quota of team-a" in applied.flat
    with probe(sim["esx-1"]) as p:
        assert p.pool_names() == []  # nothing done without the lock


def test_a_corrupt_record_is_a_clear_error_and_is_left_alone(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant() + quota("{ vcpu = 8 }"))
    tf.init()
    assert tf.apply().code == 0
    with probe(sim["esx-1"]) as p:
        p.write_file(RECORD, b"{not json")
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: Unreadable platform record" in plan.flat
    assert (
        "[LocalDS_0] photon-platform/quotas/team-a.json on host esx-1 cannot be read" in plan.flat
    )
    assert "there is no readable previous copy" in plan.flat  # written once: no .json.1 yet
    with probe(sim["esx-1"]) as p:
        assert p.read_file(RECORD) == b"{not json"


def test_invalid_limits_are_refused_at_validate(tf: Terraform) -> None:
    head = provider_block([])
    cases = {
        "{ vcpu = -1 }": "Invalid quota limit",
        "{ vm_count = 1.5 }": "1.5 is not a whole number.",
        '{ memory_gb = "lots" }': "Incorrect attribute value type",
    }
    tf.write(head)
    tf.init()
    for limits, message in cases.items():
        tf.write(head + quota(limits, tenant_ref='"team-a"'))
        validated = tf.run("validate", "-no-color")
        assert validated.code == 1 and message in validated.flat, validated.output


def test_import_by_tenant_name(sim: Simulator, tf: Terraform, tmp_path: Path) -> None:
    head = provider_block(sim.hosts)
    tf.write(head + tenant(description='"Team A"') + quota("{ vcpu = 8 }"))
    tf.init()
    assert tf.apply().code == 0
    other = Terraform(tmp_path / "again", tf.env)
    other.workdir.mkdir()
    other.write(head + tenant(description='"Team A"') + quota("{ vcpu = 8 }"))
    other.init()
    assert other.run("import", "-no-color", "photon_tenant.t", "team-a").code == 0
    assert other.run("import", "-no-color", "photon_quota.q", "team-a").code == 0
    assert other.resource_values("photon_tenant.t")["description"] == "Team A"  # from the record
    assert other.plan().code == 0
    missing = other.run("import", "-no-color", "photon_quota.q", "team-b")
    assert missing.code == 1 and "No quota to import" in missing.flat


def test_memory_limit_follows_new_pools_and_is_restored_after_drift(
    sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(sim.hosts) + tenant(hosts='["esx-1"]') + quota("{ memory_gb = 4 }"))
    tf.init()
    assert tf.apply().code == 0
    tf.write(provider_block(sim.hosts) + tenant() + quota("{ memory_gb = 4 }"))
    assert tf.apply().code == 0
    with probe(sim["esx-2"]) as p:
        assert p.memory_limit(POOL) == 4096  # the pool made later is limited too

    with probe(sim["esx-1"]) as p:  # someone lifts the limit by hand
        alloc = p.pool(POOL).config.memoryAllocation
        alloc.limit = -1
        p.pool(POOL).UpdateConfig(name=None, config=p.pool(POOL).config.__class__(
            cpuAllocation=p.pool(POOL).config.cpuAllocation, memoryAllocation=alloc))  # fmt: skip
    plan, shown = tf.saved_plan()
    assert plan.code == 2 and shown is not None, plan.output
    change = planned_change(shown, "photon_quota.q")
    assert change["before"]["limits"]["memory_gb"] is None  # as the pool says now
    assert change["after"]["limits"]["memory_gb"] == 4
    assert tf.apply().code == 0
    with probe(sim["esx-1"]) as p:
        assert p.memory_limit(POOL) == 4096
    assert tf.plan().code == 0


def test_quota_import_refuses_what_is_not_a_tenant_name(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + quota("{ vcpu = 1 }", tenant_ref='"team-a"'))
    tf.init()
    imported = tf.run("import", "-no-color", "photon_quota.q", "../lock/owner")
    assert imported.code == 1 and "No quota to import" in imported.flat


def test_provider_sessions_are_logged_out_when_terraform_is_done(
    sim: Simulator, tf: Terraform
) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    assert tf.plan().code == 0
    for host in sim.hosts:
        with probe(host) as p:
            sessions = p.si.content.sessionManager.sessionList
            assert len(sessions) == 1, sessions  # the probe's own
