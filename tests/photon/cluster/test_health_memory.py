"""What health remembers between runs (health_memory.py), in a real PostgreSQL record store:
first-seen times, resets and where Tools ran, kept and dropped as refresh and apply see nodes."""

from __future__ import annotations

import datetime

from provider.photon.cluster import health_memory
from provider.photon.cluster.guest import Reset
from provider.photon.cluster.health_memory import HealthMemory, NodeSeen
from provider.photon.records.postgres import PostgresRecords

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC)
EARLIER = NOW - datetime.timedelta(minutes=3)
GREEN = ("vm-11", "2026-12-05T11:00:00+00:00")


class CountingStore(PostgresRecords):
    """The real store, counting writes: a steady cluster must cost none."""

    writes = 0

    def put(self, *args: object, **kwargs: object) -> None:
        self.writes += 1
        super().put(*args, **kwargs)  # type: ignore[arg-type]

    def remove(self, *args: object) -> None:
        self.writes += 1
        super().remove(*args)  # type: ignore[arg-type]


def test_what_is_kept_and_what_is_dropped(records_url: str) -> None:
    store = CountingStore(records_url)

    def recall() -> HealthMemory:
        return health_memory.recall(store, "t", "c")

    assert recall() == HealthMemory() and store.writes == 0

    seen = {
        "worker-1": NodeSeen("not_ready"),
        "worker-2": NodeSeen("ready", GREEN),
        "m": NodeSeen("booting", boot="b1|vm-9|t"),
    }
    first = health_memory.remember(store, "t", "c", recall(), seen, EARLIER)
    assert (
        recall()
        == first
        == HealthMemory(
            {"worker-1": EARLIER}, {}, {"worker-2": GREEN}, {"m": ("b1|vm-9|t", EARLIER)}
        )
    )
    with store.locked("test"):
        health_memory.remember_resets(store, "t", "c", {"worker-1": Reset("vm-10", NOW, "b1")})
    writes = store.writes
    again = health_memory.remember(store, "t", "c", recall(), seen, NOW)  # nothing new
    assert again.unhealthy_since == {"worker-1": EARLIER}  # the first time stays
    assert again.booting_since("m", "b1|vm-9|t") == EARLIER and store.writes == writes
    assert again.resets == {"worker-1": Reset("vm-10", NOW, "b1")}

    # Booting after its reset: the reset is kept; ready: dropped. Gray now: green is kept.
    # A new boot of m (rebooted in the guest) is timed from when it is first seen.
    booting = {
        **seen,
        "worker-1": NodeSeen("booting", boot="b2|vm-10|t"),
        "worker-2": NodeSeen("ready"),
        "m": NodeSeen("booting", boot="b2|vm-9|t"),
    }
    kept = health_memory.remember(store, "t", "c", recall(), booting, NOW)
    assert kept.resets and kept.unhealthy_since == {} and kept.green == {"worker-2": GREEN}
    assert (
        kept.booting_since("m", "b2|vm-9|t") == NOW and kept.booting_since("m", "b1|vm-9|t") is None
    )
    late = {**booting, "m": NodeSeen("never_ready", boot="b2|vm-9|t")}  # the same boot
    assert health_memory.remember(store, "t", "c", recall(), late, NOW).booting == kept.booting
    ready = {**booting, "worker-1": NodeSeen("ready"), "m": NodeSeen("ready")}
    health_memory.remember(store, "t", "c", recall(), ready, NOW)
    assert recall() == HealthMemory({}, {}, {"worker-2": GREEN})
    # A node no longer in the cluster is forgotten; nothing left: the record goes.
    health_memory.remember(store, "t", "c", recall(), {"m": NodeSeen("ready")}, NOW)
    assert store.get("health", "t.c") is None


def test_a_record_from_before_resets_reads_as_its_times_alone(records_url: str) -> None:
    store = PostgresRecords(records_url)
    store.put("health", "t.c", {"unhealthy_since": {"worker-1": EARLIER.isoformat()}})
    assert health_memory.recall(store, "t", "c") == HealthMemory({"worker-1": EARLIER})
