"""Tenants and quotas under test: their HCL, the tenants' pools on the simulated hosts, and
VMs that count against a tenant's quota without any cluster."""

from __future__ import annotations

from .probe import probe
from .simulator import Simulator


def tenant(name: str = "team-a", **attrs: str) -> str:
    body = "".join(f"\n  {k} = {v}" for k, v in attrs.items())
    return f'\nresource "photon_tenant" "t" {{\n  name = "{name}"{body}\n}}\n'


def quota(limits: str, name: str = "q", tenant_ref: str = "photon_tenant.t.id") -> str:
    return (
        f'\nresource "photon_quota" "{name}" {{\n  tenant = {tenant_ref}\n  limits = {limits}\n}}\n'
    )


def pools(sim: Simulator) -> dict[str, list[str]]:
    result = {}
    for host in sim.hosts:
        with probe(host) as p:
            result[host.name] = p.pool_names()
    return result


def add_vm(sim: Simulator, host: str, name: str, tenant_name: str = "team-a") -> None:
    with probe(sim[host]) as p:
        p.create_vm(
            p.pool(f"photon-tenant-{tenant_name}"),
            name,
            cpus=2,
            memory_mb=1024,
            disk_gb=1,
            marks={"tenant": tenant_name, "cluster": "c1", "role": "worker", "node": name},
        )
