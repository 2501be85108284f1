"""The kept inventory of one provider process against a simulated host: every read after a
change, by the provider or anyone else, equals a fresh full read, and costs one call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider.esxi.inventory import Inventory, read_inventory
from provider.esxi.pools import create_pool, set_memory_limit
from provider.photon.platform import Platform
from tests.support.probe import Probe, probe
from tests.support.simulator import SimHost, Simulator, endpoint


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with Simulator(1) as sim:
        yield sim.hosts[0]


@pytest.fixture
def platform(host: SimHost) -> Iterator[Platform]:
    platform = Platform([endpoint(host)])
    yield platform
    platform.close()


@pytest.fixture
def admin(host: SimHost) -> Iterator[Probe]:
    with probe(host) as p:
        yield p


def read(platform: Platform, delta_only: bool = True) -> Inventory:
    """One read through the platform, checked against a full read of the host."""
    before = platform.esxi_calls()
    inventory = platform.inventories(["esx-1"])["esx-1"]
    assert isinstance(inventory, Inventory)
    assert not delta_only or platform.esxi_calls() - before == 1
    fresh = read_inventory(platform.session("esx-1"))
    assert inventory.vms == fresh.vms
    assert inventory.networks == fresh.networks
    assert inventory.maintenance == fresh.maintenance
    assert {m: (p.name, p.parent, sorted(p.vms)) for m, p in inventory.pools.items()} == {
        m: (p.name, p.parent, sorted(p.vms)) for m, p in fresh.pools.items()
    }
    return inventory


def test_a_vm_deleted_between_two_reads_is_gone_from_the_second(
    platform: Platform, admin: Probe
) -> None:
    platform.inventories(["esx-1"])  # the whole inventory, taken once
    pool = admin.create_pool("live-a")
    vm = admin.create_vm(pool, "live-a-1", disk_gb=1, network="VM Network", marks={"tenant": "a"})
    assert read(platform).vms[vm._moId].marks == {"tenant": "a"}
    admin.disconnect_nic(vm._moId)
    assert not read(platform).vms[vm._moId].nics[0].connected
    admin.wait(vm.PowerOnVM_Task())
    assert read(platform).vms[vm._moId].power_state == "poweredOn"
    admin.destroy_vm(vm._moId)
    # vcsim 0.24 drops the connection when a VM is powered off and destroyed within one of
    # its 250 ms update rounds; the platform then rebuilds the filter (a full read).
    assert vm._moId not in read(platform, delta_only=False).vms


def test_the_providers_own_writes_are_in_the_next_read(platform: Platform) -> None:
    session = platform.session("esx-1")
    root = platform.inventories(["esx-1"])["esx-1"].root_pool  # type: ignore[union-attr]
    moid = create_pool(session, root, "live-b", 1024)
    assert read(platform).pools[moid].name == "live-b"
    set_memory_limit(session, moid, 2048)
    platform.forget_inventory("esx-1")  # as quotas do: vcsim does not report this change
    assert read(platform, delta_only=False).pools[moid].memory_limit_mb == 2048


def test_concurrent_reads_share_one_call(platform: Platform) -> None:
    platform.inventories(["esx-1"])
    before = platform.esxi_calls()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: platform.inventories(["esx-1"]), range(8)))
    assert platform.esxi_calls() - before < 8


def test_what_a_guest_says_and_shows_is_in_the_next_read(platform: Platform, admin: Probe) -> None:
    """A node's report (a guestinfo variable its guest sets, again and again) and its Tools
    heartbeat come with the one delta call: the last value of the variable counts."""
    platform.inventories(["esx-1"])
    pool = admin.create_pool("live-guest")
    marks = {"tenant": "g", "cluster": "c", "node": "worker-1", "reports": "true"}  # a node VM
    vm = admin.create_vm(pool, "live-guest-1", disk_gb=1, network="VM Network", marks=marks)
    admin.wait(vm.PowerOnVM_Task())
    deadline = time.monotonic() + 10
    while True:  # the guest comes up: Tools green, then its report (the host plays it)
        up = platform.inventories(["esx-1"])["esx-1"].vms[vm._moId]  # type: ignore[union-attr]
        if up.heartbeat == "green" and up.guest:
            break
        assert time.monotonic() < deadline, "the guest never came up"
        time.sleep(0.1)
    for phase in ("booting", "failing"):
        admin.set_extra_config(vm._moId, **{"guestinfo.photon.status": f'{{"phase":"{phase}"}}'})
        seen = read(platform).vms[vm._moId]
        assert seen.guest == {"status": f'{{"phase":"{phase}"}}'}
    assert seen.tools_running and seen.boot_time is not None
    assert seen.marks == marks  # guestinfo is not a mark
    admin.set_extra_config(vm._moId, **{"SET.guestHeartbeatStatus": "red"})
    assert read(platform).vms[vm._moId].heartbeat == "red"
