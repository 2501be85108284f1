"""The ESXi adapter against a simulated host: sessions, inventory, pools, errors."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from provider.esxi.endpoint import Endpoint
from provider.esxi.errors import (
    AuthenticationFailed,
    CertificateMismatch,
    HostUnreachable,
    NameTaken,
)
from provider.esxi.inventory import read_inventory
from provider.esxi.pools import create_pool, destroy_pool
from provider.esxi.session import HostSession, open_session
from provider.photon.platform import Platform
from tests.support.probe import probe
from tests.support.simulator import SimHost, Simulator, endpoint


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with Simulator(1) as sim:
        yield sim.hosts[0]


@pytest.fixture
def session(host: SimHost) -> Iterator[HostSession]:
    s = open_session(endpoint(host))
    yield s
    s.close()


def test_thumbprint_is_matched_in_either_spelling(host: SimHost) -> None:
    bare = host.thumbprint.replace(":", "").lower()
    open_session(endpoint(host, thumbprint=bare)).close()


def test_wrong_thumbprint_is_refused_before_any_login(host: SimHost) -> None:
    with pytest.raises(CertificateMismatch) as failure:
        open_session(endpoint(host, thumbprint="00" * 32, password="never-sent"))
    assert failure.value.host == "esx-1"
    assert host.thumbprint in failure.value.message


def test_wrong_password(host: SimHost) -> None:
    with pytest.raises(AuthenticationFailed, match="refused user 'root'"):
        open_session(endpoint(host, password="wrong"))


def test_login_speaks_the_api_version_the_host_names(session: HostSession) -> None:
    """Taken from the service content (vcsim 0.24 names 6.5), not from a list fetched first;
    the login made on the session that call opened holds."""
    assert session.content.about.apiVersion == "6.5"
    assert session.si._stub.version == "vim.version.version11"  # pyVmomi's name for 6.5
    assert session.content.sessionManager.currentSession.userName == "root"


_FIRST_CALL = (
    '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv='
    '"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrieveServiceContent '
    'xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>'
    "</RetrieveServiceContent></soapenv:Body></soapenv:Envelope>"
)


def test_a_first_call_opens_a_session_as_on_a_real_host(host: SimHost) -> None:
    """hostd answers a call without a cookie with a new session's cookie (vcsim alone sets
    one at Login only); the simulator does as hostd, so a login sent beside the first call,
    whose answer may replace the logged-in cookie, fails here as it would on a host."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", host.port, context=ssl._create_unverified_context()
    )
    try:
        connection.request("POST", "/sdk", _FIRST_CALL, {"Content-Type": "text/xml"})
        answer = connection.getresponse()
        assert answer.status == 200
        assert answer.getheader("Set-Cookie", "").startswith("vmware_soap_session=")
    finally:
        connection.close()


def test_unreachable_address() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Endpoint("esx-9", f"127.0.0.1:{port}", "root", "pw", insecure=True)
    with pytest.raises(HostUnreachable, match=f"cannot reach 127.0.0.1:{port}"):
        open_session(dead)


