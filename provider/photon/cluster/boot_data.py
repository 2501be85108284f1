"""A node's boot data leaves its VM once the node is up.

``guestinfo.userdata`` holds the cluster's keys (its CAs, etcd client keys, the bootstrap
token), and any ESXi account that can read a VM's configuration — a read-only monitoring
account, say — can read it. A node needs it only at its first boot, so once the node has
reported ``ready`` the provider removes it from the VM's configuration, and the node's
metadata asks cloud-init to clear the guest's copy of the variable too
(``cleanup-guestinfo``). Restores, rolls and imports take what they need from the platform
records, never from another node's boot data. Only a node apply saw ready is cleared: with
``readiness.wait = false`` nobody knows when the guest has read it, and it stays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...bridge.diagnostics import DiagnosticError
from ..platform import Platform

if TYPE_CHECKING:
    pass

__all__ = ["SECRET_OPTIONS", "clear_boot_data"]

SECRET_OPTIONS = ("guestinfo.userdata", "guestinfo.userdata.encoding")


def clear_boot_data(
    platform: Platform, names: Sequence[str], nodes: Mapping[str, Mapping[str, Any]]
) -> list[DiagnosticError]:
    """Remove the boot data of ``names`` (ready nodes) from their VMs; what could not be
    removed, one error per host or VM (the caller reports them as warnings)."""
    from ...esxi.vms import clear_options

    by_host: dict[str, list[str]] = {}
    for name in names:
        by_host.setdefault(nodes[name]["host"], []).append(nodes[name]["vm_id"])
    outcomes = platform.on_hosts(
        by_host,
        lambda s: clear_options(s, by_host[s.name], SECRET_OPTIONS, platform.stop_requested),
    )
    problems = []
    for outcome in outcomes.values():
        if isinstance(outcome, DiagnosticError):
            problems.append(outcome)
            continue
        problems += [platform.explain(e) for e in outcome.values() if e is not None]
    return problems
