"""What health must remember between runs, kept in the platform records per cluster.

- When each unhealthy node was first seen so: the grace period counts from that moment.
- The last reset of each node's VM (when, and the boot id its report had then): a reset is
  tried once, a report from before it no longer counts, and a node still unhealthy
  ``startup_timeout`` after it is replaced.
- The boot in which each node's VMware Tools heartbeat was seen green: a gray heartbeat is
  judged only after green (a VM whose Tools never ran is never judged on it).
- When each booting node's current boot was first seen booting: its startup timeout counts
  from then, by the provider's clock (a host's clock may differ, and a reboot inside the guest
  keeps the VM's power-on time).

It must count under a schedule that only plans (a CI job, the healer): Terraform saves a
resource's private state only on apply, so this lives next to the cluster's record instead,
as ``photon-platform/health/<tenant>.<cluster>.json``. Refresh writes it when it changes
(and removes it when nothing is left to remember), so a steady cluster costs one read per
refresh; apply adds a reset when it makes one, and where the nodes it made run their Tools.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..records import HEALTH as KIND
from .guest import Reset
from .health import BOOTING, HEALTHY, NEVER_READY, READY

if TYPE_CHECKING:
    from ..records import RecordStore

__all__ = [
    "HealthMemory",
    "NodeSeen",
    "forget",
    "recall",
    "remember",
    "remember_green",
    "remember_resets",
]


@dataclass(frozen=True)
class NodeSeen:
    """What refresh saw of one node: its status, the VM and boot whose Tools heartbeat is
    green now (if it is), and the key of its current boot (``guest.boot_key``)."""

    status: str
    green: tuple[str, str] | None = None
    boot: str = ""


@dataclass(frozen=True)
class HealthMemory:
    unhealthy_since: Mapping[str, datetime.datetime] = field(default_factory=dict)
    resets: Mapping[str, Reset] = field(default_factory=dict)
    green: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # (vm_id, boot)
    booting: Mapping[str, tuple[str, datetime.datetime]] = field(default_factory=dict)

    def booting_since(self, node: str, boot: str) -> datetime.datetime | None:
        """When this boot of the node was first seen booting (None: not seen yet)."""
        key, since = self.booting.get(node, ("", None))
        return since if key == boot else None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if self.unhealthy_since:
            record["unhealthy_since"] = {n: t.isoformat() for n, t in self.unhealthy_since.items()}
        if self.resets:
            record["resets"] = {
                n: {"vm_id": r.vm_id, "at": r.at.isoformat(), "boot": r.boot}
                for n, r in self.resets.items()
            }
        if self.green:
            record["tools_green"] = {n: list(v) for n, v in self.green.items()}
        if self.booting:
            record["booting"] = {n: [k, t.isoformat()] for n, (k, t) in self.booting.items()}
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> HealthMemory:
        def table(name: str) -> Mapping[str, Any]:
            value = record.get(name)
            return value if isinstance(value, dict) else {}

        parse = datetime.datetime.fromisoformat
        return cls(
            unhealthy_since={n: parse(t) for n, t in table("unhealthy_since").items()},
            resets={
                n: Reset(r["vm_id"], parse(r["at"]), r.get("boot", ""))
                for n, r in table("resets").items()
            },
            green={n: (v[0], v[1]) for n, v in table("tools_green").items()},
            booting={n: (v[0], parse(v[1])) for n, v in table("booting").items()},
        )


def _key(tenant: str, cluster: str) -> str:
    return f"{tenant}.{cluster}"


def recall(records: RecordStore, tenant: str, cluster: str) -> HealthMemory:
    return HealthMemory.from_record(records.get(KIND, _key(tenant, cluster)) or {})


def remember(
    records: RecordStore,
    tenant: str,
    cluster: str,
    stored: HealthMemory,
    seen: Mapping[str, NodeSeen],
    now: datetime.datetime,
) -> HealthMemory:
    """Keep the first-seen time of each unhealthy node and of each booting node's boot, the
    resets of nodes not ready yet, and where Tools were seen green; write only on a change."""
    memory = HealthMemory(
        unhealthy_since={
            n: stored.unhealthy_since.get(n, now)
            for n, s in seen.items()
            if s.status not in HEALTHY
        },
        resets={n: r for n, r in stored.resets.items() if n in seen and seen[n].status != READY},
        green={
            **{n: v for n, v in stored.green.items() if n in seen},
            **{n: s.green for n, s in seen.items() if s.green is not None},
        },
        booting={
            n: (s.boot, stored.booting_since(n, s.boot) or now)
            for n, s in seen.items()
            if s.status in (BOOTING, NEVER_READY)  # the same boot, timed out: still timed
        },
    )
    if memory != stored:
        _write(records, tenant, cluster, memory)
    return memory


def remember_resets(
    records: RecordStore, tenant: str, cluster: str, resets: Mapping[str, Reset]
) -> None:
    """Add the resets apply just made (under the platform lock: refresh writes here too)."""
    _add(records, tenant, cluster, "resets", resets)


def remember_green(
    records: RecordStore, tenant: str, cluster: str, green: Mapping[str, tuple[str, str]]
) -> None:
    """Add where nodes' Tools were seen green (apply, once the nodes it made are up)."""
    _add(records, tenant, cluster, "green", green)


def _add(
    records: RecordStore, tenant: str, cluster: str, table: str, entries: Mapping[str, Any]
) -> None:
    """Entries added to one table of the stored memory; written only if that changes it."""
    stored = recall(records, tenant, cluster)
    memory = dataclasses.replace(stored, **{table: {**getattr(stored, table), **entries}})
    if memory != stored:
        _write(records, tenant, cluster, memory)


def _write(records: RecordStore, tenant: str, cluster: str, memory: HealthMemory) -> None:
    record = memory.to_record()
    if record:
        records.put(KIND, _key(tenant, cluster), record)
    else:
        records.remove(KIND, _key(tenant, cluster))


def forget(records: RecordStore, tenant: str, cluster: str) -> None:
    records.remove(KIND, _key(tenant, cluster))