def test_a_host_that_stops_answering_mid_session_is_an_error_not_a_hang(
    host: SimHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call is bounded (the session's socket timeout): a call made inside a locked
    step must not hold the platform lock for ever."""
    monkeypatch.setattr("provider.esxi.session._CALL_TIMEOUT", 1.0)
    s = open_session(endpoint(host))
    os.kill(host.pid, signal.SIGSTOP)  # the process lives, its socket stays open, no answer
    try:
        started = time.monotonic()
        with pytest.raises(HostUnreachable):
            read_inventory(s)
        assert time.monotonic() - started < 10
    finally:
        os.kill(host.pid, signal.SIGCONT)
    s.close()


def test_pools_are_created_found_and_destroyed(host: SimHost, session: HostSession) -> None:
    inventory = read_inventory(session)
    moid = create_pool(session, inventory.root_pool, "adapter-test")
    with pytest.raises(NameTaken, match="'adapter-test' is already in use"):
        create_pool(session, inventory.root_pool, "adapter-test")

    inventory = read_inventory(session)
    found = inventory.child_named("adapter-test")
    assert found is not None and found.moid == moid and found.vms == ()
    with probe(host) as p:
        assert "adapter-test" in p.pool_names()

    destroy_pool(session, moid)
    assert read_inventory(session).child_named("adapter-test") is None


def test_inventory_lists_vms_of_a_pool(host: SimHost, session: HostSession) -> None:
    with probe(host) as p:
        pool = p.create_pool("with-vm")
        vm = p.create_vm(pool, "vm-1")
    inventory = read_inventory(session)
    assert inventory.child_named("with-vm").vms == (vm._moId,)  # type: ignore[union-attr]


def test_platform_does_no_host_work_after_stop(host: SimHost) -> None:
    platform = Platform([endpoint(host)])
    platform.stop_requested.set()
    result = platform.on_hosts(["esx-1"], lambda session: "worked")
    assert result["esx-1"].diagnostic.summary == "Stopped before work on esx-1"  # type: ignore[union-attr]


def test_inventory_reads_vm_marks_and_sizes(host: SimHost, session: HostSession) -> None:
    with probe(host) as p:
        pool = p.create_pool("sized")
        vm = p.create_vm(pool, "vm-2", cpus=2, memory_mb=512, disk_gb=1, marks={"tenant": "a"})
    info = read_inventory(session).vms[vm._moId]
    assert (info.name, info.vcpu, info.memory_mb, info.disk_kb) == ("vm-2", 2, 512, 1024 * 1024)
    assert info.marks == {"tenant": "a"} and info.pool == pool._moId


def test_inventory_reads_nics_disks_port_groups_datastores_and_mode(
    host: SimHost, session: HostSession
) -> None:
    with probe(host) as p:
        vm = p.create_vm(p.create_pool("devices"), "vm-3", disk_gb=1, network="VM Network")
    inventory = read_inventory(session)
    info = inventory.vms[vm._moId]
    (disk,) = info.disks
    assert disk.file.endswith("vm-3.vmdk") and disk.capacity_kb == 1024 * 1024
    assert inventory.datastores[disk.datastore].accessible  # type: ignore[index]
    assert "VM Network" in inventory.networks and inventory.maintenance is False
    assert [(n.network, n.connected, n.start_connected) for n in info.nics] == [
        ("VM Network", True, True)
    ]
    assert info.nics[0].mac.count(":") == 5


def test_make_directory_with_parents_accepts_an_existing_folder() -> None:
    """Real ESXi raises FileAlreadyExists even with createParentDirectories (the simulator
    does not), so this one case uses a stand-in file manager."""
    from types import SimpleNamespace

    from pyVmomi import vim

    from provider.esxi.datastore import DatastoreFiles
    from provider.esxi.errors import AlreadyExists

    class ExistingFolders:
        def MakeDirectory(self, name: str, datacenter: object, createParentDirectories: bool):
            raise vim.fault.FileAlreadyExists(file=name)

    content = SimpleNamespace(
        rootFolder=SimpleNamespace(childEntity=[SimpleNamespace(name="ha-datacenter")]),
        fileManager=ExistingFolders(),
    )
    files = DatastoreFiles(SimpleNamespace(name="esx-1", content=content), "LocalDS_0")  # type: ignore[arg-type]
    files.make_directory("photon-platform", parents=True)
    with pytest.raises(AlreadyExists, match=r"\[LocalDS_0\] photon-platform/lock already exists"):
        files.make_directory("photon-platform/lock")


def test_unexpected_errors_on_one_host_are_kept_per_host(host: SimHost) -> None:
    platform = Platform([endpoint(host)])

    def broken(session: HostSession) -> None:
        raise KeyError("surprise")

    result = platform.on_hosts(["esx-1"], broken)["esx-1"]
    assert result.diagnostic.summary == "Internal error in the photon provider on esx-1"  # type: ignore[union-attr]
    platform.close()


def test_vms_are_made_from_a_base_disk_together_and_destroyed(
    host: SimHost, session: HostSession
) -> None:
    from provider.esxi.vms import VmSpec, create_vms, destroy_vms

    with probe(host) as p:
        p.create_base_disk("images/base.vmdk")
        pool = p.create_pool("nodes")._moId

    def spec(name: str, image: str = "images/base.vmdk") -> VmSpec:
        marks = {"photon.node": name, "guestinfo.userdata": "#cloud-config\n{}"}
        return VmSpec(name, pool, "LocalDS_0", image, 2, 256, 3, "VM Network", marks)

    created = create_vms(session, [spec("n1"), spec("n2"), spec("n3", "images/missing.vmdk")])
    assert created["n1"].error is None and created["n2"].error is None
    assert created["n3"].moid is None and "does not exist" in str(created["n3"].error)
    with probe(host) as p:
        vms = p.vms()
        assert set(vms) >= {"n1", "n2"} and "n3" not in vms
        n1 = vms["n1"]
        assert n1._moId == created["n1"].moid
        assert n1.runtime.powerState == "poweredOn" and n1.config.hardware.numCPU == 2
        assert p.extra_config(n1)["photon.node"] == "n1"
        disks = [d for d in n1.config.hardware.device if type(d).__name__.endswith("VirtualDisk")]
        assert disks[0].capacityInKB == 3 * 1024 * 1024  # grown to the flavor

    gone = destroy_vms(session, [created["n1"].moid, created["n2"].moid])  # type: ignore[list-item]
    assert set(gone.values()) == {None}
    with probe(host) as p:
        assert not {"n1", "n2"} & set(p.vms())
    assert destroy_vms(session, [created["n1"].moid])[created["n1"].moid] is None  # type: ignore[index]
