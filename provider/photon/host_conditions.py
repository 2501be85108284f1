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
    from ..esxi.license import LicenseInfo

__all__ = ["refuse_writes", "writes_forbidden"]


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
