"""One read of a host's inventory: a container view and one PropertyCollector retrieve.

Everything the domain needs to decide (which pools exist, which VMs they hold) comes from
one snapshot per host per RPC, indexed by managed object id; never from per-object calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pyVmomi import vim, vmodl

from .errors import EsxiError
from .faults import translated
from .session import HostSession

__all__ = ["Inventory", "PoolInfo", "VmInfo", "read_inventory", "read_vm_options", "retrieve"]

_POOL_PROPERTIES = ("name", "parent", "vm", "config.memoryAllocation.limit")
_VM_PROPERTIES = (
    "name",
    "resourcePool",
    "config.extraConfig",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "runtime.powerState",
    "runtime.connectionState",
)
MARK_PREFIX = "photon."


@dataclass(frozen=True)
class PoolInfo:
    moid: str
    name: str
    parent: str | None
    vms: tuple[str, ...]
    memory_limit_mb: int  # -1: no limit


@dataclass(frozen=True)
class VmInfo:
    moid: str
    name: str
    pool: str | None
    marks: Mapping[str, str]  # extraConfig keys under ``photon.``, without the prefix
    vcpu: int
    memory_mb: int
    disk_kb: int
    power_state: str
    connection_state: str = "connected"  # orphaned, inaccessible, invalid: the VM is unusable


@dataclass(frozen=True)
class Inventory:
    host: str
    pools: Mapping[str, PoolInfo]
    root_pool: str
    vms: Mapping[str, VmInfo]

    def children(self, parent: str | None = None) -> Iterator[PoolInfo]:
        """Pools directly under ``parent`` (default: the host's root pool)."""
        parent = parent or self.root_pool
        return (p for p in self.pools.values() if p.parent == parent)

    def child_named(self, name: str, parent: str | None = None) -> PoolInfo | None:
        return next((p for p in self.children(parent) if p.name == name), None)


def retrieve(
    session: HostSession, properties: Mapping[type, Sequence[str]]
) -> dict[str, tuple[type, dict[str, object]]]:
    """Properties of every object of the given types below the root folder, by moid."""
    content = session.content
    view = content.viewManager.CreateContainerView(
        content.rootFolder, list(properties), recursive=True
    )
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        vmodl.query.PropertyCollector.TraversalSpec(
                            name="view", path="view", skip=False, type=vim.view.ContainerView
                        )
                    ],
                )
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(type=t, pathSet=list(paths))
                for t, paths in properties.items()
            ],
        )
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx(
            [spec], vmodl.query.PropertyCollector.RetrieveOptions()
        )
        objects: dict[str, tuple[type, dict[str, object]]] = {}
        while result is not None:
            for item in result.objects:
                objects[item.obj._moId] = (type(item.obj), {p.name: p.val for p in item.propSet})
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(result.token)
        return objects
    finally:
        view.DestroyView()


def _vm_info(moid: str, props: Mapping[str, object]) -> VmInfo:
    marks: dict[str, str] = {}
    for option in props.get("config.extraConfig") or ():  # type: ignore[attr-defined]
        key = str(option.key)
        if key.startswith(MARK_PREFIX):
            marks.setdefault(key[len(MARK_PREFIX) :], str(option.value))  # first one counts
    devices = props.get("config.hardware.device") or ()
    disk_kb = sum(d.capacityInKB or 0 for d in devices if isinstance(d, vim.vm.device.VirtualDisk))  # type: ignore[attr-defined]
    pool = props.get("resourcePool")
    return VmInfo(
        moid=moid,
        name=str(props.get("name", "")),
        pool=pool._moId if pool is not None else None,  # type: ignore[attr-defined]
        marks=marks,
        vcpu=int(props.get("config.hardware.numCPU") or 0),  # type: ignore[call-overload]
        memory_mb=int(props.get("config.hardware.memoryMB") or 0),  # type: ignore[call-overload]
        disk_kb=disk_kb,
        power_state=str(props.get("runtime.powerState", "")),
        connection_state=str(props.get("runtime.connectionState", "connected")),
    )


def read_inventory(session: HostSession) -> Inventory:
    with translated(session.name):
        objects = retrieve(
            session, {vim.ResourcePool: _POOL_PROPERTIES, vim.VirtualMachine: _VM_PROPERTIES}
        )
    pools: dict[str, PoolInfo] = {}
    vms: dict[str, VmInfo] = {}
    root = None
    for moid, (kind, props) in objects.items():
        if issubclass(kind, vim.VirtualMachine):
            vms[moid] = _vm_info(moid, props)
            continue
        parent = props.get("parent")
        if isinstance(parent, vim.ResourcePool):
            parent_id = parent._moId
        else:  # the root pool's parent is the host's compute resource
            parent_id, root = None, moid
        members = props.get("vm") or []
        limit = props.get("config.memoryAllocation.limit")
        pools[moid] = PoolInfo(
            moid,
            str(props.get("name", "")),
            parent_id,
            tuple(v._moId for v in members),
            -1 if limit is None else int(limit),  # type: ignore[call-overload]
        )
    if root is None:
        raise EsxiError(session.name, "the host has no root resource pool; is it an ESXi host?")
    return Inventory(session.name, pools, root, vms)


def read_vm_options(session: HostSession, moid: str) -> dict[str, str]:
    """All extraConfig options of one VM (guestinfo included), through the collector."""
    vm = vim.VirtualMachine(moid, session.si._stub)
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm)],
        propSet=[
            vmodl.query.PropertyCollector.PropertySpec(
                type=vim.VirtualMachine, pathSet=["config.extraConfig"]
            )
        ],
    )
    with translated(session.name):
        found = session.content.propertyCollector.RetrieveContents([spec])
    options: dict[str, str] = {}
    for item in found:
        for prop in item.propSet:
            for option in prop.val or ():
                options.setdefault(str(option.key), str(option.value))
    return options
