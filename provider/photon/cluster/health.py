"""Which unhealthy nodes a plan restores: pure, from the refreshed statuses and the policy.

- A lost node (VM gone, not ours any more, unusable, or its host unreachable), a node whose
  system disk is lost (its state is gone with it), and a node whose host no longer has the
  cluster's port group are restored at once: a new VM, on a host that can take it.
- A powered-off node is only reported until it has been seen so for ``grace_period`` (a node
  that is rebooting must not be replaced); after that it is restored. With ``power_on`` it is
  powered on while within the grace period.
- A node whose NIC is disconnected, removed or on another port group is reported for
  ``grace_period`` too (a NIC may be reconnecting), then repaired in place: same VM, its NIC
  back on the cluster's port group, connected, with its MAC address.
- A node powered off on a host in maintenance mode (``host_maintenance``: an admin services
  the host on purpose) waits like a powered-off node and is restored, on another host, once
  the grace period has passed; it is never powered on there (the host would refuse).
- A node whose guest is hung (``guest_hung``) or that reports it is not ready
  (``not_ready``) is reported for ``grace_period``, then reset: the same VM, a new boot, as
  vSphere HA's VM monitoring does. If it is still unhealthy ``startup_timeout`` after that
  reset, it is restored. A node that never reported ready within ``startup_timeout`` of its
  power-on (``never_ready``) is restored at once; a ``booting`` one is not unhealthy.
- When more nodes are unhealthy than ``max_unhealthy`` allows, nothing is restored: mass loss
  usually means a partition or a host outage, not dead nodes, and replacing half a cluster
  would make things worse. The plan says so in a warning.
- The control plane keeps etcd's rules (``judge_control_plane``): a member restored while
  fewer than a quorum of its peers run can never join, so the plan refuses it; a lone
  member (one stacked master, or one etcd VM) restored starts an empty cluster, so it is
  refused unless the policy opts into that rebuild.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ...bridge.notation import parse_count_or_percentage

__all__ = [
    "BOOTING",
    "DISK_LOST",
    "GUEST_HUNG",
    "HEALTHY",
    "HOST_MAINTENANCE",
    "LOST",
    "NETWORK_LOST",
    "NEVER_READY",
    "NOT_READY",
    "PORT_GROUP_LOST",
    "POWERED_OFF",
    "READY",
    "ControlPlaneVerdict",
    "HealthPlan",
    "HealthPolicy",
    "judge_control_plane",
    "parse_max_unhealthy",
    "plan_health",
]

READY, POWERED_OFF, LOST = "ready", "powered_off", "lost"
NETWORK_LOST, PORT_GROUP_LOST, DISK_LOST = "network_lost", "port_group_lost", "disk_lost"
HOST_MAINTENANCE = "host_maintenance"
# What the guest says or shows (guest.py): booting is not unhealthy, the others are.
BOOTING, NEVER_READY, NOT_READY, GUEST_HUNG = "booting", "never_ready", "not_ready", "guest_hung"
HEALTHY = frozenset({READY, BOOTING})
# No grace: nothing to wait for (a node that never came up had its startup timeout).
REPLACED_AT_ONCE = frozenset({LOST, DISK_LOST, PORT_GROUP_LOST, NEVER_READY})
RESET_FIRST = frozenset({NOT_READY, GUEST_HUNG})  # the same VM reset first, as HA does


@dataclass(frozen=True)
class HealthPolicy:
    enabled: bool = True
    grace_period: datetime.timedelta = datetime.timedelta(minutes=5)
    max_unhealthy: str = "50%"
    power_on: bool = False
    rebuild_lone_control_plane: bool = False
    grace_text: str = "5m"  # grace_period as the user wrote it, for messages
    startup_timeout: datetime.timedelta = datetime.timedelta(minutes=10)
    startup_text: str = "10m"


@dataclass
class HealthPlan:
    restore: list[str] = field(default_factory=list)  # new VM, same name and role
    power_on: list[str] = field(default_factory=list)
    repair: list[str] = field(default_factory=list)  # same VM, its NIC put right
    reset: list[str] = field(default_factory=list)  # same VM, a new boot
    waiting: list[str] = field(default_factory=list)  # within the grace period
    held_back: str | None = None  # why nothing is restored, for a warning


def parse_max_unhealthy(text: str, total: int) -> int:
    """``"2"`` or ``"30%"`` (of the cluster's nodes, rounded down) -> a count. ValueError."""
    number, percent = parse_count_or_percentage(text)
    return math.floor(total * number / 100) if percent else int(number)


def plan_health(
    statuses: Mapping[str, str],
    unhealthy_since: Mapping[str, datetime.datetime],
    now: datetime.datetime,
    policy: HealthPolicy,
    resets: Mapping[str, datetime.datetime] | None = None,
) -> HealthPlan:
    """``resets``: when each node's current VM was last reset by us, for the step from a
    reset that did not help to a replacement."""
    plan = HealthPlan()
    resets = resets or {}
    unhealthy = sorted(n for n, s in statuses.items() if s not in HEALTHY)
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
        status = statuses[node]
        graced = now - unhealthy_since.get(node, now) >= policy.grace_period
        if status in REPLACED_AT_ONCE or (status in (POWERED_OFF, HOST_MAINTENANCE) and graced):
            plan.restore.append(node)
        elif status == NETWORK_LOST and graced:
            plan.repair.append(node)
        elif status in RESET_FIRST and graced:
            _reset_or_replace(plan, node, resets.get(node), now, policy)
        elif status == POWERED_OFF and policy.power_on:
            plan.power_on.append(node)
        else:
            plan.waiting.append(node)
    return plan


def _reset_or_replace(
    plan: HealthPlan,
    node: str,
    reset_at: datetime.datetime | None,
    now: datetime.datetime,
    policy: HealthPolicy,
) -> None:
    """Reset first (at most once per VM until it is ready again); replaced when still
    unhealthy ``startup_timeout`` after that reset."""
    if reset_at is None:
        plan.reset.append(node)
    elif now - reset_at >= policy.startup_timeout:
        plan.restore.append(node)
    else:
        plan.waiting.append(node)


@dataclass(frozen=True)
class ControlPlaneVerdict:
    refusal: str | None = None  # no restore of the control plane can work: a plan error
    rebuild: str | None = None  # a lone member is rebuilt empty: a plan warning


def judge_control_plane(
    roles: Mapping[str, str],
    statuses: Mapping[str, str],
    plan: HealthPlan,
    policy: HealthPolicy,
) -> ControlPlaneVerdict:
    """Whether the restorations in ``plan`` can rejoin the cluster's etcd.

    The quorum group is the etcd members (external etcd) or else the masters (stacked etcd).
    A restored member joins through ``member add``, which needs a quorum of the members that
    are there now; members booting, being powered on, repaired in place or reset have their
    data and count."""
    role = "etcd" if "etcd" in roles.values() else "master"
    group = sorted(n for n, r in roles.items() if r == role)
    restored = [n for n in group if n in plan.restore]
    if not restored:
        return ControlPlaneVerdict()
    kind = "etcd member" if role == "etcd" else "master (with its stacked etcd member)"
    if len(group) == 1:
        what = (
            f"The cluster's only {kind}, {group[0]}, is lost; a new one starts an empty "
            "etcd, so every Kubernetes object of the cluster is gone for good"
        )
        if policy.rebuild_lone_control_plane:
            return ControlPlaneVerdict(rebuild=f"{what} (health.rebuild_lone_control_plane).")
        return ControlPlaneVerdict(
            refusal=f"{what}. Restore it from an etcd snapshot (see the drift guide, 'When "
            "etcd quorum is lost'), or set health { rebuild_lone_control_plane = true } to "
            "rebuild it empty."
        )
    back = set(plan.power_on) | set(plan.repair) | set(plan.reset)
    standing = [n for n in group if statuses[n] in HEALTHY or n in back]
    quorum = len(group) // 2 + 1
    if len(standing) >= quorum:
        return ControlPlaneVerdict()
    down = [n for n in group if n not in standing]
    return ControlPlaneVerdict(
        refusal=f"etcd has lost quorum: {len(down)} of {len(group)} {role} nodes are down "
        f"({', '.join(down)}) and a restored member can join only while {quorum} run, so no "
        "VM is made. Bring back the members that still have their data (power them on, or "
        "the hosts they are on); if they are gone, restore etcd from a snapshot (see the "
        "drift guide, 'When etcd quorum is lost')."
    )
