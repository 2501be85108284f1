"""Placement rules: spread, room, stability."""

from __future__ import annotations

from collections import Counter

import pytest

from provider.photon.cluster.placement import HostRoom, NodeDemand, PlacementError, place, skipped

HOSTS = [HostRoom("esx-1", 16), HostRoom("esx-2", 16), HostRoom("esx-3", 16)]


def nodes(role: str, count: int, memory: float = 2) -> list[NodeDemand]:
    return [NodeDemand(f"{role}-{i}", role, memory) for i in range(1, count + 1)]


def test_control_plane_members_go_to_distinct_hosts() -> None:
    where = place(nodes("etcd", 3) + nodes("master", 3) + nodes("worker", 5), HOSTS)
    assert len({where[f"etcd-{i}"] for i in (1, 2, 3)}) == 3
    assert len({where[f"master-{i}"] for i in (1, 2, 3)}) == 3
    workers = Counter(where[f"worker-{i}"] for i in range(1, 6))
    assert max(workers.values()) - min(workers.values()) <= 1


def test_more_members_than_hosts_share_as_evenly_as_possible() -> None:
    where = place(nodes("master", 3), HOSTS[:2])
    assert sorted(Counter(where.values()).values()) == [1, 2]


def test_a_host_without_room_is_skipped() -> None:
    hosts = [HostRoom("esx-1", 1), HostRoom("esx-2", 16)]
    where = place(nodes("worker", 3), hosts)
    assert set(where.values()) == {"esx-2"}


def test_no_room_anywhere_is_an_error_with_the_numbers() -> None:
    hosts = [HostRoom("esx-1", 4, 100), HostRoom("esx-2", 16, 30), HostRoom("esx-3", 64, 0, "x")]
    worker = NodeDemand("worker-1", "worker", 8, 44)
    with pytest.raises(PlacementError) as caught:
        place([worker], hosts)
    assert str(caught.value) == (
        "no host has room for worker-1 (8 GB of memory, 44 GB of datastore space); "
        "esx-1 has 4 GB of memory and 100 GB of datastore space free; "
        "esx-2 has 16 GB of memory and 30 GB of datastore space free; esx-3 is skipped (x)"
    )


def test_datastore_space_is_counted_as_nodes_are_placed() -> None:
    hosts = [HostRoom("esx-1", 64, 50), HostRoom("esx-2", 64, 25)]
    where = place([NodeDemand(f"worker-{i}", "worker", 2, 24) for i in (1, 2, 3)], hosts)
    assert Counter(where.values()) == {"esx-1": 2, "esx-2": 1}


def test_a_skipped_host_is_never_picked_and_is_named() -> None:
    hosts = [HostRoom("esx-1", 16, skip="in maintenance mode"), HostRoom("esx-2", 16)]
    assert set(place(nodes("master", 3), hosts).values()) == {"esx-2"}
    assert skipped(hosts) == {"esx-1": "in maintenance mode"}


def test_placed_nodes_count_for_spreading() -> None:
    placed = {"master-1": ("master", "esx-1"), "worker-1": ("worker", "esx-1")}
    where = place([NodeDemand("worker-2", "worker", 2)], HOSTS, placed)
    assert where["worker-2"] != "esx-1"
