"""Data sources through terraform: photon_tenant and photon_hosts."""

from __future__ import annotations

import socket

from tests.support.simulator import Simulator
from tests.support.tenancy import add_vm, quota, tenant
from tests.support.terraform import Terraform, provider_block


def test_tenant_data_source_shows_quota_and_usage(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant(description='"A"') + quota("{ vcpu = 8 }"))
    tf.init()
    assert tf.apply().code == 0
    add_vm(sim, "esx-1", "w1")
    tf.write(
        provider_block(sim.hosts) + tenant(description='"A"') + quota("{ vcpu = 8 }")
        + 'data "photon_tenant" "a" {\n  name = "team-a"\n}\n'
        + 'output "tenant" {\n  value = data.photon_tenant.a\n}\n'
    )  # fmt: skip
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert tf.outputs()["tenant"] == {
        "id": "team-a",
        "name": "team-a",
        "description": "A",
        "hosts": ["esx-1", "esx-2"],
        "limits": {"vm_count": None, "vcpu": 8, "memory_gb": None, "disk_gb": None},
        "usage": {"vm_count": 1, "vcpu": 2, "memory_gb": 1, "disk_gb": 1},
    }
    sim.kill("esx-2")  # its VMs cannot be counted: usage unknown, said in a warning
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert "Warning: Usage of tenant team-a unknown: esx-2 unreachable" in applied.flat
    assert tf.outputs()["tenant"]["usage"] is None


def test_tenant_data_source_for_a_missing_tenant(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + 'data "photon_tenant" "a" {\n  name = "ghost"\n}\n')
    tf.init()
    plan = tf.plan()
    assert plan.code == 1 and "Error: No such tenant" in plan.flat
    assert "There is no tenant 'ghost' on these hosts." in plan.flat


def test_hosts_data_source_lists_capacity_and_unreachable_hosts(
    sim: Simulator, tf: Terraform
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    unreachable = (
        f'\n  host {{\n    name = "esx-9"\n    address = "{dead}"\n    password = "x"\n'
        "    insecure = true\n  }"
    )
    tf.write(
        provider_block(sim.hosts, extra=unreachable)
        + 'data "photon_hosts" "all" {}\n'
        + 'output "hosts" {\n  value = data.photon_hosts.all.hosts\n}\n'
    )
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    listed = tf.outputs()["hosts"]
    assert [h["name"] for h in listed] == ["esx-1", "esx-2", "esx-9"]
    first = listed[0]
    assert first["reachable"] is True and first["error"] is None
    assert first["cpu_cores"] == 2 and first["memory_gb"] == 4
    assert first["datastores"][0]["name"] == "LocalDS_0" and first["datastores"][0]["free_gb"] > 0
    assert listed[2]["reachable"] is False and "cannot reach" in listed[2]["error"]
    assert listed[2]["datastores"] is None
