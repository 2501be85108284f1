"""Node VMs: made from a copy of a base disk (standalone ESXi cannot clone), in phases that
issue every host task first and then wait on them together, so twenty VMs take about as
long as one.

Phases: folders, disk copies, VMs (disk, NIC, ownership marks and guestinfo in extraConfig),
disk growth to the flavor's size, power on. A VM failing in one phase is reported alone;
the others go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyVmomi import vim, vmodl

from .errors import AlreadyExists, EsxiError, NotFound
from .faults import raise_task_error, translated
from .session import HostSession
from .tasks import StoppedWaiting, wait_for_tasks

__all__ = ["Created", "VmSpec", "create_vms", "destroy_vms", "power_on_vms"]

_ADD = vim.vm.device.VirtualDeviceSpec.Operation.add
_PARALLEL_CALLS = 16  # calls in flight per host: pyVmomi opens a connection for each


@dataclass(frozen=True)
class VmSpec:
    name: str
    pool: str  # resource pool moid
    datastore: str
    image: str  # base disk, a path on the datastore (``images/k8s.vmdk``)
    vcpu: int
    memory_mb: int
    disk_gb: int
    network: str
    extra_config: Mapping[str, str]
    annotation: str = ""

    @property
    def folder(self) -> str:
        return f"[{self.datastore}] {self.name}"

    @property
    def disk(self) -> str:
        return f"{self.folder}/{self.name}.vmdk"


def _config(spec: VmSpec) -> vim.vm.ConfigSpec:
    controller = vim.vm.device.ParaVirtualSCSIController(
        key=-100, busNumber=0, sharedBus="noSharing"
    )
    disk = vim.vm.device.VirtualDisk(
        key=-101,
        controllerKey=-100,
        unitNumber=0,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=spec.disk, diskMode="persistent"
        ),
    )
    nic = vim.vm.device.VirtualVmxnet3(
        key=-102,
        backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=spec.network),
        # ``connected`` is the NIC's state while the VM runs; ESXi sets it at power-on
        # from startConnected, and says it here so that a host that does not is told.
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(
            startConnected=True, connected=True, allowGuestControl=True
        ),
    )
    return vim.vm.ConfigSpec(
        name=spec.name,
        numCPUs=spec.vcpu,
        memoryMB=spec.memory_mb,
        guestId="vmwarePhoton64Guest",
        annotation=spec.annotation,
        files=vim.vm.FileInfo(vmPathName=f"{spec.folder}/"),
        deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation=_ADD, device=d)
            for d in (controller, disk, nic)
        ],
        extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in spec.extra_config.items()],
    )  # fmt: skip


def _grow_disk(vm: vim.VirtualMachine, gigabytes: int) -> vim.vm.ConfigSpec | None:
    disk = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    wanted = gigabytes * 1024 * 1024
    if (disk.capacityInKB or 0) >= wanted:
        return None
    disk.capacityInKB, disk.capacityInBytes = wanted, wanted * 1024
    edit = vim.vm.device.VirtualDeviceSpec.Operation.edit
    return vim.vm.ConfigSpec(
        deviceChange=[vim.vm.device.VirtualDeviceSpec(operation=edit, device=disk)]
    )


@dataclass(frozen=True)
class Created:
    """What became of one VM: its moid once it exists (also when a later step failed)."""

    moid: str | None
    error: EsxiError | None = None


def create_vms(
    session: HostSession, specs: Sequence[VmSpec], stop: threading.Event | None = None
) -> dict[str, Created]:
    """VM name -> what became of it. A leftover disk of an earlier failed attempt (no VM
    uses it: the caller checks) is replaced."""
    content = session.content
    with translated(session.name):
        datacenter = content.rootFolder.childEntity[0]
    failed: dict[str, EsxiError] = {}

    def phase(
        items: Mapping[str, object], start: Callable[[str, object], vim.Task | None]
    ) -> dict[str, object]:
        """Start a task per item, wait for all; returns the results of those that succeeded.
        The starting calls go out in parallel too: each is a round trip to the host. After a
        stop (Ctrl-C or the operation's timeout) no further step starts."""
        if stop is not None and stop.is_set():
            for name in items:
                failed[name] = StoppedWaiting(session.name, f"stopped before {name} was finished")
            return {}

        def begin(name: str) -> vim.Task | EsxiError | None:
            try:
                with translated(session.name):
                    return start(name, items[name])
            except EsxiError as exc:
                return exc

        tasks: dict[str, vim.Task] = {}
        with ThreadPoolExecutor(max_workers=_PARALLEL_CALLS) as pool:
            for name, task in zip(items, pool.map(begin, items), strict=True):
                if isinstance(task, EsxiError):
                    failed[name] = task
                elif task is not None:
                    tasks[name] = task
        outcomes = wait_for_tasks(session, list(tasks.values()), stop) if tasks else {}
        results = {}
        for name, item in items.items():
            if name in failed:
                continue
            task = tasks.get(name)
            outcome = outcomes.get(task._moId) if task is not None else None
            if outcome is not None and outcome.error is not None:
                failed[name] = _as_error(session, outcome.error)
            else:
                results[name] = outcome.result if outcome is not None else item
        return results

    by_name = {s.name: s for s in specs}
    for spec in specs:
        try:
            with translated(session.name):
                content.fileManager.MakeDirectory(
                    name=spec.folder, datacenter=datacenter, createParentDirectories=True
                )
        except AlreadyExists:  # left by an earlier, failed attempt, with its disk maybe
            try:
                with translated(session.name):
                    task = content.virtualDiskManager.DeleteVirtualDisk_Task(
                        name=spec.disk, datacenter=datacenter
                    )
                error = wait_for_tasks(session, [task], stop)[task._moId].error
                if error is not None and not isinstance(error, vim.fault.FileNotFound):
                    failed[spec.name] = _as_error(session, error)
            except EsxiError as exc:
                failed[spec.name] = exc
        except EsxiError as exc:
            failed[spec.name] = exc
    disks = phase(
        {n: s for n, s in by_name.items() if n not in failed},
        lambda n, s: content.virtualDiskManager.CopyVirtualDisk_Task(
            sourceName=f"[{s.datastore}] {s.image}",  # type: ignore[attr-defined]
            sourceDatacenter=datacenter,
            destName=s.disk,  # type: ignore[attr-defined]
            destDatacenter=datacenter,
        ),
    )
    made = phase(
        {n: by_name[n] for n in disks},
        lambda n, s: datacenter.vmFolder.CreateVM_Task(
            config=_config(s),  # type: ignore[arg-type]
            pool=vim.ResourcePool(s.pool, session.si._stub),  # type: ignore[attr-defined]
        ),
    )
    phase(made, lambda n, vm: _reconfigure(vm, by_name[n].disk_gb))  # type: ignore[arg-type]
    phase({n: vm for n, vm in made.items() if n not in failed}, lambda n, vm: vm.PowerOnVM_Task())  # type: ignore[attr-defined]
    return {
        name: Created(made[name]._moId if name in made else None, failed.get(name))  # type: ignore[attr-defined]
        for name in by_name
    }


def _reconfigure(vm: vim.VirtualMachine, disk_gb: int) -> vim.Task | None:
    spec = _grow_disk(vm, disk_gb)
    return vm.ReconfigVM_Task(spec=spec) if spec is not None else None


def destroy_vms(
    session: HostSession, moids: Sequence[str], stop: threading.Event | None = None
) -> dict[str, EsxiError | None]:
    """Power off and destroy VMs, then remove their folders (disks go with the VM; the
    folder, with logs, stays behind otherwise); a VM already gone is fine."""
    vms = {m: vim.VirtualMachine(m, session.si._stub) for m in moids}
    folders = _folders(session, list(vms.values()))  # the VMs' and their disks' folders
    outcome: dict[str, EsxiError | None] = {}
    for action in ("PowerOffVM_Task", "Destroy_Task"):
        tasks = {}
        for moid, vm in vms.items():
            if moid in outcome:
                continue
            try:
                with translated(session.name):
                    tasks[moid] = getattr(vm, action)()
            except NotFound:
                outcome[moid] = None  # already gone
            except EsxiError as exc:
                if not isinstance(exc.__cause__, vim.fault.InvalidPowerState):
                    outcome[moid] = exc  # (powered off already is what we wanted)
        done = wait_for_tasks(session, list(tasks.values()), stop) if tasks else {}
        for moid, task in tasks.items():
            error = done[task._moId].error
            if error is not None and action == "Destroy_Task":
                outcome[moid] = _as_error(session, error)
    gone = {f for m, fs in folders.items() if outcome.get(m) is None for f in fs}
    _remove_folders(session, sorted(gone), stop)
    return {moid: outcome.get(moid) for moid in moids}


def _folders(session: HostSession, vms: list[vim.VirtualMachine]) -> dict[str, set[str]]:
    """VM moid -> the folders of its files and disks (``[ds] name``), in one collector call."""
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm) for vm in vms],
        propSet=[
            vmodl.query.PropertyCollector.PropertySpec(
                type=vim.VirtualMachine,
                pathSet=["config.files.vmPathName", "config.hardware.device"],
            )
        ],
    )
    try:
        with translated(session.name):
            found = session.content.propertyCollector.RetrieveContents([spec])
    except NotFound:
        return {}  # some VM is gone already; its folder went with it or is not ours to know
    folders: dict[str, set[str]] = {}
    for item in found:
        paths = []
        for prop in item.propSet:
            if prop.name == "config.files.vmPathName":
                paths.append(str(prop.val))
            else:
                paths += [
                    d.backing.fileName
                    for d in prop.val
                    if isinstance(d, vim.vm.device.VirtualDisk) and d.backing
                ]
        folders[item.obj._moId] = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
    return folders


