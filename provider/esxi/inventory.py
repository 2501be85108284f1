"""One read of a host's inventory: a container view and one PropertyCollector retrieve.

Everything the domain needs to decide (which pools exist, which VMs they hold, what each VM's
NICs and disks are attached to, which port groups and datastores the host has, whether it is
in maintenance mode) comes from one snapshot per host per RPC, indexed by managed object id;
never from per-object calls.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pyVmomi import vim, vmodl

from .collector import properties_of, retrieve_all
from .errors import EsxiError
from .faults import translated
from .session import HostSession

__all__ = [
    "DATASTORE_PROPERTIES",
    "INVENTORY_PROPERTIES",
    "DatastoreInfo",
    "DiskInfo",
    "Inventory",
    "NicInfo",
    "PoolInfo",
    "VmInfo",
    "attachments_of",
    "datastore_info",
    "guest_vars_of",
    "inventory_of",
    "marks_of",
    "read_inventory",
    "read_vm_options",
    "retrieve",
]

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
    "summary.runtime.bootTime",  # the last power-on (vcsim: a reset too; ESXi may keep it)
    "guestHeartbeatStatus",  # VMware Tools: green, yellow, red (no heartbeat), gray (not running)
    "guest.toolsRunningStatus",
)
DATASTORE_PROPERTIES = (
    "summary.name",
    "summary.capacity",
    "summary.freeSpace",
    "summary.accessible",
    "summary.url",  # the same on every host that mounts a shared datastore
)
_HOST_PROPERTIES = ("runtime.inMaintenanceMode",)
_DATACENTER_PROPERTIES = ("name",)  # the datastore file API's dcPath
_NETWORK_PROPERTIES = ("name",)
MARK_PREFIX = "photon."
GUEST_PREFIX = "guestinfo.photon."  # what a node's guest says of itself


@dataclass(frozen=True)
class PoolInfo:
    moid: str
    name: str
    parent: str | None
    vms: tuple[str, ...]
    memory_limit_mb: int  # -1: no limit


@dataclass(frozen=True)
class NicInfo:
    key: int
    mac: str
    network: str  # the port group's name; "" for a backing that is not a port group
    connected: bool  # now; meaningful while the VM runs
    start_connected: bool  # at power-on


@dataclass(frozen=True)
class DiskInfo:
    key: int
    file: str  # ``[datastore] folder/name.vmdk``
    datastore: str | None  # moid
    capacity_kb: int


@dataclass(frozen=True)
class DatastoreInfo:
    moid: str
    name: str
    capacity_bytes: int
    free_bytes: int
    accessible: bool
    url: str = ""


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
    nics: tuple[NicInfo, ...] = ()
    disks: tuple[DiskInfo, ...] = ()
    guest: Mapping[str, str] = field(default_factory=dict)  # ``guestinfo.photon.*``, no prefix
    heartbeat: str = ""  # guestHeartbeatStatus; "" when the host has not set it
    tools_running: bool = False
    boot_time: datetime.datetime | None = None  # the last power-on


@dataclass(frozen=True)
class Inventory:
    host: str
    pools: Mapping[str, PoolInfo]
    root_pool: str
    vms: Mapping[str, VmInfo]
    networks: Mapping[str, str] = field(default_factory=dict)  # port group name -> moid
    datastores: Mapping[str, DatastoreInfo] = field(default_factory=dict)  # by moid
    maintenance: bool = False  # in maintenance mode (or entering it)
    datacenter: tuple[str, str] = ("", "")  # (moid, name): ESXi has exactly one

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
        return retrieve_all(content.propertyCollector, spec)
    finally:
        view.DestroyView()


def marks_of(options: Iterable[vim.option.OptionValue]) -> dict[str, str]:
    """A VM's ``photon.*`` extraConfig keys, without the prefix; the first of a key counts."""
    marks: dict[str, str] = {}
    for option in options:
        key = str(option.key)
        if key.startswith(MARK_PREFIX):
            marks.setdefault(key[len(MARK_PREFIX) :], str(option.value))
    return marks


def guest_vars_of(options: Iterable[vim.option.OptionValue]) -> dict[str, str]:
    """A VM's ``guestinfo.photon.*`` keys, without the prefix. The guest sets them again and
    again, so the last of a key counts (a host that keeps duplicates appends the newest)."""
    return {
        str(o.key)[len(GUEST_PREFIX) :]: str(o.value)
        for o in options
        if str(o.key).startswith(GUEST_PREFIX)
    }


