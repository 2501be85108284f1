"""Data sources: photon_tenant (a tenant with its quota and usage) and photon_hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..bridge.api import DataSource, ReadDataRequest
from ..bridge.cty import BOOL, NUMBER, STRING, Path, Set, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.schema import Attribute, Block, NestedAttributes, Nesting, Schema
from .names import pool_name, tenant_name_validator
from .platform import Platform
from .quota import QuotaResource, warn_unknown_usage
from .quota_policy import KINDS, limits_of, tenant_usage
from .records import QUOTAS, TENANTS

if TYPE_CHECKING:
    from ..esxi.capacity import HostCapacity
    from ..esxi.session import HostSession

__all__ = ["HostsDataSource", "TenantDataSource"]

_GB = 1024**3
_QUOTA = QuotaResource.schema.block
_LIMITS = NestedAttributes(
    tuple(
        Attribute(kind, NUMBER, f"Limit on `{kind}` (null: unlimited).", computed=True)
        for kind in KINDS
    )
)


class TenantDataSource(DataSource):
    type_name: ClassVar[str] = "photon_tenant"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="A tenant by name, with its hosts, quota limits and live usage.",
            attributes=(
                Attribute("name", STRING, "Name of the tenant.", required=True,
                          validators=(tenant_name_validator,)),
                Attribute("id", STRING, "The tenant's id.", computed=True),
                Attribute("description", STRING, "The tenant's description.", computed=True),
                Attribute("hosts", Set(STRING), "Hosts on which the tenant has a resource pool.",
                          computed=True),
                Attribute("limits", nested=_LIMITS,
                          description="The tenant's quota limits; null without a quota.",
                          computed=True),
                Attribute("usage", nested=_QUOTA.attribute("usage").nested,
                          description="What the tenant's VMs use now, on all hosts; null "
                          "while a host does not answer.",
                          computed=True),
            ),
        )
    )  # fmt: skip

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def read(self, request: ReadDataRequest, diagnostics: Diagnostics) -> Value:
        name = request.config["name"].to_python()
        read = self.platform.read_hosts()
        inventories = read.inventories
        hosts = sorted(h for h, i in inventories.items() if i.child_named(pool_name(name)))
        records = self.platform.records()
        record = records.get(TENANTS, name)
        if record is None and not hosts:
            raise DiagnosticError(
                "No such tenant",
                f"There is no tenant {name!r} on these hosts.",
                Path.root().attr("name"),
            )
        warn_unknown_usage(read, name, diagnostics)
        quota = records.get(QUOTAS, name)
        limits = limits_of(quota).as_dict() if quota else None
        return Value.from_python(
            self.schema.value_type(),
            {
                "name": name,
                "id": name,
                "description": (record or {}).get("description"),
                "hosts": hosts,
                "limits": limits,
                "usage": None if read.down else tenant_usage(inventories, name).as_dict(),
            },
        )


_DATASTORE = NestedAttributes(
    (
        Attribute("name", STRING, "Datastore name.", computed=True),
        Attribute("capacity_gb", NUMBER, "Capacity in GB.", computed=True),
        Attribute("free_gb", NUMBER, "Free space in GB.", computed=True),
        Attribute("accessible", BOOL, "Whether the host can use it now.", computed=True),
    ),
    Nesting.LIST,
)
_HOST = NestedAttributes(
    (
        Attribute("name", STRING, "The host's name in the provider configuration.",
                  computed=True),
        Attribute("address", STRING, "The host's address.", computed=True),
        Attribute("reachable", BOOL, "Whether the provider could log in and read the host.",
                  computed=True),
        Attribute("error", STRING, "Why the host is not reachable; null when it is.",
                  computed=True),
        Attribute("api_writable", BOOL, "Whether the host's license allows changes through "
                  "the vSphere API. False with the free vSphere Hypervisor license: the "
                  "provider can read the host but create nothing there.", computed=True),
        Attribute("license", STRING, "The name of the host's license, as the host shows it.",
                  computed=True),
        Attribute("maintenance", BOOL, "Whether the host is in maintenance mode: no new node "
                  "is placed there.", computed=True),
        Attribute("cpu_cores", NUMBER, "Physical CPU cores.", computed=True),
        Attribute("cpu_mhz", NUMBER, "Speed of one core in MHz.", computed=True),
        Attribute("cpu_used_mhz", NUMBER, "CPU in use, MHz over all cores.", computed=True),
        Attribute("memory_gb", NUMBER, "Physical memory in GB.", computed=True),
        Attribute("memory_used_gb", NUMBER, "Memory in use in GB.", computed=True),
        Attribute("datastores", nested=_DATASTORE, description="The host's datastores.",
                  computed=True),
    ),
    Nesting.LIST,
)  # fmt: skip


class HostsDataSource(DataSource):
    type_name: ClassVar[str] = "photon_hosts"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="Every configured host: whether it answers, its CPU and memory "
            "capacity and use, and its datastores. An unreachable host is listed with "
            "`reachable = false` rather than failing the read, for use in preconditions.",
            attributes=(
                Attribute("hosts", nested=_HOST, description="One entry per configured host, "
                          "in configuration order.", computed=True),
            ),
        )
    )  # fmt: skip

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def read(self, request: ReadDataRequest, diagnostics: Diagnostics) -> Value:
        from ..esxi.capacity import read_capacity

        def capacity(session: HostSession) -> HostCapacity:
            return read_capacity(session)

        results = self.platform.on_hosts(self.platform.host_names, capacity)
        inventories = self.platform.read_hosts().inventories
        licenses = self.platform.licenses(inventories)
        hosts = []
        for name, result in results.items():
            entry: dict[str, object] = {
                "name": name,
                "address": self.platform.endpoints[name].address,
                "reachable": not isinstance(result, DiagnosticError),
            }
            if isinstance(result, DiagnosticError):
                entry["error"] = result.diagnostic.detail
            else:
                license, inventory = licenses.get(name), inventories.get(name)
                entry.update(
                    api_writable=license.api_writable if license else None,
                    license=license.name if license else None,
                    maintenance=inventory.maintenance if inventory else None,
                    cpu_cores=result.cpu_cores,
                    cpu_mhz=result.cpu_mhz,
                    cpu_used_mhz=result.cpu_used_mhz,
                    memory_gb=round(result.memory_bytes / _GB, 2),
                    memory_used_gb=round(result.memory_used_mb / 1024, 2),
                    datastores=[
                        {
                            "name": d.name,
                            "capacity_gb": round(d.capacity_bytes / _GB, 2),
                            "free_gb": round(d.free_bytes / _GB, 2),
                            "accessible": d.accessible,
                        }
                        for d in result.datastores
                    ],
                )
            hosts.append(entry)
        return Value.from_python(self.schema.value_type(), {"hosts": hosts})
