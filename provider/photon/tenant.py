"""photon_tenant: a tenant is a resource pool under the root pool of each of its hosts."""

from __future__ import annotations

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
from ..bridge.cty import STRING, Path, Set, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.schema import Attribute, Block, Schema
from ..bridge.validators import not_empty
from .host_conditions import refuse_writes
from .names import is_name, pool_name, tenant_name_validator
from .platform import Platform
from .quota_policy import pool_memory_limit_mb
from .records import CLUSTERS, QUOTAS, TENANTS

if TYPE_CHECKING:
    from ..esxi.inventory import Inventory
    from ..esxi.session import HostSession
    from .records import RecordStore

__all__ = ["TenantResource"]

_HOSTS = Path.root().attr("hosts")
KIND = TENANTS


class TenantResource(Resource):
    type_name: ClassVar[str] = "photon_tenant"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="A tenant: a share of the ESXi hosts, represented on each host by a "
            "resource pool named `photon-tenant-<name>` under the host's root pool.",
            attributes=(
                Attribute(
                    "id",
                    STRING,
                    "The tenant's id (its name).",
                    computed=True,
                    use_state_for_unknown=True,
                ),
                Attribute(
                    "name",
                    STRING,
                    "Name of the tenant. Lowercase letters, digits and "
                    "hyphens, starting with a letter, at most 63 characters. Changing it "
                    "replaces the tenant.",
                    required=True,
                    requires_replace=True,
                    validators=(tenant_name_validator,),
                ),
                Attribute("description", STRING, "Free text describing the tenant.", optional=True),
                Attribute(
                    "hosts",
                    Set(STRING),
                    "Names of the provider's hosts the tenant "
                    "spans. Defaults to all configured hosts.",
                    optional=True,
                    computed=True,
                    validators=(
                        not_empty(
                            "Empty host list",
                            "A tenant needs at least one host; leave "
                            "hosts unset to use all configured hosts.",
                        ),
                    ),
                ),
            ),
        )
    )

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    # -- plan ---------------------------------------------------------------------------

    def modify_plan(self, request: PlanRequest, response: PlanResponse) -> None:
        planned = response.planned_state
        hosts_config = request.config["hosts"]
        if hosts_config.is_null:
            # "All hosts" is decided now, so a pool lost on one host shows up as a change.
            all_hosts = Value.from_python(Set(STRING), self.platform.host_names)
            planned = planned.with_attributes({"hosts": all_hosts})
        elif hosts_config.is_fully_known():
            self._check_host_names(hosts_config.to_python(), response.diagnostics)
        # The id stays "known after apply" on create, so resources that refer to it (a quota)
        # are planned knowing the tenant does not exist yet.
        name = planned["name"]
        response.planned_state = planned
        if not planned["hosts"].is_fully_known():
            return
        self._check_writable(request, planned, response.diagnostics)
        if request.creating and name.is_known:
            self._check_name_free(
                name.to_python(), planned["hosts"].to_python(), response.diagnostics
            )

    def plan_destroy(self, request: PlanRequest, response: PlanResponse) -> None:
        """A destroy that would fail at apply fails its plan, before Terraform destroys the
        tenant's quota or anything else: clusters left in the tenant (of any configuration),
        or a host of the tenant that does not answer (its pool there cannot go)."""
        tenant = request.prior_state["name"].to_python()
        clusters = [
            name.replace(".", "/", 1)
            for name in self.platform.records().names(CLUSTERS)
            if name.startswith(f"{tenant}.") and name not in self.platform.destroy_planned
        ]
        if clusters:
            response.diagnostics.error(
                f"Tenant {tenant} still has clusters",
                f"{', '.join(clusters)} (in the platform records) would be left without their "
                "tenant, and this run does not destroy them. Destroy them first, in the "
                "configuration that manages them. (A cluster of this configuration is "
                "destroyed before its tenant when it refers to it: tenant = "
                "photon_tenant.<name>.id.)",
            )
        hosts = request.prior_state["hosts"].to_python() or []
        for host, found in sorted(self.platform.inventories(hosts).items()):
            if isinstance(found, DiagnosticError):
                response.diagnostics.error(
                    f"Tenant {tenant} cannot be destroyed while {host} does not answer",
                    f"{found.diagnostic.detail} The tenant's resource pool on {host} can be "
                    "removed only there. Bring the host back and run the destroy again.",
                )

    def _check_writable(
        self, request: PlanRequest, planned: Value, diagnostics: Diagnostics
    ) -> None:
        """The hosts whose pools this plan creates or removes, and the records host, must
        allow API writes: said now, before a pool is made anywhere."""
        if not request.creating and planned == request.prior_state:
            return
        pools = set(planned["hosts"].to_python())
        if not request.creating:
            pools ^= set(request.prior_state["hosts"].to_python() or ())
        records = set(self.platform.record_hosts)
        read_only = self.platform.read_only([*pools, *records])
        refuse_writes(read_only, pools, diagnostics, _HOSTS)
        refuse_writes(read_only, records - pools, diagnostics)  # once, if both

    def _check_host_names(self, hosts: list[str], diagnostics: Diagnostics) -> None:
        for host in sorted(set(hosts) - set(self.platform.host_names)):
            diagnostics.error(
                "Unknown host",
                f"Host {host!r} is not configured in the provider; configured hosts: "
                f"{', '.join(self.platform.host_names)}.",
                _HOSTS,
            )

    def _check_name_free(self, tenant: str, hosts: list[str], diagnostics: Diagnostics) -> None:
        if diagnostics.has_errors:
            return
        self.platform.prefetch_record(KIND, tenant)
        for host, inventory in self.platform.inventories(hosts).items():
            if isinstance(inventory, DiagnosticError):
                diagnostics.add(inventory.diagnostic)
            elif inventory.child_named(pool_name(tenant)) is not None:
                why = f"Host {host} already has a resource pool {pool_name(tenant)!r}."
                diagnostics.add(_taken(tenant, why).diagnostic)
        if not diagnostics.has_errors and self.platform.records().get(KIND, tenant) is not None:
            why = "The platform records already hold this tenant."
            diagnostics.add(_taken(tenant, why).diagnostic)

    # -- create, read, update, delete ---------------------------------------------------

    def create(self, request: ApplyRequest, response: ApplyResponse) -> None:
        planned = request.planned_state
        tenant = planned["name"].to_python()
        records = self.platform.records()
        with records.locked(f"create tenant {tenant}", _key(tenant)):
            if records.get(KIND, tenant) is not None:
                raise _taken(tenant, "The platform records already hold this tenant.")
            created = self._add_pools(tenant, planned["hosts"].to_python(), response.diagnostics)
            if not created:
                response.new_state = Value.null(planned.type)
                return
            response.new_state = planned.with_attributes(
                {"hosts": _host_set(created), "id": planned["name"]}
            )
            try:
                self._write_record(records, response.new_state)
            except DiagnosticError:
                self._undo_pools(tenant, created, response)
                raise

    def _undo_pools(self, tenant: str, created: list[str], response: ApplyResponse) -> None:
        """The record could not be written: remove the pools just made, so the next apply
        creates the tenant afresh (a tenant kept without its record would be tainted, and
        its replacement refused for the very pools it left)."""
        left = set(created) - set(self._remove_pools(tenant, created, response.diagnostics))
        state = response.new_state
        response.new_state = (
            state.with_attributes({"hosts": _host_set(left)}) if left else Value.null(state.type)
        )

    def read(self, request: ReadRequest, response: ReadResponse) -> None:
        state = request.state
        tenant = state["name"].to_python()
        hosts = (
            state["hosts"].to_python() if not state["hosts"].is_null else self.platform.host_names
        )
        dropped = sorted(set(hosts) - set(self.platform.host_names))
        if dropped:
            raise DiagnosticError(
                "Tenant on a host that is no longer configured",
                f"Tenant {tenant!r} has resource pools on {', '.join(dropped)}, which the "
                "provider configuration no longer lists. Put the host block back and apply "
                "with the tenant's hosts not including it (its pool is then removed), or, if "
                "the host is gone for good, `terraform state rm` the tenant and import it again.",
            )
        present = []
        self.platform.prefetch_record(KIND, tenant)
        inventories = self.platform.inventories(hosts)
        for host, inventory in inventories.items():
            if isinstance(inventory, DiagnosticError):
                # A host that does not answer keeps its place: its pool cannot be checked,
                # and a failed host is no reason to plan the tenant's pool away.
                if host in (state["hosts"].to_python() or []):
                    present.append(host)
                response.diagnostics.warning(
                    f"Host {host} unreachable: tenant {tenant}'s pool there was not checked",
                    inventory.diagnostic.detail,
                )
            elif inventory.child_named(pool_name(tenant)) is not None:
                present.append(host)
        self._report_unmanaged(tenant, inventories, response.diagnostics)
        record = self.platform.records().get(KIND, tenant)
        if not present and record is None:  # gone: Terraform will plan to create it again
            response.new_state = Value.null(state.type)
            return
        # With its record left, the tenant still exists, even with every pool lost: the plan
        # then restores the pools in place.
        changes = {"hosts": _host_set(present), "id": Value.from_python(STRING, tenant)}
        if record is not None:  # the description is kept on ESXi, so drift shows there too
            changes["description"] = Value.from_python(STRING, record.get("description"))
        response.new_state = state.with_attributes(changes)

    def _report_unmanaged(
        self,
        tenant: str,
        inventories: Mapping[str, Inventory | DiagnosticError],
        diagnostics: Diagnostics,
    ) -> None:
        """VMs with the marks of a cluster that no longer exists: left on a host that was
        away when the cluster was destroyed. Reported, never deleted behind the user's back."""
        by_cluster: dict[str, list[str]] = {}
        for host, inventory in inventories.items():
            if isinstance(inventory, DiagnosticError):
                continue
            for vm in inventory.vms.values():
                if vm.marks.get("tenant") == tenant and vm.marks.get("cluster"):
                    found = f"{vm.name} ({vm.moid} on {host})"
                    by_cluster.setdefault(vm.marks["cluster"], []).append(found)
        records = self.platform.records()
        for cluster, vms in sorted(by_cluster.items()):
            if records.get(CLUSTERS, f"{tenant}.{cluster}") is None:
                diagnostics.warning(
                    f"Unmanaged VMs of cluster {tenant}/{cluster}",
                    f"{', '.join(sorted(vms))} carry the marks of cluster {cluster}, which the "
                    "platform records no longer hold (it was destroyed while their host was "
                    "away). They are left alone: delete them to free the tenant's quota and "
                    "pool.",
                )

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None:
        tenant = request.planned_state["name"].to_python()
        before = set(request.prior_state["hosts"].to_python())
        wanted = set(request.planned_state["hosts"].to_python())
        diagnostics = response.diagnostics
        records = self.platform.records()
        with records.locked(f"update tenant {tenant}", _key(tenant)):
            added = self._add_pools(tenant, sorted(wanted - before), diagnostics)
            removed = self._remove_pools(tenant, sorted(before - wanted), diagnostics)
            now = (before | set(added)) - set(removed)
            response.new_state = request.planned_state.with_attributes({"hosts": _host_set(now)})
            self._write_record(records, response.new_state)

    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None:
        prior = request.prior_state
        tenant = prior["name"].to_python()
        hosts = prior["hosts"].to_python()
        records = self.platform.records()
        with records.locked(f"delete tenant {tenant}", _key(tenant)):
            if records.get(QUOTAS, tenant) is not None:
                raise DiagnosticError(
                    "Tenant still has a quota",
                    f"Tenant {tenant!r} has a quota; destroy its photon_quota first (a quota "
                    "that refers to the tenant's id is destroyed first by Terraform itself).",
                )
            removed = self._remove_pools(tenant, hosts, response.diagnostics)
            left = sorted(set(hosts) - set(removed))
            if left:
                response.new_state = prior.with_attributes({"hosts": _host_set(left)})
                self._write_record(records, response.new_state)
            else:
                response.new_state = Value.null(prior.type)
                records.remove(KIND, tenant)

    def import_state(self, import_id: str, response: ImportResponse) -> None:
        if not is_name(import_id):
            response.diagnostics.error(
                "Invalid import id",
                f"Import a tenant by its name, e.g. `terraform import photon_tenant.x team-a`; "
                f"{import_id!r} is not a tenant name.",
            )
            return
        # From the record when there is one; else the following read finds the pools.
        record = self.platform.records().get(KIND, import_id) or {}
        state = {
            "id": import_id,
            "name": import_id,
            "description": record.get("description"),
            "hosts": record.get("hosts"),
        }
        response.states.append(Value.from_python(self.schema.value_type(), state))

    def _write_record(self, records: RecordStore, state: Value) -> None:
        values = state.to_python()
        records.put(
            KIND, values["name"], {"description": values["description"], "hosts": values["hosts"]}
        )

    # -- pools on hosts -----------------------------------------------------------------

    def _add_pools(self, tenant: str, hosts: list[str], diagnostics: Diagnostics) -> list[str]:
        """Create the tenant's pools (under the platform lock), limited in memory as its
        quota says, so a pool added later is limited like the others."""
        from ..esxi.pools import create_pool

        quota = self.platform.records().get(QUOTAS, tenant)
        memory_gb = ((quota or {}).get("limits") or {}).get("memory_gb")
        limit_mb = pool_memory_limit_mb(memory_gb)

        def add(session: HostSession) -> str:
            root = self.platform.kept_inventory(session).root_pool
            return create_pool(session, root, pool_name(tenant), limit_mb)

        return _successes(self.platform.on_hosts(hosts, add), diagnostics)

    def _remove_pools(self, tenant: str, hosts: list[str], diagnostics: Diagnostics) -> list[str]:
        """Remove the tenant's pools; if any holds VMs, refuse before touching any host."""
        from ..esxi.pools import destroy_pool

        problems = Diagnostics()  # this step's own findings decide whether it goes on
        inventories: dict[str, Inventory] = {}
        for host, inventory in self.platform.inventories(hosts).items():
            if isinstance(inventory, DiagnosticError):
                problems.add(inventory.diagnostic)
                continue
            inventories[host] = inventory = self._without_stale_vms(host, tenant, inventory)
            pool = inventory.child_named(pool_name(tenant))
            if pool is not None and _holds_vms(inventory, pool.moid):
                problems.error(
                    "Tenant still has virtual machines",
                    f"The resource pool {pool_name(tenant)!r} on host {host} holds virtual "
                    "machines. Delete the tenant's clusters (or move the VMs) first.",
                )
        diagnostics.extend(problems)
        if problems.has_errors:
            return []

        def remove(session: HostSession) -> None:
            pool = inventories[session.name].child_named(pool_name(tenant))
            if pool is not None:  # already gone is as good as removed
                destroy_pool(session, pool.moid, self.platform.stop_requested)

        return _successes(self.platform.on_hosts(inventories, remove), diagnostics)

    def _without_stale_vms(self, host: str, tenant: str, inventory: Inventory) -> Inventory:
        """A pool that seems to hold VMs is looked at again in a whole read before the delete
        is refused: the kept inventory may not have heard yet of the VMs a cluster's destroy
        removed a moment ago, in this same run."""
        pool = inventory.child_named(pool_name(tenant))
        if pool is None or not _holds_vms(inventory, pool.moid):
            return inventory
        self.platform.forget_inventory(host)
        again = self.platform.inventories([host])[host]
        return inventory if isinstance(again, DiagnosticError) else again


def _key(tenant: str) -> str:
    """What a tenant's create, update and delete alone touch: its record, its quota's record
    (read only) and its pools. So those of different tenants run side by side under the
    platform lock; anything keyless (quota, cluster) runs alone."""
    return f"tenant {tenant}"


def _taken(tenant: str, why: str) -> DiagnosticError:
    return DiagnosticError(
        "Tenant already exists",
        f"{why} Bring it under Terraform with `terraform import <address> {tenant}`, or choose "
        "another name.",
        Path.root().attr("name"),
    )


def _holds_vms(inventory: Inventory, moid: str) -> bool:
    pool = inventory.pools[moid]
    return bool(pool.vms) or any(_holds_vms(inventory, c.moid) for c in inventory.children(moid))


def _successes(results: dict[str, object], diagnostics: Diagnostics) -> list[str]:
    done = []
    for host, result in results.items():
        if isinstance(result, DiagnosticError):
            diagnostics.add(result.diagnostic)
        else:
            done.append(host)
    return done


def _host_set(hosts: object) -> Value:
    return Value.from_python(Set(STRING), sorted(hosts))  # type: ignore[call-overload]