def attachments_of(
    devices: Iterable[vim.vm.device.VirtualDevice],
) -> tuple[tuple[NicInfo, ...], tuple[DiskInfo, ...]]:
    """A VM's NICs and disks, in device order."""
    devices = list(devices)
    nics = tuple(_nic(d) for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard))
    disks = tuple(_disk(d) for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
    return nics, disks


def _vm_info(moid: str, props: Mapping[str, object]) -> VmInfo:
    options = props.get("config.extraConfig") or ()
    marks = marks_of(options)  # type: ignore[arg-type]
    nics, disks = attachments_of(props.get("config.hardware.device") or ())  # type: ignore[arg-type]
    pool = props.get("resourcePool")
    return VmInfo(
        moid=moid,
        name=str(props.get("name", "")),
        pool=pool._moId if pool is not None else None,  # type: ignore[attr-defined]
        marks=marks,
        vcpu=int(props.get("config.hardware.numCPU") or 0),  # type: ignore[call-overload]
        memory_mb=int(props.get("config.hardware.memoryMB") or 0),  # type: ignore[call-overload]
        disk_kb=sum(d.capacity_kb for d in disks),
        power_state=str(props.get("runtime.powerState", "")),
        connection_state=str(props.get("runtime.connectionState", "connected")),
        nics=nics,
        disks=disks,
        guest=guest_vars_of(options),  # type: ignore[arg-type]
        heartbeat=str(props.get("guestHeartbeatStatus") or ""),
        tools_running=props.get("guest.toolsRunningStatus") == "guestToolsRunning",
        boot_time=props.get("summary.runtime.bootTime"),  # type: ignore[arg-type]
    )


def _nic(device: vim.vm.device.VirtualEthernetCard) -> NicInfo:
    backing = device.backing
    network = backing.deviceName if isinstance(backing, _NETWORK_BACKING) else ""
    connectable = device.connectable
    return NicInfo(
        key=int(device.key),
        mac=str(device.macAddress or ""),
        network=str(network or ""),
        connected=bool(connectable and connectable.connected),
        start_connected=bool(connectable and connectable.startConnected),
    )


def _disk(device: vim.vm.device.VirtualDisk) -> DiskInfo:
    backing = device.backing
    datastore = getattr(backing, "datastore", None)
    return DiskInfo(
        key=int(device.key),
        file=str(getattr(backing, "fileName", "") or ""),
        datastore=datastore._moId if datastore is not None else None,
        capacity_kb=int(device.capacityInKB or 0),
    )


_NETWORK_BACKING = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo


INVENTORY_PROPERTIES: Mapping[type, Sequence[str]] = {
    vim.ResourcePool: _POOL_PROPERTIES,
    vim.VirtualMachine: _VM_PROPERTIES,
    vim.Network: _NETWORK_PROPERTIES,
    vim.Datastore: DATASTORE_PROPERTIES,
    vim.HostSystem: _HOST_PROPERTIES,
    vim.Datacenter: _DATACENTER_PROPERTIES,
}


def read_inventory(session: HostSession) -> Inventory:
    with translated(session.name):
        objects = retrieve(session, INVENTORY_PROPERTIES)
    return inventory_of(session.name, objects)


def inventory_of(host: str, objects: Mapping[str, tuple[type, Mapping[str, object]]]) -> Inventory:
    """The domain's view of one host, from the properties of its objects by moid."""
    pools: dict[str, PoolInfo] = {}
    vms: dict[str, VmInfo] = {}
    networks: dict[str, str] = {}
    datastores: dict[str, DatastoreInfo] = {}
    maintenance = False
    root = None
    datacenter = ("", "")
    for moid, (kind, props) in objects.items():
        if issubclass(kind, vim.VirtualMachine):
            vms[moid] = _vm_info(moid, props)
        elif issubclass(kind, vim.Network):
            networks[str(props.get("name", ""))] = moid
        elif issubclass(kind, vim.Datastore):
            datastores[moid] = datastore_info(moid, props)
        elif issubclass(kind, vim.HostSystem):
            maintenance = bool(props.get("runtime.inMaintenanceMode"))
        elif issubclass(kind, vim.Datacenter):
            datacenter = (moid, str(props.get("name", "")))
        else:
            pool = _pool_info(moid, props)
            pools[moid] = pool
            root = moid if pool.parent is None else root
    if root is None:
        raise EsxiError(host, "the host has no root resource pool; is it an ESXi host?")
    return Inventory(host, pools, root, vms, networks, datastores, maintenance, datacenter)


def _pool_info(moid: str, props: Mapping[str, object]) -> PoolInfo:
    parent = props.get("parent")
    # the root pool's parent is the host's compute resource
    parent_id = parent._moId if isinstance(parent, vim.ResourcePool) else None
    members = props.get("vm") or []
    limit = props.get("config.memoryAllocation.limit")
    return PoolInfo(
        moid,
        str(props.get("name", "")),
        parent_id,
        tuple(v._moId for v in members),  # type: ignore[attr-defined]
        -1 if limit is None else int(limit),  # type: ignore[call-overload]
    )


def datastore_info(moid: str, props: Mapping[str, object]) -> DatastoreInfo:
    return DatastoreInfo(
        moid=moid,
        name=str(props.get("summary.name", "")),
        capacity_bytes=int(props.get("summary.capacity") or 0),  # type: ignore[call-overload]
        free_bytes=int(props.get("summary.freeSpace") or 0),  # type: ignore[call-overload]
        accessible=bool(props.get("summary.accessible")),
        url=str(props.get("summary.url") or ""),
    )


def read_vm_options(session: HostSession, moid: str) -> dict[str, str]:
    """All extraConfig options of one VM (guestinfo included), through the collector."""
    vm = vim.VirtualMachine(moid, session.si._stub)
    with translated(session.name):
        found = properties_of(session, [vm], vim.VirtualMachine, ["config.extraConfig"])
    options: dict[str, str] = {}
    for props in found.values():
        for option in props.get("config.extraConfig") or ():  # type: ignore[attr-defined]
            options.setdefault(str(option.key), str(option.value))
    return options
