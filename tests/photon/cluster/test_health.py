"""The health policy: what a plan restores, powers on, or leaves alone."""

from __future__ import annotations

import datetime

import pytest

from provider.photon.cluster.health import (
    HealthPolicy,
    judge_control_plane,
    parse_max_unhealthy,
    plan_health,
)

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
AGO = {m: NOW - datetime.timedelta(minutes=m) for m in (1, 10)}
HEALTHY = {f"worker-{i}": "ready" for i in range(1, 9)}


def test_a_lost_node_is_restored_at_once() -> None:
    plan = plan_health({**HEALTHY, "worker-1": "lost"}, {"worker-1": NOW}, NOW, HealthPolicy())
    assert plan.restore == ["worker-1"] and plan.held_back is None


def test_a_powered_off_node_waits_for_its_grace_period() -> None:
    statuses = {**HEALTHY, "worker-1": "powered_off", "worker-2": "powered_off"}
    since = {"worker-1": AGO[1], "worker-2": AGO[10]}
    plan = plan_health(statuses, since, NOW, HealthPolicy())
    assert plan.waiting == ["worker-1"] and plan.restore == ["worker-2"]
    powered = plan_health(statuses, since, NOW, HealthPolicy(power_on=True))
    assert powered.power_on == ["worker-1"] and powered.restore == ["worker-2"]


@pytest.mark.parametrize(
    ("status", "first_seen", "outcome"),
    [
        ("disk_lost", AGO[1], "restore"),  # a node's disk is its state: nothing to wait for
        ("port_group_lost", AGO[1], "restore"),  # no repair in place can work on that host
        ("network_lost", AGO[1], "waiting"),  # a NIC may be reconnecting
        ("network_lost", AGO[10], "repair"),  # then put right on the same VM
    ],
)
def test_network_and_disk_losses(status: str, first_seen: datetime.datetime, outcome: str) -> None:
    for policy in (HealthPolicy(), HealthPolicy(power_on=True)):  # power_on is about power
        plan = plan_health({**HEALTHY, "worker-1": status}, {"worker-1": first_seen}, NOW, policy)
        lists = {"restore": plan.restore, "repair": plan.repair, "waiting": plan.waiting}
        assert {k: v for k, v in lists.items() if v} == {outcome: ["worker-1"]}
        assert plan.power_on == []


def test_network_and_disk_losses_count_toward_max_unhealthy() -> None:
    statuses = {**HEALTHY, "worker-1": "disk_lost", "worker-2": "network_lost", "worker-3": "lost"}
    plan = plan_health(statuses, {}, NOW, HealthPolicy(max_unhealthy="2"))
    assert plan.restore == plan.repair == [] and "3 of 8 nodes" in (plan.held_back or "")


def test_a_node_on_a_host_in_maintenance_waits_and_is_never_powered_on() -> None:
    statuses = {**HEALTHY, "worker-1": "host_maintenance", "worker-2": "host_maintenance"}
    since = {"worker-1": AGO[1], "worker-2": AGO[10]}
    plan = plan_health(statuses, since, NOW, HealthPolicy(power_on=True))
    assert plan.waiting == ["worker-1"] and plan.restore == ["worker-2"]
    assert plan.power_on == []


def test_too_many_unhealthy_holds_everything_back() -> None:
    statuses = {**HEALTHY, **{f"worker-{i}": "lost" for i in range(1, 6)}}
    plan = plan_health(statuses, {}, NOW, HealthPolicy(max_unhealthy="50%"))
    assert plan.restore == []
    assert plan.held_back and "5 of 8 nodes are unhealthy" in plan.held_back
    assert plan_health(statuses, {}, NOW, HealthPolicy(max_unhealthy="5")).restore


def test_disabled_policy_only_reports() -> None:
    plan = plan_health({**HEALTHY, "worker-1": "lost"}, {}, NOW, HealthPolicy(enabled=False))
    assert plan.restore == [] and plan.held_back is None


@pytest.mark.parametrize(("text", "count"), [("2", 2), ("50%", 4), ("30%", 2), ("0", 0)])
def test_max_unhealthy_forms(text: str, count: int) -> None:
    assert parse_max_unhealthy(text, 8) == count


@pytest.mark.parametrize("text", ["-1", "150%", "many"])
def test_bad_max_unhealthy(text: str) -> None:
    with pytest.raises(ValueError):
        parse_max_unhealthy(text, 8)


ETCD3 = {"etcd-1": "etcd", "etcd-2": "etcd", "etcd-3": "etcd", "master-1": "master"}
STACKED3 = {"master-1": "master", "master-2": "master", "master-3": "master", "worker-1": "worker"}


def verdict(roles: dict, down: dict, policy: HealthPolicy | None = None):
    policy = policy or HealthPolicy()
    statuses = {n: down.get(n, "ready") for n in roles}
    plan = plan_health(statuses, {}, NOW, policy)
    return judge_control_plane(roles, statuses, plan, policy)


@pytest.mark.parametrize(
    ("roles", "down", "refused"),
    [
        (ETCD3, {"etcd-1": "lost"}, False),  # 2 of 3 run: a member can be added
        (ETCD3, {"etcd-1": "lost", "etcd-2": "lost"}, True),  # quorum gone
        (ETCD3, {"master-1": "lost"}, False),  # a master with external etcd
        (STACKED3, {"master-2": "lost"}, False),
        (STACKED3, {"master-2": "lost", "master-3": "lost", "worker-1": "lost"}, True),
        ({"etcd-1": "etcd", "etcd-2": "etcd", "master-1": "master"}, {"etcd-2": "lost"}, True),
        (ETCD3, {"etcd-1": "lost", "etcd-2": "booting"}, False),  # booting: it has its data
        (ETCD3, {"etcd-1": "lost", "etcd-2": "not_ready"}, True),  # within its grace period
    ],
)
def test_a_restore_needs_a_quorum_of_the_members(roles: dict, down: dict, refused: bool) -> None:
    policy = HealthPolicy(max_unhealthy="100%")
    result = verdict(roles, down, policy)
    assert (result.refusal is not None) == refused
    if refused:
        assert result.refusal.startswith("etcd has lost quorum")


