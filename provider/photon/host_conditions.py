"""Conditions of a host that decide what may be done there, said before anything changes:
a license that makes its API read-only (the free vSphere Hypervisor), maintenance mode.

Pure text and decisions; the platform reads the conditions (see ``Platform.read_only``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..bridge.cty import Path
from ..bridge.diagnostics import DiagnosticError, Diagnostics

if TYPE_CHECKING:
    from ..esxi.inventory import DatastoreInfo, Inventory
    from ..esxi.license import LicenseInfo

__all__ = ["host_skip", "refuse_writes", "skipped_warning", "vm_datastore", "writes_forbidden"]


def writes_forbidden(
    host: str, license: LicenseInfo | None, path: Path | None = None
) -> DiagnosticError:
    """The one diagnostic for a read-only host, at plan (license known) or when a write
    meets ``RestrictedVersion`` at apply (the license changed in between)."""
    what = (
        f"the {license.name or 'unnamed'} license (edition {license.edition_key})"
        if license is not None
        else "a license that forbids writes through the API"
    )
    return DiagnosticError(
        f"ESXi host {host} is read-only: its license forbids API writes",
        f"Host {host} has {what}. With it the host's vSphere API only reads: every change "
        "made through it (resource pools, VMs, datastore folders) fails with "
        "RestrictedVersion. Give the host a license with vSphere API write access (any paid "
        "vSphere edition; evaluation mode works too), or leave the host out: take it out of "
        "the tenant's hosts, or remove its host block from the provider configuration. "
        "Refresh and data sources keep working on it.",
        path,
    )


def refuse_writes(
    read_only: Mapping[str, LicenseInfo],
    hosts: Iterable[str],
    diagnostics: Diagnostics,
    path: Path | None = None,
) -> bool:
    """An error for each of ``hosts`` that is read-only; True when there was one."""
    refused = sorted(set(hosts) & set(read_only))
    for host in refused:
        diagnostics.add(writes_forbidden(host, read_only[host], path).diagnostic)
    return bool(refused)


def vm_datastore(inventory: Inventory) -> DatastoreInfo | None:
    """The datastore a host's new VMs go to: its first accessible one by name."""
    stores = [d for d in inventory.datastores.values() if d.accessible]
    return min(stores, key=lambda d: d.name, default=None)


def host_skip(inventory: Inventory, read_only: LicenseInfo | None) -> str | None:
    """Why no new node may go to this host, or None. A host in maintenance mode powers on
    no VM; a read-only one makes none."""
    if inventory.maintenance:
        return "in maintenance mode"
    if read_only is not None:
        return f"read-only: its {read_only.name or 'current'} license forbids API writes"
    if vm_datastore(inventory) is None:
        return "no accessible datastore"
    return None


def skipped_warning(skipped: Mapping[str, str], diagnostics: Diagnostics) -> None:
    """Say in the plan which of the tenant's hosts take none of the new nodes, and why."""
    if skipped:
        diagnostics.warning(
            f"Hosts skipped for new nodes: {', '.join(sorted(skipped))}",
            "No new node is placed on "
            + "; ".join(f"{host} ({why})" for host, why in sorted(skipped.items()))
            + ". They are used again once that changes.",
        )
