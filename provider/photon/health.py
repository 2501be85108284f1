"""Which unhealthy nodes a plan restores: pure, from the refreshed statuses and the policy.

- A lost node (VM gone, not ours any more, unusable, or its host unreachable) is restored at
  once.
- A powered-off node is only reported until it has been seen so for ``grace_period`` (a node
  that is rebooting must not be replaced); after that it is restored. With ``power_on`` it is
  powered on while within the grace period.
- When more nodes are unhealthy than ``max_unhealthy`` allows, nothing is restored: mass loss
  usually means a partition or a host outage, not dead nodes, and replacing half a cluster
  would make things worse. The plan says so in a warning.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["HealthPlan", "HealthPolicy", "parse_max_unhealthy", "plan_health"]

READY, POWERED_OFF, LOST = "ready", "powered_off", "lost"


@dataclass(frozen=True)
class HealthPolicy:
    enabled: bool = True
    grace_period: datetime.timedelta = datetime.timedelta(minutes=5)
    max_unhealthy: str = "50%"
    power_on: bool = False


@dataclass
class HealthPlan:
    restore: list[str] = field(default_factory=list)  # new VM, same name and role
    power_on: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # powered off, within the grace period
    held_back: str | None = None  # why nothing is restored, for a warning


def parse_max_unhealthy(text: str, total: int) -> int:
    """``"2"`` or ``"30%"`` (of the cluster's nodes, rounded down) -> a count. ValueError."""
    text = text.strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        if not 0 <= percent <= 100:
            raise ValueError(f"{text!r} is not a percentage from 0% to 100%")
        return math.floor(total * percent / 100)
    count = int(text)
    if count < 0:
        raise ValueError(f"{text!r} is negative")
    return count


def plan_health(
    statuses: Mapping[str, str],
    unhealthy_since: Mapping[str, datetime.datetime],
    now: datetime.datetime,
    policy: HealthPolicy,
) -> HealthPlan:
    plan = HealthPlan()
    unhealthy = sorted(n for n, s in statuses.items() if s != READY)
    if not unhealthy or not policy.enabled:
        return plan
    limit = parse_max_unhealthy(policy.max_unhealthy, len(statuses))
    if len(unhealthy) > limit:
        plan.held_back = (
            f"{len(unhealthy)} of {len(statuses)} nodes are unhealthy "
            f"({', '.join(unhealthy)}), more than max_unhealthy ({policy.max_unhealthy}, "
            f"{limit} nodes) allows. That usually means a network partition or a host outage "
            "rather than dead nodes, so nothing is restored. Bring the hosts back, or raise "
            "max_unhealthy to restore anyway."
        )
        return plan
    for node in unhealthy:
        if statuses[node] == LOST or now - unhealthy_since.get(node, now) >= policy.grace_period:
            plan.restore.append(node)
        elif policy.power_on:
            plan.power_on.append(node)
        else:
            plan.waiting.append(node)
    return plan