def test_members_repaired_in_place_count_toward_quorum() -> None:
    down = {"etcd-1": "disk_lost", "etcd-2": "network_lost"}
    past_grace = HealthPolicy(max_unhealthy="100%", grace_period=datetime.timedelta(0))
    assert verdict(ETCD3, down, past_grace).refusal is None
    # within its grace period etcd-2 is only waited for: one member runs
    within = verdict(ETCD3, down, HealthPolicy(max_unhealthy="100%"))
    assert "2 of 3 etcd nodes are down" in (within.refusal or "")


def test_members_being_powered_on_count_toward_quorum() -> None:
    down = {"etcd-1": "lost", "etcd-2": "powered_off"}
    policy = HealthPolicy(max_unhealthy="100%", power_on=True)
    assert verdict(ETCD3, down, policy).refusal is None
    for waiting in (HealthPolicy(max_unhealthy="100%"), HealthPolicy(max_unhealthy="100%",
                    grace_period=datetime.timedelta(0))):  # fmt: skip
        # off and left off (or replaced): one member runs, etcd-1 cannot be added
        assert "2 of 3 etcd nodes are down" in (verdict(ETCD3, down, waiting).refusal or "")


@pytest.mark.parametrize(
    "roles",
    [{"master-1": "master", "worker-1": "worker"}, {"etcd-1": "etcd", "master-1": "master"}],
)
def test_the_only_member_is_rebuilt_only_when_asked(roles: dict) -> None:
    lone = next(n for n, r in roles.items() if r != "worker" and n.startswith(("etcd", "master")))
    lone = "etcd-1" if "etcd-1" in roles else lone
    refused = verdict(roles, {lone: "lost"})
    assert refused.refusal and f"only {'etcd member' if 'etcd' in lone else 'master'}" in (
        refused.refusal
    )
    assert "rebuild_lone_control_plane = true" in refused.refusal
    allowed = verdict(roles, {lone: "lost"}, HealthPolicy(rebuild_lone_control_plane=True))
    assert allowed.refusal is None and allowed.rebuild and "is gone for good" in allowed.rebuild


def test_a_lone_master_with_external_etcd_is_restored_without_asking() -> None:
    roles = {"etcd-1": "etcd", "etcd-2": "etcd", "etcd-3": "etcd", "master-1": "master"}
    result = verdict(roles, {"master-1": "lost"})
    assert result.refusal is None and result.rebuild is None


@pytest.mark.parametrize(
    ("status", "first_seen", "reset_ago", "outcome"),
    [
        ("not_ready", AGO[1], None, "waiting"),  # within the grace period
        ("not_ready", AGO[10], None, "reset"),  # then reset, as HA resets a hung VM
        ("guest_hung", AGO[10], None, "reset"),
        ("not_ready", AGO[10], 9, "waiting"),  # reset 9 min ago: its startup timeout runs
        ("not_ready", AGO[10], 10, "restore"),  # the boundary: still unwell 10m after it
        ("guest_hung", AGO[10], 11, "restore"),
        ("never_ready", AGO[1], None, "restore"),  # its startup timeout has passed already
        ("booting", AGO[10], None, "none"),  # not unhealthy
    ],
)
def test_guest_statuses_are_reset_first_then_replaced(
    status: str, first_seen: datetime.datetime, reset_ago: int | None, outcome: str
) -> None:
    resets = {} if reset_ago is None else {"worker-1": NOW - datetime.timedelta(minutes=reset_ago)}
    plan = plan_health(
        {**HEALTHY, "worker-1": status}, {"worker-1": first_seen}, NOW, HealthPolicy(), resets
    )
    lists = {"restore": plan.restore, "reset": plan.reset, "waiting": plan.waiting}
    assert {k: v for k, v in lists.items() if v} == (
        {} if outcome == "none" else {outcome: ["worker-1"]}
    )


def test_booting_nodes_do_not_count_toward_max_unhealthy() -> None:
    statuses = {**HEALTHY, "worker-1": "booting", "worker-2": "booting", "worker-3": "lost"}
    plan = plan_health(statuses, {}, NOW, HealthPolicy(max_unhealthy="1"))
    assert plan.restore == ["worker-3"] and plan.held_back is None
    statuses["worker-2"] = "not_ready"
    held = plan_health(statuses, {}, NOW, HealthPolicy(max_unhealthy="1"))
    assert held.restore == [] and "2 of 8 nodes" in (held.held_back or "")


def test_a_member_being_reset_keeps_its_data_and_counts_for_quorum() -> None:
    roles = {f"master-{i}": "master" for i in (1, 2, 3)}
    statuses = {"master-1": "lost", "master-2": "not_ready", "master-3": "ready"}
    policy = HealthPolicy(max_unhealthy="2")
    plan = plan_health(statuses, {"master-2": AGO[10]}, NOW, policy)
    assert plan.reset == ["master-2"] and plan.restore == ["master-1"]
    assert judge_control_plane(roles, statuses, plan, policy).refusal is None
