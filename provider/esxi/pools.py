"""Resource pools: the ESXi side of a tenant."""

from __future__ import annotations

import threading

from pyVmomi import vim

from .faults import raise_task_error, translated
from .session import HostSession
from .tasks import wait_for_tasks

__all__ = ["create_pool", "destroy_pool", "set_memory_limit"]


def _allocation(limit: int = -1) -> vim.ResourceAllocationInfo:
    # ESXi wants every field of an allocation spelled out, even when nothing is limited.
    return vim.ResourceAllocationInfo(
        reservation=0,
        limit=limit,
        expandableReservation=True,
        shares=vim.SharesInfo(level="normal"),
    )


def create_pool(
    session: HostSession, parent_moid: str, name: str, memory_limit_mb: int = -1
) -> str:
    """Create a pool under ``parent_moid`` (memory limit in MB, -1: none); returns its moid."""
    parent = vim.ResourcePool(parent_moid, session.si._stub)
    spec = vim.ResourceConfigSpec(
        cpuAllocation=_allocation(), memoryAllocation=_allocation(memory_limit_mb)
    )
    with translated(session.name):
        return parent.CreateResourcePool(name, spec)._moId


def destroy_pool(session: HostSession, moid: str, stop: threading.Event | None = None) -> None:
    """Destroy an (empty) pool."""
    pool = vim.ResourcePool(moid, session.si._stub)
    with translated(session.name):
        task = pool.Destroy_Task()
        outcome = wait_for_tasks(session, [task], stop)[task._moId]
    raise_task_error(session.name, outcome.error)


def set_memory_limit(session: HostSession, moid: str, limit_mb: int) -> None:
    """Hard memory limit of a pool in MB; -1 removes it. Other settings stay as they are."""
    pool = vim.ResourcePool(moid, session.si._stub)
    spec = vim.ResourceConfigSpec(
        cpuAllocation=vim.ResourceAllocationInfo(),
        memoryAllocation=vim.ResourceAllocationInfo(limit=limit_mb),
    )
    with translated(session.name):
        pool.UpdateConfig(name=None, config=spec)
