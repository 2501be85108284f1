"""The health policy: what a plan restores, powers on, or leaves alone."""

from __future__ import annotations

import datetime

import pytest

from provider.photon.health import HealthPolicy, parse_max_unhealthy, plan_health

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
