"""Mistakes a user can make: each gives its diagnostic, at the right place, and changes nothing."""

from __future__ import annotations

import socket

import pytest

from tests.support.cluster import cluster
from tests.support.simulator import Simulator
from tests.support.tenancy import pools, quota, tenant
from tests.support.terraform import Terraform, provider_block


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attempt(tf: Terraform, hcl: str) -> str:
    """Plan and apply the configuration; both must fail. Returns apply's folded output."""
    tf.write(hcl)
    tf.init()
    assert tf.plan().code == 1
    applied = tf.apply()
    assert applied.code == 1, applied.output
    assert "Traceback" not in applied.output
    return applied.flat


def assert_nothing_changed(sim: Simulator, tf: Terraform) -> None:
    assert pools(sim) == {"esx-1": [], "esx-2": []}
    assert tf.run("state", "list").stdout == ""


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("Team_A", "'Team_A' is not valid: a tenant name starts with a lowercase letter"),
        ("a-", "'a-' is not valid"),
        ("x" * 64, "at most 63 characters long"),
    ],
)
def test_invalid_tenant_name(sim: Simulator, tf: Terraform, name: str, detail: str) -> None:
    out = attempt(tf, provider_block(sim.hosts) + tenant(name))
    assert "Error: Invalid tenant name" in out and detail in out
    assert f'in resource "photon_tenant" "t": 25: name = "{name}"' in out  # the attribute path
    assert_nothing_changed(sim, tf)


def test_unknown_host_name(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts) + tenant(hosts='["esx-1", "esx-9"]'))
    assert "Error: Unknown host" in out
    assert "Host 'esx-9' is not configured in the provider; configured hosts: esx-1, esx-2." in out
    assert 'hosts = ["esx-1", "esx-9"]' in out
    assert_nothing_changed(sim, tf)


def test_empty_host_list(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts) + tenant(hosts="[]"))
    assert "Error: Empty host list" in out and "hosts = []" in out
    assert_nothing_changed(sim, tf)


def test_unreachable_host(sim: Simulator, tf: Terraform) -> None:
    port = closed_port()
    hcl = provider_block(sim.hosts, esx_2={"address": f"127.0.0.1:{port}"}) + tenant()
    out = attempt(tf, hcl)
    assert "Error: ESXi host unreachable: esx-2" in out
    assert f"Host esx-2: cannot reach 127.0.0.1:{port}" in out
    assert "Check that the host is running" in out
    assert_nothing_changed(sim, tf)


def test_wrong_password(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts, esx_1={"password": "not-it"}) + tenant())
    assert "Error: ESXi login failed: esx-1" in out
    assert "refused user 'root'" in out and "Check the user and password" in out
    assert "not-it" not in out  # a password is never echoed
    assert_nothing_changed(sim, tf)


def test_wrong_thumbprint(sim: Simulator, tf: Terraform) -> None:
    wrong = ":".join(["AB"] * 32)
    out = attempt(tf, provider_block(sim.hosts, esx_1={"thumbprint": wrong}) + tenant())
    assert "Error: ESXi host certificate not trusted: esx-1" in out
    assert f"presents a certificate with SHA-256 thumbprint {sim['esx-1'].thumbprint}" in out
    assert_nothing_changed(sim, tf)


def test_no_thumbprint_shows_the_one_to_trust(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts, esx_2={"thumbprint": None}) + tenant())
    assert "Error: ESXi host certificate not trusted: esx-2" in out
    assert f"no thumbprint configured; {sim['esx-2'].address} presents a certificate" in out
    assert sim["esx-2"].thumbprint in out
    assert_nothing_changed(sim, tf)


def test_insecure_skips_the_check(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts, esx_2={"thumbprint": None, "insecure": True}) + tenant())
    tf.init()
    assert tf.apply().code == 0
    assert pools(sim)["esx-2"] == ["photon-tenant-team-a"]


def test_missing_host_block(sim: Simulator, tf: Terraform) -> None:
    hcl = provider_block([]) + tenant()
    out = attempt(tf, hcl)
    assert "Error: No ESXi host configured" in out
    assert "Add a host block to the provider" in out and "PHOTON_HOST" in out
    assert_nothing_changed(sim, tf)


