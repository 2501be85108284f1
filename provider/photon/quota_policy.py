"""Quota arithmetic: limits, live usage, and whether a request fits. Pure, so it unit-tests fast.

Photon Platform's names for the four kinds of resource a tenant consumes are kept in the
messages (``vm``, ``vm.cpu``, ``vm.memory``, ``ephemeral-disk.capacity``), so an admin who
knew Photon recognises them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..esxi.inventory import Inventory, VmInfo

__all__ = [
    "KINDS",
    "Amounts",
    "Decision",
    "Excess",
    "below_usage",
    "decide",
    "limits_of",
    "pool_memory_limit_mb",
    "tenant_usage",
    "usage_of",
]


@dataclass(frozen=True)
class Amounts:
    """An amount of each kind: a request, a usage, or limits (None = unlimited)."""

    vm_count: float | None = 0
    vcpu: float | None = 0
    memory_gb: float | None = 0
    disk_gb: float | None = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(**{k: (getattr(self, k) or 0) + (getattr(other, k) or 0) for k in KINDS})

    def as_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in KINDS}

    @classmethod
    def from_mapping(cls, values: Mapping[str, float | None]) -> Amounts:
        return cls(**{k: values.get(k) for k in KINDS})


KINDS = tuple(f.name for f in fields(Amounts))
PHOTON_NAMES = {
    "vm_count": "vm",
    "vcpu": "vm.cpu",
    "memory_gb": "vm.memory",
    "disk_gb": "ephemeral-disk.capacity",
}
UNITS = {"vm_count": "", "vcpu": "", "memory_gb": " GB", "disk_gb": " GB"}


@dataclass(frozen=True)
class Excess:
    kind: str
    limit: float
    usage: float
    request: float

    def __str__(self) -> str:
        unit = UNITS[self.kind]
        return (
            f"{self.kind} ({PHOTON_NAMES[self.kind]}): limit {_fmt(self.limit)}{unit}, "
            f"in use {_fmt(self.usage)}{unit}, requested {_fmt(self.request)}{unit}"
        )


@dataclass(frozen=True)
class Decision:
    excesses: tuple[Excess, ...]

    @property
    def allowed(self) -> bool:
        return not self.excesses


def decide(limits: Amounts, usage: Amounts, request: Amounts) -> Decision:
    """Refuse every kind whose usage plus the request would pass its limit."""
    excesses = []
    for kind in KINDS:
        limit = getattr(limits, kind)
        used, asked = getattr(usage, kind) or 0, getattr(request, kind) or 0
        if limit is not None and asked > 0 and used + asked > limit:
            excesses.append(Excess(kind, limit, used, asked))
    return Decision(tuple(excesses))


def below_usage(limits: Amounts, usage: Amounts) -> list[Excess]:
    """Limits set lower than what the tenant already uses (the request is the new limit)."""
    return [
        Excess(k, getattr(limits, k), getattr(usage, k) or 0, getattr(limits, k))
        for k in KINDS
        if getattr(limits, k) is not None and (getattr(usage, k) or 0) > getattr(limits, k)
    ]


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def pool_memory_limit_mb(memory_gb: float | None) -> int:
    """The hard memory limit of a tenant's pool for its quota's memory_gb (-1: none)."""
    return -1 if memory_gb is None else int(memory_gb * 1024)


def usage_of(vms: Iterable[VmInfo]) -> Amounts:
    """What a set of VMs consumes, in quota units (GB for memory and disk)."""
    vms = list(vms)
    return Amounts(
        vm_count=len(vms),
        vcpu=sum(vm.vcpu for vm in vms),
        memory_gb=sum(vm.memory_mb for vm in vms) / 1024,
        disk_gb=sum(vm.disk_kb for vm in vms) / (1024 * 1024),
    )


def tenant_usage(inventories: Mapping[str, Inventory], tenant: str) -> Amounts:
    """What the VMs marked as the tenant's use, on the hosts of ``inventories``."""
    return usage_of(
        vm
        for inventory in inventories.values()
        for vm in inventory.vms.values()
        if vm.marks.get("tenant") == tenant
    )


def limits_of(record: Mapping[str, object] | None) -> Amounts:
    """The limits a quota record holds; no record: unlimited."""
    if record is None:
        return Amounts(None, None, None, None)
    return Amounts.from_mapping(record.get("limits") or {})  # type: ignore[arg-type]
