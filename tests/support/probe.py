"""Looks at a simulated host directly through pyVmomi: what tests assert against.

Independent of the provider's own adapter, so a bug there cannot hide itself here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from .simulator import SimHost


class Probe:
    def __init__(self, host: SimHost) -> None:
        self.si = SmartConnect(
            host="127.0.0.1",
            port=host.port,
            user=host.user,
            pwd=host.password,
            disableSslCertValidation=True,
        )
        compute = self.si.content.rootFolder.childEntity[0].hostFolder.childEntity[0]
        self.root_pool: vim.ResourcePool = compute.resourcePool
        self.datastore = compute.host[0].datastore[0]
        self.datacenter = self.si.content.rootFolder.childEntity[0]

    def pool_names(self) -> list[str]:
        return sorted(p.name for p in self.root_pool.resourcePool)

    def pool(self, name: str) -> vim.ResourcePool:
        return next(p for p in self.root_pool.resourcePool if p.name == name)

    def create_pool(self, name: str) -> vim.ResourcePool:
        alloc = vim.ResourceAllocationInfo(
            reservation=0,
            limit=-1,
            expandableReservation=True,
            shares=vim.SharesInfo(level="normal"),
        )
        spec = vim.ResourceConfigSpec(cpuAllocation=alloc, memoryAllocation=alloc)
        return self.root_pool.CreateResourcePool(name, spec)

    def create_vm(self, pool: vim.ResourcePool, name: str) -> vim.VirtualMachine:
        spec = vim.vm.ConfigSpec(
            name=name,
            numCPUs=1,
            memoryMB=128,
            guestId="otherGuest64",
            files=vim.vm.FileInfo(vmPathName=f"[{self.datastore.name}]"),
        )
        task = self.datacenter.vmFolder.CreateVM_Task(config=spec, pool=pool)
        return task.info.result

    def close(self) -> None:
        Disconnect(self.si)


@contextlib.contextmanager
def probe(host: SimHost) -> Iterator[Probe]:
    p = Probe(host)
    try:
        yield p
    finally:
        p.close()