def _remove_folders(session: HostSession, folders: list[str], stop: threading.Event | None) -> None:
    """Best effort: a folder left behind holds only logs, and is reported by nothing."""
    content = session.content
    with translated(session.name):
        datacenter = content.rootFolder.childEntity[0]
        tasks = [
            content.fileManager.DeleteDatastoreFile_Task(name=folder, datacenter=datacenter)
            for folder in folders
        ]
    if tasks:
        wait_for_tasks(session, tasks, stop)


def _as_error(session: HostSession, error: Exception) -> EsxiError:
    """A task's fault as our own error."""
    try:
        raise_task_error(session.name, error)
    except EsxiError as exc:
        return exc
    return EsxiError(session.name, str(error))


def power_on_vms(
    session: HostSession, moids: Sequence[str], stop: threading.Event | None = None
) -> dict[str, EsxiError | None]:
    """Power on VMs together; a VM already on is fine."""
    tasks, outcome = {}, {}
    for moid in moids:
        try:
            with translated(session.name):
                tasks[moid] = vim.VirtualMachine(moid, session.si._stub).PowerOnVM_Task()
        except EsxiError as exc:
            powered = isinstance(exc.__cause__, vim.fault.InvalidPowerState)
            outcome[moid] = None if powered else exc
    done = wait_for_tasks(session, list(tasks.values()), stop) if tasks else {}
    for moid, task in tasks.items():
        error = done[task._moId].error
        outcome[moid] = None if error is None else _as_error(session, error)
    return outcome
