"""Which VMs an interrupted run left are adopted, and which are strays the plan removes."""

from __future__ import annotations

from typing import Any

from provider.esxi.inventory import Inventory, VmInfo
from provider.photon.cluster.leftovers import (
    LEFTOVER,
    Leftover,
    sort_leftovers,
    stray_key,
    unfinished,
)

WORKER = {"role": "worker", "host": "esx-1", "vm_id": "vm-1", "ip": "10.0.0.21", "mac": None}


def vm(name: str, node: str = "worker-1", host: str = "esx-2", running: bool = True) -> Leftover:
    return Leftover(host, f"vm-{name}", name, node, "worker", running)


def intent(*vms: Leftover, ip: str = "10.0.0.21") -> dict[str, Any]:
    return {
        "intent": {
            v.vm_name: {"node": v.node, "role": v.role, "ip": ip, "host": v.host, "datastore": "ds"}
            for v in vms
        }
    }


def test_a_replacement_made_for_a_lost_node_is_adopted_with_the_nodes_address() -> None:
    made = vm("c-worker-1-r5")
    found = sort_leftovers({"worker-1": WORKER}, lambda _: False, [made], intent(made))
    entry = {"role": "worker", "host": "esx-2", "vm_id": "vm-c-worker-1-r5", "ip": "10.0.0.21"}
    assert found.adopted == {"worker-1": {**entry, "mac": None, "status": ""}}
    assert found.strays == {}


def test_a_second_vm_for_a_node_that_has_its_vm_is_a_stray() -> None:
    made = vm("c-worker-1-r5")
    found = sort_leftovers({"worker-1": WORKER}, lambda _: True, [made], intent(made))
    assert found.adopted == {}
    assert found.strays[stray_key(made)]["status"] == LEFTOVER
    assert stray_key(made) == "worker-1@esx-2/vm-c-worker-1-r5"


def test_of_two_replacements_the_recorded_one_is_kept_else_the_newest() -> None:
    old, new = vm("c-worker-1-r5"), vm("c-worker-1-r9")
    found = sort_leftovers({"worker-1": WORKER}, lambda _: False, [old, new], intent(old, new))
    assert found.adopted["worker-1"]["vm_id"] == new.vm_id
    assert list(found.strays) == [stray_key(old)]
    recorded = {**intent(old, new), "nodes": {"worker-1": {**WORKER, "host": old.host,
                                                           "vm_id": old.vm_id}}}  # fmt: skip
    found = sort_leftovers({"worker-1": WORKER}, lambda _: False, [old, new], recorded)
    assert found.adopted["worker-1"]["vm_id"] == old.vm_id


def test_a_node_the_state_does_not_have_is_adopted_from_the_intent() -> None:
    made = vm("c-worker-4", node="worker-4")
    found = sort_leftovers(
        {"worker-1": WORKER}, lambda _: True, [made], intent(made, ip="10.0.0.24")
    )
    assert found.adopted["worker-4"]["ip"] == "10.0.0.24"


def test_unfinished_unrecorded_or_mismatched_vms_are_strays() -> None:
    off = vm("c-worker-4", node="worker-4", running=False)
    unknown = vm("hand-made", node="worker-5")
    elsewhere = vm("c-worker-6", node="worker-6")
    record = intent(off, elsewhere)
    record["intent"]["c-worker-6"]["host"] = "esx-3"  # meant for another host
    found = sort_leftovers({}, lambda _: True, [off, unknown, elsewhere], record)
    assert found.adopted == {}
    assert sorted(found.strays) == sorted(stray_key(v) for v in (off, unknown, elsewhere))
    assert sort_leftovers({}, lambda _: True, [vm("x", node="worker-2")], None).adopted == {}


def test_a_leftover_of_another_role_than_the_node_is_a_stray() -> None:
    made = Leftover("esx-2", "vm-9", "c-worker-1-r5", "worker-1", "master", True)
    record = {"intent": {made.vm_name: {"node": "worker-1", "role": "master", "host": "esx-2"}}}
    found = sort_leftovers({"worker-1": WORKER}, lambda _: False, [made], record)
    assert found.adopted == {} and stray_key(made) in found.strays


def test_unfinished_names_the_folders_of_intended_vms_that_do_not_exist() -> None:
    def inventory(host: str, *names: str) -> Inventory:
        vms = {f"vm-{n}": VmInfo(f"vm-{n}", n, None, {}, 1, 512, 0, "poweredOn") for n in names}
        return Inventory(host, {}, "pool", vms)

    wanted = {
        "c-worker-1": {"host": "esx-1", "datastore": "ds1"},
        "c-worker-2": {"host": "esx-1", "datastore": "ds1"},
        "c-worker-3": {"host": "esx-3", "datastore": "ds3"},  # host down: left for later
    }
    inventories = {"esx-1": inventory("esx-1", "c-worker-1")}
    assert unfinished(wanted, inventories) == {"esx-1": ["[ds1] c-worker-2"]}
