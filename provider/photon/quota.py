"""photon_quota: a tenant's limits (a Photon "resource ticket"), with live usage.

The limits are kept in the platform records, so any configuration planning against the same
hosts sees them; usage is counted live from the VMs that carry the tenant's ownership mark.
Memory is also set as the hard memory limit of each of the tenant's resource pools, so ESXi
itself enforces it on every host. Resources that consume quota are admitted by
``quota_admission``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from ..bridge.api import (
    ApplyRequest,
    ApplyResponse,
    ImportResponse,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    Resource,
)
from ..bridge.cty import NUMBER, STRING, Path, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.schema import Attribute, Block, NestedAttributes, Schema
from ..bridge.validators import between
from .host_conditions import refuse_writes
from .names import is_name, pool_name, tenant_name_validator
from .platform import HostsRead, Platform
from .quota_policy import (
    KINDS,
    PHOTON_NAMES,
    Amounts,
    below_usage,
    limits_of,
    pool_memory_limit_mb,
    tenant_usage,
)
from .records import QUOTAS, TENANTS

if TYPE_CHECKING:
    from ..esxi.inventory import Inventory
    from ..esxi.session import HostSession

__all__ = ["QuotaResource", "warn_unknown_usage"]

KIND = QUOTAS
_DESCRIPTIONS = {
    "vm_count": "Number of VMs",
    "vcpu": "Virtual CPUs, summed over the VMs",
    "memory_gb": "Memory in GB, summed over the VMs",
    "disk_gb": "Disk capacity in GB, summed over the VMs' disks",
}


# Far beyond any estate (ESXi runs at most 1,024 VMs per host), and exact in a float: a
# larger limit is a typo, and one beyond 2^53 would not even be the number written.
LIMIT_MAX = 10**9


def _limit(kind: str) -> Attribute:
    whole = kind in ("vm_count", "vcpu")
    return Attribute(
        kind,
        NUMBER,
        f"{_DESCRIPTIONS[kind]} (Photon `{PHOTON_NAMES[kind]}`), 0 to {LIMIT_MAX:,}. Unset: "
        "unlimited.",
        optional=True,
        validators=(between(0, LIMIT_MAX, whole=whole, summary="Invalid quota limit"),),
    )


def _usage(kind: str) -> Attribute:
    return Attribute(kind, NUMBER, f"{_DESCRIPTIONS[kind]} in use now.", computed=True)


def warn_unknown_usage(hosts: HostsRead, tenant: str, diagnostics: Diagnostics) -> None:
    if hosts.down:
        down = ", ".join(sorted(hosts.down))
        diagnostics.warning(
            f"Usage of tenant {tenant} unknown: {down} unreachable",
            f"The tenant's VMs on {down} cannot be counted, so usage is null until the "
            "host answers again. Restoring lost cluster nodes goes on; growth that the "
            "quota must admit waits for the host.",
        )


class QuotaResource(Resource):
    type_name: ClassVar[str] = "photon_quota"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="The limits of a tenant (Photon's resource ticket) and its live usage. "
            "One quota per tenant.",
            attributes=(
                Attribute("id", STRING, "The quota's id (its tenant's name).", computed=True,
                          use_state_for_unknown=True),
                Attribute("tenant", STRING, "Id of the tenant (`photon_tenant.x.id`). Changing "
                          "it replaces the quota.", required=True, requires_replace=True,
                          validators=(tenant_name_validator,)),
                Attribute("limits", nested=NestedAttributes(tuple(map(_limit, KINDS))),
                          description="The limits; an unset limit is unlimited.", required=True),
                Attribute("usage", nested=NestedAttributes(tuple(map(_usage, KINDS))),
                          description="What the tenant's VMs use now, on all hosts; null "
                          "while a host does not answer.",
                          computed=True),
            ),
        )
    )  # fmt: skip

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def modify_plan(self, request: PlanRequest, response: PlanResponse) -> None:
        planned = response.planned_state
        tenant, limits = planned["tenant"], planned["limits"]
        if limits.is_fully_known() and all(v is None for v in (limits.to_python() or {}).values()):
            response.diagnostics.warning(
                "The quota limits nothing",
                "No limit is set (vm_count, vcpu, memory_gb, disk_gb): the tenant may use "
                "every host's capacity. Set at least one limit, or remove the quota.",
                Path.root().attr("limits"),
            )
        if not (tenant.is_known and limits.is_fully_known()):
            return  # checked again at apply, when everything is known
        name = tenant.to_python()
        hosts = self.platform.read_hosts()
        records = self.platform.records()
        exists = records.get(TENANTS, name) is not None or any(
            i.child_named(pool_name(name)) for i in hosts.inventories.values()
        )
        if not exists:
            raise DiagnosticError(
                "Unknown tenant",
                f"There is no tenant {name!r} on these hosts. Create it with photon_tenant "
                "and refer to its id, so that Terraform creates it first.",
                Path.root().attr("tenant"),
            )
        if request.creating and records.get(KIND, name) is not None:
            raise _second_quota(name)
        if not request.creating and request.prior_state["limits"] == limits:
            return  # nothing to set: a host that is down changes nothing here
        hosts.require_all(f"Setting the quota of tenant {name}", Path.root().attr("limits"))
        _refuse_below_usage(name, _amounts(limits), tenant_usage(hosts.inventories, name),
                            response.diagnostics)  # fmt: skip
        # The records host keeps the quota; the tenant's pools get its memory limit.
        writes = self.platform.record_hosts + [
            h for h, i in hosts.inventories.items() if i.child_named(pool_name(name))
        ]
        refuse_writes(self.platform.read_only(writes), writes, response.diagnostics)

    def create(self, request: ApplyRequest, response: ApplyResponse) -> None:
        self._apply(request.planned_state, response, creating=True)

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None:
        self._apply(request.planned_state, response, creating=False)

    def _apply(self, planned: Value, response: ApplyResponse, *, creating: bool) -> None:
        tenant = planned["tenant"].to_python()
        limits = _amounts(planned["limits"])
        records = self.platform.records()
        verb = "create" if creating else "update"
        with records.locked(f"{verb} quota of {tenant}"):
            if creating and records.get(KIND, tenant) is not None:
                raise _second_quota(tenant)
            hosts = self.platform.read_hosts()
            hosts.require_all(f"Setting the quota of tenant {tenant}")
            inventories = hosts.inventories
            usage = tenant_usage(inventories, tenant)
            _refuse_below_usage(tenant, limits, usage, response.diagnostics)
            if response.diagnostics.has_errors:
                return
            records.put(KIND, tenant, {"limits": limits.as_dict()})
            response.new_state = _state(tenant, limits, usage)
            self._set_memory_limits(inventories, tenant, limits.memory_gb, response.diagnostics)

    def read(self, request: ReadRequest, response: ReadResponse) -> None:
        state = request.state
        tenant = state["tenant"].to_python()
        record = self.platform.records().get(KIND, tenant)
        if record is None:  # removed behind Terraform's back: planned anew
            response.new_state = Value.null(state.type)
            return
        hosts = self.platform.read_hosts()
        inventories = hosts.inventories
        limits = limits_of(record)
        # A pool whose memory limit is not the quota's (changed by hand, or made without it)
        # shows as a change of memory_gb, so the next apply sets it again.
        expected = pool_memory_limit_mb(limits.memory_gb)
        for inventory in inventories.values():
            pool = inventory.child_named(pool_name(tenant))
            if pool is not None and pool.memory_limit_mb != expected:
                seen = None if pool.memory_limit_mb == -1 else pool.memory_limit_mb / 1024
                limits = dataclasses.replace(limits, memory_gb=seen)
                break
        usage = None if hosts.down else tenant_usage(inventories, tenant)
        warn_unknown_usage(hosts, tenant, response.diagnostics)
        response.new_state = _state(tenant, limits, usage)

    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None:
        tenant = request.prior_state["tenant"].to_python()
        records = self.platform.records()
        with records.locked(f"delete quota of {tenant}"):
            hosts = self.platform.read_hosts()
            self._set_memory_limits(hosts.inventories, tenant, None, response.diagnostics)
            if hosts.down and not response.diagnostics.has_errors:
                down = ", ".join(sorted(hosts.down))
                response.diagnostics.warning(
                    f"Quota of tenant {tenant} deleted except on unreachable hosts",
                    f"The tenant's pools on {down} keep the quota's memory limit, since "
                    "those hosts do not answer. Remove the limit on the host by hand once it "
                    "is back, or destroy the tenant then (which removes its pools).",
                )
            if response.diagnostics.has_errors:
                return  # still limited somewhere: the quota stays in state
            records.remove(KIND, tenant)
            response.new_state = Value.null(request.prior_state.type)

    def import_state(self, import_id: str, response: ImportResponse) -> None:
        if not is_name(import_id) or self.platform.records().get(KIND, import_id) is None:
            response.diagnostics.error(
                "No quota to import",
                f"Tenant {import_id!r} has no quota in the platform records. Import a quota "
                "by its tenant's name: `terraform import photon_quota.x team-a`.",
            )
            return
        state = {"id": import_id, "tenant": import_id, "limits": None, "usage": None}
        response.states.append(Value.from_python(self.schema.value_type(), state))

    def _set_memory_limits(
        self,
        inventories: Mapping[str, Inventory],
        tenant: str,
        memory_gb: float | None,
        diagnostics: Diagnostics,
    ) -> None:
        from ..esxi.pools import set_memory_limit

        limit_mb = pool_memory_limit_mb(memory_gb)
        pools = {
            host: pool.moid
            for host, inventory in inventories.items()
            if (pool := inventory.child_named(pool_name(tenant))) is not None
            and pool.memory_limit_mb != limit_mb
        }

        def apply(session: HostSession) -> None:
            set_memory_limit(session, pools[session.name], limit_mb)
            self.platform.forget_inventory(session.name)

        for result in self.platform.on_hosts(pools, apply).values():
            if isinstance(result, DiagnosticError):
                diagnostics.add(result.diagnostic)


def _amounts(limits: Value) -> Amounts:
    values = limits.to_python() or {}
    return Amounts.from_mapping({k: None if v is None else float(v) for k, v in values.items()})


def _state(tenant: str, limits: Amounts, usage: Amounts | None) -> Value:
    """``usage`` None: not known (a host did not answer)."""
    counted = None if usage is None else usage.as_dict()
    return Value.from_python(
        QuotaResource.schema.value_type(),
        {"id": tenant, "tenant": tenant, "limits": limits.as_dict(), "usage": counted},
    )


def _refuse_below_usage(
    tenant: str, limits: Amounts, usage: Amounts, diagnostics: Diagnostics
) -> None:
    for excess in below_usage(limits, usage):
        diagnostics.error(
            "Quota limit below current usage",
            f"Tenant {tenant}: {excess}. Lower the usage first (remove VMs or clusters), or "
            "keep the limit at or above it.",
            Path.root().attr("limits"),  # Terraform cannot point inside an object literal
        )


def _second_quota(tenant: str) -> DiagnosticError:
    return DiagnosticError(
        "Tenant already has a quota",
        f"Tenant {tenant!r} has a quota already (one quota per tenant). Change that one, or "
        f"bring it under this configuration with `terraform import <address> {tenant}`.",
        Path.root().attr("tenant"),
    )