def test_duplicate_host_names(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts, esx_2={"name": "esx-1"}) + tenant())
    assert "Error: Duplicate host name" in out
    assert "Host name 'esx-1' is used by host blocks 0 and 1" in out
    assert_nothing_changed(sim, tf)


def test_malformed_thumbprint(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts, esx_1={"thumbprint": "12:34"}) + tenant())
    assert "Error: Invalid thumbprint" in out and 'thumbprint = "12:34"' in out
    assert_nothing_changed(sim, tf)


def test_tenant_name_taken(sim: Simulator, tf: Terraform) -> None:
    from tests.support.probe import probe

    with probe(sim["esx-2"]) as p:
        p.create_pool("photon-tenant-team-a")
    out = attempt(tf, provider_block(sim.hosts) + tenant())
    assert "Error: Tenant already exists" in out
    assert "Host esx-2 already has a resource pool 'photon-tenant-team-a'" in out
    assert "terraform import <address> team-a" in out
    assert pools(sim) == {"esx-1": [], "esx-2": ["photon-tenant-team-a"]}
    assert tf.run("state", "list").stdout == ""


def test_removing_a_host_that_holds_a_pool_is_explained(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    assert tf.apply().code == 0
    tf.write(provider_block([sim["esx-1"]]) + tenant())
    plan = tf.plan()
    assert plan.code == 1
    assert "Error: Tenant on a host that is no longer configured" in plan.flat
    assert "Tenant 'team-a' has resource pools on esx-2" in plan.flat
    assert pools(sim) == {"esx-1": ["photon-tenant-team-a"], "esx-2": ["photon-tenant-team-a"]}


@pytest.mark.parametrize(
    ("extra", "summary", "detail", "line"),
    [
        ({"worker_ips": '["10.0.0.31", "10.0.0.21"]'}, "Duplicate node address",
         "10.0.0.21 is given to master_ips[0] and worker_ips[1]", 'worker_ips = ["10.0.0.31"'),
        ({"pod_cidr": '"10.0.0.0/8"'}, "Networks overlap",
         "pod_cidr 10.0.0.0/8 overlaps the nodes' network 10.0.0.0/24", 'pod_cidr = "10.0.0.0/8"'),
        ({"ssh_public_keys": '["my-key"]'}, "Invalid SSH public key",
         "Key 1 (my-key...) is not an OpenSSH public key", 'ssh_public_keys = ["my-key"]'),
    ],
)  # fmt: skip
def test_cluster_inputs_that_cannot_work_together(
    sim: Simulator, tf: Terraform, extra: dict[str, str], summary: str, detail: str, line: str
) -> None:
    out = attempt(tf, provider_block(sim.hosts) + tenant() + cluster(workers=2, **extra))
    assert f"Error: {summary}" in out and detail in out
    assert line in out  # pointed at the attribute
    assert_nothing_changed(sim, tf)


def test_a_quota_limit_beyond_any_estate_is_refused(sim: Simulator, tf: Terraform) -> None:
    out = attempt(tf, provider_block(sim.hosts) + tenant() + quota("{ vm_count = 1e12 }"))
    assert "Error: Invalid quota limit" in out and "1000000000000 is more than 1000000000." in out
    assert 'in resource "photon_quota" "q"' in out
    assert_nothing_changed(sim, tf)


def test_a_quota_that_limits_nothing_is_said_at_plan(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant() + quota("{}"))
    tf.init()
    planned = tf.plan()
    assert planned.code == 2, planned.output
    assert "Warning: The quota limits nothing" in planned.flat
    assert "Set at least one limit, or remove the quota." in planned.flat


def test_a_base_image_missing_from_the_hosts_is_said_at_plan(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())  # these hosts have no images/k8s.vmdk
    tf.init()
    assert tf.apply().code == 0
    tf.write(provider_block(sim.hosts) + tenant() + cluster(workers=1))
    refused = tf.plan()
    assert refused.code == 1, refused.output
    for host in ("esx-1", "esx-2"):
        assert (
            f"images/k8s.vmdk is not on LocalDS_0, the datastore of host {host} that new nodes "
            "go to" in refused.flat
        )
    assert 'image = "images/k8s.vmdk"' in refused.flat  # at the attribute
    assert tf.ok("state", "list").stdout.split() == ["photon_tenant.t"]
