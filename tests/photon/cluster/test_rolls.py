"""Upgrades at plan: which nodes roll and in what order, kubeadm's version rules, lone etcd
members and unhealthy clusters refused with their exact diagnostics."""

from __future__ import annotations

import datetime

import pytest

from provider.bridge.diagnostics import Severity
from provider.photon.cluster.health import HealthPolicy
from provider.photon.cluster.plan import Observed, plan_nodes
from provider.photon.cluster.rolls import version_refusal

from .factories import model, node, standing

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC)


def rolled(prior_nodes: dict, **planned: object) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """The nodes a plan rolls, and its errors (summary, detail)."""
    etcd, masters = (sum(v["role"] == r for v in prior_nodes.values()) for r in ("etcd", "master"))
    counts = {"etcd_count": etcd, "etcd_ips": [f"127.0.1.{i}" for i in range(1, etcd + 1)],
              "master_count": masters,
              "master_ips": [f"127.0.1.{10 + i}" for i in range(1, masters + 1)]}  # fmt: skip
    prior = model(prior_nodes, **counts)
    node_plan = plan_nodes(prior, model(**{**counts, **planned}), Observed(), HealthPolicy(), NOW)
    errors = [(n.summary, n.detail) for n in node_plan.notes if n.severity is Severity.ERROR]
    return node_plan.roll, errors


def test_a_new_version_rolls_the_masters_first_then_the_workers_one_by_one() -> None:
    roll, errors = rolled(standing(), kubernetes_version="1.33.0")
    assert roll == ("master-1", "master-2", "master-3", "worker-1", "worker-2", "worker-3")
    assert errors == []


def test_a_new_image_rolls_etcd_members_first() -> None:
    nodes = {f"etcd-{i}": node("etcd", vm=f"vm-{i}") for i in (1, 2, 3)} | standing(workers=1)
    roll, errors = rolled(nodes, image="images/k8s-2.vmdk", worker_image="images/k8s-2.vmdk")
    assert roll[:4] == ("etcd-1", "etcd-2", "etcd-3", "master-1") and roll[-1] == "worker-1"
    assert errors == []


@pytest.mark.parametrize("version", ["1.32.9", "1.33.0", "1.33.7", "v1.33.1"])
def test_patch_releases_freely_and_one_minor_version_up(version: str) -> None:
    assert version_refusal({"master-1": "1.32.3"}, {"worker-1": "1.32.3"}, version) is None


def test_a_downgrade_is_refused_naming_both_versions() -> None:
    newer = {"worker-3": node("worker") | {"kubernetes_version": "1.32.5"}}
    _, errors = rolled(standing() | newer, kubernetes_version="1.32.4")
    assert errors == [
        (
            "Kubernetes version cannot change so",
            "Kubernetes 1.32.4 is older than 1.32.5, which worker-3 runs: kubeadm never moves a "
            "cluster down. Set kubernetes_version back to 1.32.5 or newer.",
        )
    ]


def test_a_skipped_minor_version_is_refused_naming_the_next_one() -> None:
    _, errors = rolled(standing(), kubernetes_version="1.34.1")
    assert errors == [
        (
            "Kubernetes version cannot change so",
            "Kubernetes 1.34.1 is more than one minor version ahead of 1.32.3, which master-1 "
            "runs: kubeadm moves the control plane one minor version at a time. Upgrade to "
            "1.33 first (any patch release, e.g. 1.33.0), apply, then ask for 1.34.1.",
        )
    ]


def test_a_lone_stacked_master_is_refused_and_so_is_a_lone_etcd_vm() -> None:
    _, errors = rolled({"master-1": node("master"), "worker-1": node("worker")},
                       kubernetes_version="1.33.0")  # fmt: skip
    assert [s for s, _ in errors] == ["master-1 cannot be rolled without losing the cluster"]
    assert "holds etcd's only member (etcd_count = 0, master_count = 1)" in errors[0][1]
    lone_etcd = {"etcd-1": node("etcd"), "master-1": node("master")}
    roll, errors = rolled(lone_etcd, image="images/k8s-2.vmdk")
    assert roll == ("etcd-1", "master-1")  # the master alone could roll: its state is in etcd
    assert [s for s, _ in errors] == ["etcd-1 cannot be rolled without losing the cluster"]
    roll, errors = rolled(lone_etcd, kubernetes_version="1.33.0")
    assert roll == ("master-1",) and errors == []


def test_an_unhealthy_master_that_this_plan_does_not_restore_stops_the_roll() -> None:
    nodes = standing({"master-2": "powered_off"})  # within its grace period: not restored
    prior = model(nodes)
    seen = Observed({"master-2": NOW - datetime.timedelta(seconds=10)})
    node_plan = plan_nodes(prior, model(kubernetes_version="1.33.0"), seen, HealthPolicy(), NOW)
    errors = [n for n in node_plan.notes if n.severity is Severity.ERROR]
    assert [e.summary for e in errors] == ["The cluster is not healthy enough to roll"]
    assert errors[0].detail.startswith("master-2 (powered_off): a roll replaces one node")
    long_off = Observed({"master-2": NOW - datetime.timedelta(minutes=10)})  # restored first
    node_plan = plan_nodes(prior, model(kubernetes_version="1.33.0"), long_off, HealthPolicy(), NOW)
    assert not [n for n in node_plan.notes if n.severity is Severity.ERROR]
