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

if TYPE_CHECKING:
    from .hosts import ClusterHosts

__all__ = ["SECRET_OPTIONS", "clear_boot_data"]

SECRET_OPTIONS = ("guestinfo.userdata", "guestinfo.userdata.encoding")


def clear_boot_data(
    hosts: ClusterHosts, names: Sequence[str], nodes: Mapping[str, Mapping[str, Any]]
) -> list[DiagnosticError]:
    """Remove the boot data of ``names`` (ready nodes) from their VMs; what could not be
    removed (the caller reports them as warnings)."""
    from ...esxi.vms import clear_options

    stop = hosts.platform.stop_requested
    done = hosts.on_node_vms(
        names, nodes, lambda session, moids: clear_options(session, moids, SECRET_OPTIONS, stop)
    )
    return [error for error in done.values() if error is not None]
