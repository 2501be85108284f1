"""The kept inventory of one provider process against a simulated host: every read after a
change, by the provider or anyone else, equals a fresh full read, and costs one call."""

from __future__ import annotations

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
