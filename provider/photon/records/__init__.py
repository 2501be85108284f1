"""The platform's own records (tenants, quotas, clusters): one store interface, two stores.

Terraform state belongs to one configuration; the platform's limits must be visible to every
configuration that plans against the same hosts. So each record is also kept in a store that
all of them share: a folder on a datastore of one host (``records/datastore.py``, the default)
or PostgreSQL (``records/postgres.py``, chosen by the provider's ``records`` block). The rest of the
domain sees only ``RecordStore``.

A record is a JSON object with ``format``, ``kind``, ``name`` and ``updated`` beside its body;
both stores hand back the same shape, so records move between them unchanged.
"""

from __future__ import annotations

import datetime
import decimal
import json
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = [
    "CLUSTERS",
    "FORMAT",
    "HEALTH",
    "KINDS",
    "QUOTAS",
    "TENANTS",
    "Record",
    "RecordStore",
    "encode",
    "shaped",
]

FORMAT = 1
# Every kind of record the domain keeps (a folder of the datastore store, a value of the
# ``kind`` column in PostgreSQL); the resources name theirs from here.
TENANTS, QUOTAS, CLUSTERS, HEALTH = KINDS = ("tenants", "quotas", "clusters", "health")
Record = dict[str, Any]


class RecordStore(Protocol):
    """Where the platform's records live, and the lock that keeps concurrent runs apart."""

    def get(self, kind: str, name: str) -> Record | None:
        """The record, or None; one that cannot be read is a diagnostic saying how to repair."""

    def put(self, kind: str, name: str, body: Record, *, updated: str | None = None) -> None:
        """Write a record (``updated``: keep that time, when records are moved between stores)."""

    def remove(self, kind: str, name: str) -> None: ...

    def names(self, kind: str) -> list[str]:
        """Every record name of ``kind``, sorted."""

    def locked(self, purpose: str, key: str | None = None) -> AbstractContextManager[None]:
        """Hold the platform lock: checks and writes inside see no concurrent writer. With a
        ``key`` (what the section alone reads and writes, e.g. one tenant), sections of this
        process with other keys may run beside it (``records/lease.py``)."""

    def confirm_lock(self) -> None:
        """Raise unless this run still holds the platform lock (fencing, before work that
        must not happen twice, such as creating VMs a quota admitted)."""

    def close(self) -> None: ...


def shaped(kind: str, name: str, body: Record, updated: str | None = None) -> Record:
    """A record as both stores hand it back."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    meta = {"format": FORMAT, "kind": kind.rstrip("s"), "name": name, "updated": updated or now}
    return {**body, **meta}


def body_of(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in ("format", "kind", "name", "updated")}


def encode(record: Record) -> str:
    return json.dumps(record, indent=2, sort_keys=True, default=_number)


def _number(value: object) -> int | float:
    """Terraform numbers arrive as Decimal; records hold plain JSON numbers."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} cannot go into a record")
