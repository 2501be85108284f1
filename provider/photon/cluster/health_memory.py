"""When each unhealthy node of a cluster was first seen so, kept in the platform records.

The grace period of a powered-off node counts from that moment, and it must count under a
schedule that only plans (a CI job, the healer): Terraform saves a resource's private state
only on apply, so the moment lives next to the cluster's record instead, as
``photon-platform/health/<tenant>.<cluster>.json``. Refresh writes it when the set of
unhealthy nodes changes (and removes it when all are healthy again); plan reads it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..records import HEALTH as KIND
from .health import READY

if TYPE_CHECKING:
    from ..records import RecordStore

__all__ = ["forget", "recall", "remember"]


def _key(tenant: str, cluster: str) -> str:
    return f"{tenant}.{cluster}"


def recall(records: RecordStore, tenant: str, cluster: str) -> dict[str, datetime.datetime]:
    record = records.get(KIND, _key(tenant, cluster)) or {}
    since = record.get("unhealthy_since")
    if not isinstance(since, dict):
        return {}
    return {n: datetime.datetime.fromisoformat(t) for n, t in since.items()}


def remember(
    records: RecordStore,
    tenant: str,
    cluster: str,
    statuses: Mapping[str, str],
    now: datetime.datetime,
) -> dict[str, datetime.datetime]:
    """Keep the first-seen time of each node that is unhealthy now; drop the healthy ones.
    Writes only when that changes, so a steady cluster costs one read per refresh."""
    stored = recall(records, tenant, cluster)
    since = {n: stored.get(n, now) for n, status in statuses.items() if status != READY}
    if since != stored:
        if since:
            body = {n: t.isoformat() for n, t in since.items()}
            records.put(KIND, _key(tenant, cluster), {"unhealthy_since": body})
        else:
            records.remove(KIND, _key(tenant, cluster))
    return since


def forget(records: RecordStore, tenant: str, cluster: str) -> None:
    records.remove(KIND, _key(tenant, cluster))
