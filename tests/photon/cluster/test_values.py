"""What a cluster's values say: a node's status from its VM's inventory, whether a restored
node has peers to join, and whether its secrets can still issue etcd certificates."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from provider.esxi.inventory import DatastoreInfo, DiskInfo, Inventory, NicInfo, VmInfo
from provider.photon.cluster.kubernetes.spec import Node
from provider.photon.cluster.values import has_etcd_ca_key, has_peers, node_status

READY = {"role": "etcd", "status": "ready"}


@pytest.mark.parametrize(
    ("node", "others", "joins"),
    [
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": READY}, True),
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": {**READY, "status": "lost"}}, False),
        (Node("etcd-1", "etcd", "10.0.0.11"), {"master-1": {**READY, "role": "master"}}, False),
        (Node("master-1", "master", "10.0.0.21"), {"etcd-1": READY}, False),
        (Node("master-2", "master", "10.0.0.22"), {"master-1": {**READY, "role": "master"}}, True),
        (Node("worker-1", "worker", None), {}, True),
        # A peer that runs but has not reported ready yet has its data: join it.
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": {**READY, "status": "booting"}}, True),
        (Node("etcd-1", "etcd", "10.0.0.11"), {"etcd-2": {**READY, "status": "not_ready"}}, False),
    ],
)
def test_a_restored_member_joins_only_a_running_peer_of_its_role(
    node: Node, others: dict, joins: bool
) -> None:
    """A lone etcd member or master restored starts its part anew ("new" etcd state, kubeadm
    init) instead of waiting forever for peers that are not there."""
    assert has_peers(node, others) is joins


@pytest.mark.parametrize(
    ("private", "can_issue"),
    [
        (b"", False),
        (json.dumps({"pki": {"etcd_ca": {"cert_pem": "C", "key_pem": ""}}}).encode(), False),
        (json.dumps({"pki": {"etcd_ca": {"cert_pem": "C", "key_pem": "K"}}}).encode(), True),
    ],
)
def test_etcd_certificates_need_the_etcd_ca_key(private: bytes, can_issue: bool) -> None:
    assert has_etcd_ca_key(private) is can_issue


VM_NAME = "t-c-worker-1"
DISK = f"[ds] {VM_NAME}/{VM_NAME}.vmdk"
NIC = NicInfo(4000, "00:0c:29:aa:bb:cc", "VM Network", True, True)


def inventory(networks=("VM Network",), accessible=True, **vm: object) -> Inventory:
    fields = {
        "moid": "vm-1", "name": VM_NAME, "pool": None,
        "marks": {"tenant": "t", "cluster": "c", "node": "worker-1"},
        "vcpu": 2, "memory_mb": 4096, "disk_kb": 0, "power_state": "poweredOn",
        "nics": (NIC,), "disks": (DiskInfo(2000, DISK, "ds-1", 1024),), **vm,
    }  # fmt: skip
    store = DatastoreInfo("ds-1", "ds", 10, 5, accessible)
    return Inventory(
        "esx-1", {}, "pool-0", {"vm-1": VmInfo(**fields)},  # type: ignore[arg-type]
        {n: f"net-{n}" for n in networks}, {"ds-1": store},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("found", "status", "why"),
    [
        (inventory(), "ready", ""),
        (inventory(power_state="poweredOff"), "powered_off", ""),
        (inventory(connection_state="inaccessible"), "lost", ""),
        (inventory(disks=()), "disk_lost", "its system disk is detached from the VM"),
        (inventory(accessible=False), "disk_lost", "datastore ds holding its disk is inaccessible"),
        (inventory(networks=()), "port_group_lost", "host esx-1 has no port group 'VM Network'"),
        # the port group gone: powering on would not help, so it ranks above powered_off
        (inventory(networks=(), power_state="poweredOff"), "port_group_lost",
         "host esx-1 has no port group 'VM Network'"),
        (inventory(nics=()), "network_lost", "its NIC is removed"),
        (inventory(nics=(replace(NIC, network="Other"),)), "network_lost",
         "its NIC is on port group 'Other'"),
        (inventory(nics=(replace(NIC, connected=False),)), "network_lost",
         "its NIC is disconnected"),
        (inventory(nics=(replace(NIC, start_connected=False),)), "network_lost",
         "its NIC is set not to connect at power-on"),
        # a powered-off VM's NIC is not connected on ESXi: that is no network loss
        (inventory(power_state="poweredOff", nics=(replace(NIC, connected=False),)),
         "powered_off", ""),
    ],
)  # fmt: skip
def test_what_refresh_finds_on_a_node_vm(found: Inventory, status: str, why: str) -> None:
    node = {"vm_id": "vm-1", "host": "esx-1"}
    result = node_status(found, node, "t", "c", "worker-1", "VM Network")
    assert (result.status, result.why) == (status, why)
    nics = found.vms["vm-1"].nics
    assert result.mac == (nics[0].mac if nics and status != "lost" else None)


def test_a_deleted_disk_file_is_a_lost_disk() -> None:
    node = {"vm_id": "vm-1", "host": "esx-1"}
    off = inventory(power_state="poweredOff")
    result = node_status(off, node, "t", "c", "worker-1", "VM Network", {DISK})
    assert (result.status, result.why) == ("disk_lost", f"its disk file {DISK} is deleted")
