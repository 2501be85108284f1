"""What a host has and uses: CPU, memory, datastores. One PropertyCollector pass."""

from __future__ import annotations

from dataclasses import dataclass

from pyVmomi import vim

from .faults import translated
from .inventory import DATASTORE_PROPERTIES, DatastoreInfo, datastore_info, retrieve
from .session import HostSession

__all__ = ["DatastoreInfo", "HostCapacity", "read_capacity"]

_HOST_PROPERTIES = (
    "summary.hardware.numCpuCores",
    "summary.hardware.cpuMhz",
    "summary.hardware.memorySize",
    "summary.quickStats.overallCpuUsage",
    "summary.quickStats.overallMemoryUsage",
)


@dataclass(frozen=True)
class HostCapacity:
    cpu_cores: int
    cpu_mhz: int
    cpu_used_mhz: int
    memory_bytes: int
    memory_used_mb: int
    datastores: tuple[DatastoreInfo, ...]  # sorted by name


def read_capacity(session: HostSession) -> HostCapacity:
    with translated(session.name):
        objects = retrieve(
            session,
            {vim.HostSystem: _HOST_PROPERTIES, vim.Datastore: DATASTORE_PROPERTIES},
        )
    host: dict[str, object] = {}
    datastores = []
    for moid, (kind, props) in objects.items():
        if issubclass(kind, vim.HostSystem):
            host = props
        else:
            datastores.append(datastore_info(moid, props))

    def number(key: str) -> int:
        return int(host.get(key) or 0)  # type: ignore[call-overload]

    return HostCapacity(
        cpu_cores=number("summary.hardware.numCpuCores"),
        cpu_mhz=number("summary.hardware.cpuMhz"),
        cpu_used_mhz=number("summary.quickStats.overallCpuUsage"),
        memory_bytes=number("summary.hardware.memorySize"),
        memory_used_mb=number("summary.quickStats.overallMemoryUsage"),
        datastores=tuple(sorted(datastores, key=lambda d: d.name)),
    )
