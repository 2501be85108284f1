"""A node VM's devices after the fact: is its disk file still there, and putting its NIC back.

Files: a running VM holds a lock on its disks, so ESXi lets a disk file be deleted only from
a VM that is off; the inventory cannot show it (the VM's configuration still names the file),
so the files of powered-off VMs are looked for with one datastore search per datastore.

NICs: a NIC that is disconnected or on another port group is edited in place; a removed one
is added again with the MAC address it had, so that DHCP reservations and the guest's view of
its interface hold. ESXi accepts a manual MAC from its own generated range (00:0c:29) only
with ``ethernetN.checkMACAddress = false``: it refuses to power on the VM otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from pyVmomi import vim

from .collector import properties_of
from .errors import EsxiError
from .faults import translated
from .session import HostSession
from .tasks import wait_for_tasks
from .vms import as_error, first_nic

__all__ = ["NicRepair", "missing_files", "missing_in_folders", "repair_nics"]

_EDIT = vim.vm.device.VirtualDeviceSpec.Operation.edit
_ADD = vim.vm.device.VirtualDeviceSpec.Operation.add
_GENERATED_OUI = "00:0c:29"


def missing_files(
    session: HostSession,
    files: Mapping[str, Collection[str]],
    stop: threading.Event | None = None,
) -> set[str]:
    """Which of the files (datastore moid -> paths ``[datastore] folder/file``) do not
    exist: one search task per datastore, whatever the number of files."""
    tasks = {}
    stores = [vim.Datastore(moid, session.si._stub) for moid in files]
    with translated(session.name):
        browsers = properties_of(session, stores, vim.Datastore, ["browser"])
        for moid, paths in files.items():
            spec = vim.host.DatastoreBrowser.SearchSpec(
                matchPattern=sorted({p.rsplit("/", 1)[-1] for p in paths})
            )
            root = next(iter(paths)).split("]", 1)[0] + "]"  # ``[datastore]``, from the path
            tasks[moid] = browsers[moid]["browser"].SearchDatastoreSubFolders_Task(  # type: ignore[attr-defined]
                datastorePath=root, searchSpec=spec
            )
    outcomes = wait_for_tasks(session, list(tasks.values()), stop)
    found: set[str] = set()
    for task in tasks.values():
        outcome = outcomes[task._moId]
        if outcome.error is not None:
            raise as_error(session, outcome.error)
        for folder in outcome.result or ():
            found |= {_joined(folder.folderPath, f.path) for f in folder.file or ()}
    return {p for paths in files.values() for p in paths if p not in found}


def missing_in_folders(
    session: HostSession,
    datastore_moid: str,
    paths: Collection[str],
    stop: threading.Event | None = None,
) -> set[str]:
    """Which of ``paths`` (``[datastore] folder/file``, all on one datastore) do not exist:
    one search of each paths' own folder, not of the whole datastore (a base image's folder
    is small; a datastore's tree may hold hundreds of VMs)."""
    folders: dict[str, set[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder or path.split("]")[0] + "]", set()).add(name or path)
    store = vim.Datastore(datastore_moid, session.si._stub)
    with translated(session.name):
        browser = properties_of(session, [store], vim.Datastore, ["browser"])[datastore_moid]
        tasks = {
            folder: browser["browser"].SearchDatastore_Task(  # type: ignore[attr-defined]
                datastorePath=folder,
                searchSpec=vim.host.DatastoreBrowser.SearchSpec(matchPattern=sorted(names)),
            )
            for folder, names in folders.items()
        }
    outcomes = wait_for_tasks(session, list(tasks.values()), stop)
    found: set[str] = set()
    for task in tasks.values():
        outcome = outcomes[task._moId]
        if isinstance(outcome.error, vim.fault.FileNotFound):
            continue  # no such folder: nothing in it
        if outcome.error is not None:
            raise as_error(session, outcome.error)
        result = outcome.result
        found |= {_joined(result.folderPath, f.path) for f in result.file or ()}
    return {p for p in paths if p not in found}


def _joined(folder: str, name: str) -> str:
    """``[ds] a/b`` + ``c`` -> ``[ds] a/b/c``; ESXi writes folders as ``[ds] a/b/``, the
    simulator as ``[ds]/a/b``."""
    store, _, rest = folder.partition("]")
    rest = rest.strip(" /")
    return f"{store}] {rest}/{name}" if rest else f"{store}] {name}"


@dataclass(frozen=True)
class NicRepair:
    network: str  # the cluster's port group
    mac: str | None  # the address the NIC had, for one added again


def repair_nics(
    session: HostSession, repairs: Mapping[str, NicRepair], stop: threading.Event | None = None
) -> dict[str, EsxiError | None]:
    """VM moid -> None once its first NIC is on its port group and connected (now, if it
    runs, and at every power-on), or what went wrong. All reconfigurations run at once."""
    outcome: dict[str, EsxiError | None] = {}
    tasks = {}
    with translated(session.name):
        networks = {n.name: n for n in session.content.rootFolder.childEntity[0].network}
    for moid, repair in repairs.items():  # read one by one: a VM gone since the plan fails alone
        vm = vim.VirtualMachine(moid, session.si._stub)
        try:
            with translated(session.name):
                devices = vm.config.hardware.device
                spec = _nic_spec(devices, repair, networks.get(repair.network))
                tasks[moid] = vm.ReconfigVM_Task(spec=spec)
        except EsxiError as exc:
            outcome[moid] = exc
    done = wait_for_tasks(session, list(tasks.values()), stop) if tasks else {}
    for moid, task in tasks.items():
        error = done[task._moId].error
        outcome[moid] = None if error is None else as_error(session, error)
    return outcome


def _nic_spec(
    devices: Sequence[vim.vm.device.VirtualDevice],
    repair: NicRepair,
    network: vim.Network | None,
) -> vim.vm.ConfigSpec:
    nic = first_nic(devices)
    backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
        deviceName=repair.network, network=network
    )
    connect = vim.vm.device.VirtualDevice.ConnectInfo(
        startConnected=True, connected=True, allowGuestControl=True
    )
    if nic is not None:
        nic.backing, nic.connectable = backing, connect
        return vim.vm.ConfigSpec(
            deviceChange=[vim.vm.device.VirtualDeviceSpec(operation=_EDIT, device=nic)]
        )
    added = vim.vm.device.VirtualVmxnet3(key=-1, backing=backing, connectable=connect)
    spec = vim.vm.ConfigSpec(
        deviceChange=[vim.vm.device.VirtualDeviceSpec(operation=_ADD, device=added)]
    )
    if repair.mac:
        added.addressType, added.macAddress = "manual", repair.mac
        if repair.mac.lower().startswith(_GENERATED_OUI):  # the VM had no NIC left: ethernet0
            spec.extraConfig = [
                vim.option.OptionValue(key="ethernet0.checkMACAddress", value="false")
            ]
    return spec
