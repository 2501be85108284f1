"""Looks at a simulated host directly through pyVmomi: what tests assert against.

Independent of the provider's own adapter, so a bug there cannot hide itself here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
from collections.abc import Iterator

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from .simulator import SimHost


class Probe:
    def __init__(self, host: SimHost) -> None:
        self.si = SmartConnect(
            host="127.0.0.1",
            port=host.port,
            user=host.user,
            pwd=host.password,
            disableSslCertValidation=True,
            # A call that never gets an answer fails instead of hanging the test; inside a
            # locked step (test_quota_race) a hang held the lock until others gave up.
            httpConnectionTimeout=60,
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

    def create_vm(
        self,
        pool: vim.ResourcePool,
        name: str,
        *,
        cpus: int = 1,
        memory_mb: int = 128,
        disk_gb: int = 0,
        marks: dict[str, str] | None = None,
        network: str | None = None,
    ) -> vim.VirtualMachine:
        """A VM, optionally with a disk, a NIC on port group ``network`` and ``photon.*``
        ownership marks."""
        devices = []
        if disk_gb:
            controller = vim.vm.device.ParaVirtualSCSIController(
                key=-100, busNumber=0, sharedBus="noSharing"
            )
            disk = vim.vm.device.VirtualDisk(
                key=-101,
                controllerKey=-100,
                unitNumber=0,
                capacityInKB=disk_gb * 1024 * 1024,
                backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                    fileName="", diskMode="persistent", thinProvisioned=True
                ),
            )
            add = vim.vm.device.VirtualDeviceSpec.Operation.add
            devices = [
                vim.vm.device.VirtualDeviceSpec(operation=add, device=controller),
                vim.vm.device.VirtualDeviceSpec(
                    operation=add,
                    fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
                    device=disk,
                ),
            ]
        if network:
            nic = vim.vm.device.VirtualVmxnet3(
                key=-102,
                backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network),
                connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                    startConnected=True, connected=True
                ),
            )
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=nic
                )
            )
        spec = vim.vm.ConfigSpec(
            name=name,
            numCPUs=cpus,
            memoryMB=memory_mb,
            guestId="otherGuest64",
            files=vim.vm.FileInfo(vmPathName=f"[{self.datastore.name}]"),
            extraConfig=[
                vim.option.OptionValue(key=f"photon.{k}", value=v) for k, v in (marks or {}).items()
            ],
            deviceChange=devices,
        )
        task = self.datacenter.vmFolder.CreateVM_Task(config=spec, pool=pool)
        return task.info.result

    def memory_limit(self, pool_name: str) -> int:
        return int(self.pool(pool_name).config.memoryAllocation.limit)

    # Files on the host's datastore, through its HTTPS /folder endpoint.

    def _file(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        stub = self.si._stub
        host, port = stub.host.rsplit(":", 1)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
        query = f"dcPath=ha-datacenter&dsName={self.datastore.name}"
        cookie = stub.cookie.split(";")[0]
        connection.request(method, f"/folder/{path}?{query}", body=body, headers={"Cookie": cookie})
        response = connection.getresponse()
        result = response.status, response.read()
        connection.close()
        return result

    def read_file(self, path: str) -> bytes | None:
        status, body = self._file("GET", path)
        return None if status == 404 else body

    def write_file(self, path: str, data: bytes) -> None:
        status, _ = self._file("PUT", path, data)
        assert status < 300

    def create_base_disk(self, path: str = "images/k8s.vmdk", gigabytes: int = 1) -> None:
        """A base disk for cluster nodes, as an admin would upload it."""
        folder = path.rsplit("/", 1)[0]
        self.make_directory(folder)
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType="thin", adapterType="lsiLogic", capacityKb=gigabytes * 1024 * 1024
        )
        task = self.si.content.virtualDiskManager.CreateVirtualDisk_Task(
            name=f"[{self.datastore.name}] {path}", datacenter=self.datacenter, spec=spec
        )
        self.wait(task)

    def files(self, folder: str = "") -> list[str]:
        """Names under a datastore folder (recursively); [] if there is no such folder."""
        browser = self.datastore.browser
        spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*"])
        try:
            results = self.wait(
                browser.SearchDatastoreSubFolders_Task(
                    datastorePath=f"[{self.datastore.name}] {folder}", searchSpec=spec
                )
            )
        except vim.fault.FileNotFound:
            return []
        return sorted(
            f"{r.folderPath.split('] ', 1)[1].rstrip('/')}/{f.path}".lstrip("/")
            for r in results  # type: ignore[attr-defined]
            for f in r.file
        )

    def delete_file(self, path: str) -> None:
        """A datastore file deleted, as an admin (or a lost backup) would."""
        self.wait(
            self.si.content.fileManager.DeleteDatastoreFile_Task(
                name=f"[{self.datastore.name}] {path}", datacenter=self.datacenter
            )
        )

    def delete_disk(self, path: str) -> None:
        self.wait(
            self.si.content.virtualDiskManager.DeleteVirtualDisk_Task(
                name=f"[{self.datastore.name}] {path}", datacenter=self.datacenter
            )
        )

    def wait(self, task: vim.Task) -> object:
        """A task's result, read through the PropertyCollector: attribute access on such a
        task's info fails against the simulator."""
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=task)],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(
                    type=vim.Task, pathSet=["info.state", "info.error", "info.result"]
                )
            ],
        )
        for _ in range(600):
            props = {
                p.name: p.val
                for p in self.si.content.propertyCollector.RetrieveContents([spec])[0].propSet
            }
            if props["info.state"] == "error":
                raise props["info.error"]
            if props["info.state"] == "success":
                return props.get("info.result")
            time.sleep(0.05)
        raise TimeoutError(task)

    def vms(self) -> dict[str, vim.VirtualMachine]:
        return {vm.name: vm for vm in self.datacenter.vmFolder.childEntity}

    def vm(self, moid: str) -> vim.VirtualMachine:
        return next(vm for vm in self.vms().values() if vm._moId == moid)

    def power_off(self, moid: str) -> None:
        self.wait(self.vm(moid).PowerOffVM_Task())

    def destroy_vm(self, moid: str) -> None:
        """As an admin deleting a node's VM by hand would."""
        self.power_off(moid)
        self.wait(self.vm(moid).Destroy_Task())

    # Devices, as an admin breaking a node VM's network or disk would change them.

    def nic(self, moid: str) -> vim.vm.device.VirtualEthernetCard | None:
        devices = self.vm(moid).config.hardware.device
        return next((d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)

    def _change_device(
        self, moid: str, operation: str, device: vim.vm.device.VirtualDevice
    ) -> None:
        change = vim.vm.device.VirtualDeviceSpec(operation=operation, device=device)
        self.wait(self.vm(moid).ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))

    def disconnect_nic(self, moid: str) -> None:
        nic = self.nic(moid)
        nic.connectable.connected = False
        self._change_device(moid, "edit", nic)

    def move_nic(self, moid: str, network: str) -> None:
        nic = self.nic(moid)
        nic.backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network)
        self._change_device(moid, "edit", nic)

    def remove_nic(self, moid: str) -> None:
        self._change_device(moid, "remove", self.nic(moid))

    def detach_disk(self, moid: str) -> str:
        """Removes the VM's disk from it, leaving the file; returns the file's path."""
        devices = self.vm(moid).config.hardware.device
        disk = next(d for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
        self._change_device(moid, "remove", disk)
        return str(disk.backing.fileName)

    def disk_file(self, moid: str) -> str:
        """The VM's disk, as a path on the datastore (without ``[datastore] ``)."""
        devices = self.vm(moid).config.hardware.device
        disk = next(d for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
        return str(disk.backing.fileName).split("] ", 1)[1]

    def add_port_group(self, name: str) -> None:
        spec = vim.host.PortGroup.Specification(
            name=name, vlanId=0, vswitchName="vSwitch0", policy=vim.host.NetworkPolicy()
        )
        self._network_system().AddPortGroup(portgrp=spec)

    def remove_port_group(self, name: str) -> None:
        self._network_system().RemovePortGroup(pgName=name)

    def _network_system(self) -> vim.host.NetworkSystem:
        compute = self.datacenter.hostFolder.childEntity[0]
        return compute.host[0].configManager.networkSystem

    def extra_config(self, vm: vim.VirtualMachine) -> dict[str, str]:
        """The VM's extraConfig; of a key set twice, the last value."""
        return {o.key: o.value for o in vm.config.extraConfig}

    def set_extra_config(self, moid: str, **options: str) -> None:
        """Set extraConfig keys of a VM (a guest's ``info-set`` of a guestinfo variable lands
        there; vcsim's ``SET.<property>`` keys set the VM's properties)."""
        values = [vim.option.OptionValue(key=k, value=v) for k, v in options.items()]
        self.wait(self.vm(moid).ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=values)))

    def report(self, moid: str) -> dict | None:
        """The node's readiness report (``guestinfo.photon.status``), or None."""
        text = self.extra_config(self.vm(moid)).get("guestinfo.photon.status")
        return json.loads(text) if text else None

    def boot_time(self, moid: str) -> object:
        return self.vm(moid).summary.runtime.bootTime

    def maintenance(self, on: bool) -> None:
        """Put the host into maintenance mode or take it out, as an admin would."""
        host = self.datacenter.hostFolder.childEntity[0].host[0]
        task = (
            host.EnterMaintenanceMode_Task(timeout=0)
            if on
            else host.ExitMaintenanceMode_Task(timeout=0)
        )
        self.wait(task)

    def make_directory(self, path: str) -> None:
        self.si.content.fileManager.MakeDirectory(
            name=f"[{self.datastore.name}] {path}",
            datacenter=self.datacenter,
            createParentDirectories=True,
        )

    def close(self) -> None:
        Disconnect(self.si)


@contextlib.contextmanager
def probe(host: SimHost) -> Iterator[Probe]:
    p = Probe(host)
    try:
        yield p
    finally:
        p.close()
